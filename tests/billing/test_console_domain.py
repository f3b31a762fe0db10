"""The domain the console adds to the centre: operator passwords, vending agents' floats and
the side-effect-free vend quote."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import BillingCentre, PermissionDenied, VendRefused, VendStatus, open_billing
from rig.billing.passwords import PasswordPolicyError, hash_password, verify_password
from rig.errors import BillingError

METER = "000000000042"


@pytest.fixture
def centre(tmp_path: Path):
    c = open_billing(f"sqlite:///{tmp_path / 'd.sqlite'}")
    c.register_station("DESK-1")
    c.register_station("SHOP-7")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    c.register_operator("ada", "administrator")
    c.create_tariff("RES", Decimal("0.2500"), datetime(2024, 1, 1, tzinfo=UTC))
    c.register_customer("Grace", "ACC-1")
    c.register_meter(METER, customer_account="ACC-1", profile="p", credit_unit="money_cents",
                     tariff_code="RES", key_revision=1, commissioning_energy_wh=0,
                     commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))
    c.issue_card(METER, "CARD-42")
    yield c
    c.close()


def test_password_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b and a.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct hors", a)
    assert not verify_password("correct horse", "scrypt$1$broken")
    assert not verify_password("correct horse", "pbkdf2$" + a.split("$", 1)[1])
    with pytest.raises(PasswordPolicyError, match="at least 8"):
        hash_password("short")


def test_authenticate_audits_logins_and_never_stores_the_password(
        centre: BillingCentre, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    centre.set_password("carol", "carol-secret-1")
    assert centre.authenticate("carol", "carol-secret-1").role.value == "cashier"
    assert centre.authenticate("carol", "wrong-password") is None
    assert centre.authenticate("nobody", "carol-secret-1") is None
    assert centre.authenticate("sam", "anything-at-all") is None  # no password set
    actions = [(e.action, e.actor) for e in centre.audit_log("operator")]
    assert ("operator.login", "carol") in actions
    assert ("operator.login_failed", "carol") in actions
    everything = repr(centre.audit_log()) + caplog.text
    assert "carol-secret-1" not in everything and "wrong-password" not in everything


def test_only_an_administrator_sets_someone_elses_password(centre: BillingCentre) -> None:
    with pytest.raises(PermissionDenied):
        centre.set_password("sam", "new-password-1", actor="carol")
    centre.set_password("carol", "my-own-password", actor="carol")
    centre.set_password("sam", "given-by-admin", actor="ada")
    assert centre.authenticate("sam", "given-by-admin") is not None
    with pytest.raises(BillingError, match="at least 8"):
        centre.set_password("sam", "short", actor="ada")


def test_quote_prices_like_a_vend_and_keeps_nothing(centre: BillingCentre) -> None:
    events = len(centre.audit_log())
    quote = centre.quote_vend(METER, Decimal("20.00"), station="DESK-1", operator="carol")
    assert centre.vends_for_meter(METER) == [] and centre.meter(METER).last_sequence == 0
    assert len(centre.audit_log()) == events
    vend = centre.vend(METER, Decimal("20.00"), request_id="r1", station="DESK-1",
                       operator="carol")
    assert (quote.receipt, quote.credit, quote.sequence) == (vend.receipt, vend.credit, 1)
    with pytest.raises(VendRefused) as refused:
        centre.quote_vend(METER, Decimal("5.00"), station="DESK-1", operator="carol")
    assert refused.value.reason == "unapplied_purchase"


def test_agent_float_is_drawn_refused_beyond_the_limit_and_refunded(
        centre: BillingCentre) -> None:
    centre.register_agent("Corner Shop", Decimal("5.00"), actor="ada")
    centre.assign_agent_station("Corner Shop", "SHOP-7", actor="ada")
    with pytest.raises(PermissionDenied):
        centre.top_up_agent("Corner Shop", Decimal("10.00"), actor="carol")
    centre.top_up_agent("Corner Shop", Decimal("10.00"), actor="sam", reference="R-1")
    with pytest.raises(VendRefused) as refused:
        centre.vend(METER, Decimal("15.01"), request_id="r1", station="SHOP-7", operator="carol")
    assert refused.value.reason == "agent_float_exceeded"
    assert "15.00 available" in str(refused.value)
    assert centre.meter(METER).last_sequence == 0  # the refusal used no sequence
    vend = centre.vend(METER, Decimal("12.50"), request_id="r2", station="SHOP-7",
                       operator="carol")
    assert centre.agent("Corner Shop").balance == Decimal("-2.50")
    assert centre.agent("Corner Shop").available == Decimal("2.50")
    centre.reverse_vend(vend.vend_id, operator="sam", reason="card never written")
    lines = [(e.kind, e.amount, e.balance) for e in centre.agent_statement("Corner Shop")]
    assert lines == [("topup", Decimal("10.00"), Decimal("10.00")),
                     ("vend", Decimal("-12.50"), Decimal("-2.50")),
                     ("reversal", Decimal("12.50"), Decimal("10.00"))]


def test_sales_elsewhere_and_free_issues_do_not_touch_an_agent(centre: BillingCentre) -> None:
    centre.register_agent("Kiosk", Decimal("0.00"))
    centre.assign_agent_station("Kiosk", "SHOP-7")
    v = centre.vend(METER, Decimal("30.00"), request_id="r1", station="DESK-1", operator="carol")
    centre.reverse_vend(v.vend_id, operator="sam", reason="test")
    free = centre.free_issue(METER, 500, request_id="f1", station="SHOP-7", operator="sam",
                             reason="compensation")
    assert free.status is VendStatus.CREATED
    assert centre.agent("Kiosk").balance == Decimal("0.00")
    assert centre.agent_statement("Kiosk") == []
    with pytest.raises(BillingError, match="whole cents"):
        centre.top_up_agent("Kiosk", Decimal("1.005"), actor="sam")
