"""RemoteBillingCentre against a real server: same types and exceptions as the local centre,
tokens minted per operator (and revoked), no rule decided on the client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from rig.billing import (
    BillingCentre,
    Conflict,
    CreditUnit,
    NotFound,
    PermissionDenied,
    ReadbackData,
    VendRefused,
    VendStatus,
    Verdict,
    open_billing,
)
from rig.billing.remote import RemoteBillingCentre
from rig.errors import BillingError
from tests.billing.api_helpers import (
    CARD,
    E0,
    KEY_REVISION,
    METER,
    STATION,
    T0,
    Seed,
    clock,
    seed,
)
from tests.billing.ledger import genuine
from tests.billing.live_server import serving


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    """On SQLite and on PostgreSQL (tests/billing/conftest.py)."""
    c = open_billing(billing_url, clock=clock())
    yield c
    c.close()


@pytest.fixture
def served(centre: BillingCentre) -> Iterator[tuple[str, Seed]]:
    env = seed(centre)
    with serving(centre) as url:
        yield url, env


def test_vend_write_readback_as_a_local_centre_would(served, centre: BillingCentre) -> None:
    url, env = served
    with RemoteBillingCentre(url, env.tokens["cashier"]) as remote:
        assert remote.operator.name == "carol"
        assert remote.limits == centre.limits  # exact Decimals, as the scenarios read them
        v = remote.vend(METER, Decimal("10.00"), request_id="rm-1", station=STATION,
                        operator="carol")
        assert v == centre.vend_by_id(v.vend_id)  # identical dataclass, exact Decimals
        remote.mark_written(v.vend_id)
        assert remote.vend_by_id(v.vend_id).status is VendStatus.WRITTEN
        data = ReadbackData(
            meter_no=METER, energy_wh=E0 + 2000, remaining=970, overdraft=0, purchase_count=1,
            last_sequence=1, cumulative_purchase=1000, credit_unit=CreditUnit.MONEY_CENTS,
            relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0,
            tamper_count=0, power_down_count=0, timestamp=T0 + timedelta(days=10),
            tariff_version=1)
        result = remote.ingest_readback(data, card_serial=CARD, raw=genuine(data, KEY_REVISION))
        assert result.verdict is Verdict.BALANCED and result.confirmed_vend_ids == (v.vend_id,)
        assert remote.latest_reconciliation(METER).reconciliation_id == result.reconciliation_id
        assert [x.status for x in remote.vends_for_meter(METER)] == [VendStatus.CONFIRMED]


def test_errors_come_back_as_the_service_exceptions(served) -> None:
    url, env = served
    with RemoteBillingCentre(url, env.tokens["cashier"]) as remote:
        remote.vend(METER, Decimal("10.00"), request_id="e-1", station=STATION, operator="carol")
        with pytest.raises(VendRefused) as refused:
            remote.vend(METER, Decimal("5.00"), request_id="e-2", station=STATION,
                        operator="carol")
        assert refused.value.reason == "unapplied_purchase"
        with pytest.raises(NotFound, match="000000000404 is not registered"):
            remote.meter("000000000404")
        with pytest.raises(PermissionDenied, match="changing tariffs needs an administrator"):
            remote.create_tariff("RES", Decimal("0.2"), T0)
        with pytest.raises(PermissionDenied, match="acting as 'sam' needs"):
            remote.reverse_vend(1, operator="sam", reason="x")
        with pytest.raises(BillingError, match=r"body\.amount"):
            remote.vend(METER, 10.5, request_id="e-3", station=STATION,  # type: ignore[arg-type]
                        operator="carol")
    with pytest.raises(PermissionDenied, match="unknown or revoked"):
        RemoteBillingCentre(url, "rig_wrong")
    with pytest.raises(BillingError, match="did not answer"):
        RemoteBillingCentre("http://127.0.0.1:9", env.tokens["cashier"])


def test_an_administrator_client_acts_as_each_operator_with_its_own_token(
        served, centre: BillingCentre) -> None:
    url, env = served
    with RemoteBillingCentre(url, env.tokens["administrator"]) as remote:
        with pytest.raises(Conflict, match="already exists"):
            remote.register_station(STATION)
        v = remote.vend(METER, Decimal("10.00"), request_id="a-1", station=STATION,
                        operator="carol")
        assert v.operator == "carol"
        with pytest.raises(PermissionDenied, match="'carol' is a cashier"):
            remote.reverse_vend(v.vend_id, operator="carol", reason="oops")
        reversed_ = remote.reverse_vend(v.vend_id, operator="sam", reason="writer jammed")
        assert reversed_.status is VendStatus.REVERSED
        live = [t for t in centre.api_tokens() if t.revoked_at is None]
        assert {t.operator for t in live} >= {"carol", "sam"}
    minted = [t for t in centre.api_tokens() if t.label == "remote billing client"]
    assert {t.operator for t in minted} == {"carol", "sam"}
    assert all(t.revoked_at is not None for t in minted)
    actors = {(e.actor, e.action) for e in centre.audit_log()}
    assert ("carol", "vend.create") in actors and ("sam", "vend.reverse") in actors


def test_connect_billing_picks_local_or_served_and_finds_the_token(
        served, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rig.billing.connect import TOKEN_ENV, connect_billing

    url, env = served
    local = connect_billing(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert isinstance(local, BillingCentre)
    local.close()
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(BillingError, match="needs an API token"):
        connect_billing(url)
    token_file = tmp_path / "token"
    token_file.write_text(env.tokens["supervisor"] + "\n")
    with connect_billing(url, token_file=token_file) as remote:
        assert isinstance(remote, RemoteBillingCentre) and remote.operator.name == "sam"
    with pytest.raises(BillingError, match="cannot read a token"):
        connect_billing(url, token_file=tmp_path / "missing")
    monkeypatch.setenv(TOKEN_ENV, env.tokens["cashier"])
    with connect_billing(url) as remote:
        assert remote.operator.name == "carol"
