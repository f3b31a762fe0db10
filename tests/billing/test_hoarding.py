"""The centre's hoarding check: the rule itself (property tests) and the centre refusing a
vend, free issue or quote that would take a meter's estimated credit above its limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.billing import (
    BillingCentre,
    CreditUnit,
    PermissionDenied,
    ReadbackData,
    VendRefused,
    hoarding,
    open_billing,
)
from rig.errors import BillingError
from tests.billing.ledger import Clock, ingest

T0 = datetime(2024, 1, 1, tzinfo=UTC)
METER = "000012345678"
LIMIT = 5_000  # cents


# -- the rule ---------------------------------------------------------------------------------

units = st.integers(min_value=0, max_value=10**9)


@given(limit=st.integers(min_value=1, max_value=10**9), balance=st.one_of(st.none(), units),
       unconfirmed=st.lists(st.integers(min_value=1, max_value=10**6), max_size=5),
       credit=st.integers(min_value=1, max_value=10**9))
def test_refused_exactly_when_the_estimate_plus_the_credit_exceeds_the_limit(
        limit: int, balance: int | None, unconfirmed: list[int], credit: int) -> None:
    estimated = hoarding.estimate(balance, unconfirmed)
    assert estimated == (balance or 0) + sum(unconfirmed)
    why = hoarding.refusal(METER, limit, estimated, credit, "money_cents")
    assert (why is not None) == (estimated + credit > limit)
    room = hoarding.room(limit, estimated)
    assert room is not None and room >= 0
    # the room is the most that passes: it is allowed, one more unit is not
    if room > 0:
        assert hoarding.refusal(METER, limit, estimated, room, "money_cents") is None
    assert hoarding.refusal(METER, limit, estimated, room + 1, "money_cents") is not None
    if why is not None:
        assert f"hoarding limit of {limit} cents" in why
        assert f"estimated credit on the meter {estimated} cents" in why
        assert f"at most {room} cents can be vended now" in why


@given(estimated=units, credit=st.integers(min_value=1, max_value=10**9))
def test_no_limit_is_never_refused(estimated: int, credit: int) -> None:
    assert hoarding.refusal(METER, None, estimated, credit, "energy_wh") is None
    assert hoarding.room(None, estimated) is None


def test_boundary_exactly_at_the_limit_is_allowed() -> None:
    assert hoarding.refusal(METER, 100, 60, 40, "energy_wh") is None
    why = hoarding.refusal(METER, 100, 60, 41, "energy_wh")
    assert why is not None and "at most 40 Wh" in why and "limit of 100 Wh" in why


# -- the centre -------------------------------------------------------------------------------


def start_clock() -> Clock:
    return Clock(T0 + timedelta(days=10, hours=9))


@pytest.fixture
def centre(billing_url: str) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=start_clock())
    c.register_customer("Ada Lovelace", "ACC-1")
    c.create_tariff("RES", Decimal("0.1500"), T0)
    c.register_meter(METER, customer_account="ACC-1", profile="emulated-1ph",
                     credit_unit=CreditUnit.MONEY_CENTS, tariff_code="RES", key_revision=3,
                     commissioning_energy_wh=0, commissioned_at=T0, hoarding_limit=LIMIT)
    c.issue_card(METER, "CARD-1")
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    c.register_operator("ann", "administrator")
    yield c
    c.close()


def buy(c: BillingCentre, amount: str, rid: str):
    return c.vend(METER, Decimal(amount), request_id=rid, station="DESK-1", operator="carol")


def readback(c: BillingCentre, *, remaining: int, overdraft: int = 0) -> None:
    """The card comes back: the meter applied every purchase issued and holds ``remaining``."""
    seq = c.meter(METER).last_sequence
    ingest(c, ReadbackData(
        meter_no=METER, energy_wh=0, remaining=remaining, overdraft=overdraft,
        purchase_count=seq, last_sequence=seq, cumulative_purchase=0,
        credit_unit=CreditUnit.MONEY_CENTS, relay_open=False, alarm_active=False,
        alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0,
        timestamp=T0 + timedelta(days=10), tariff_version=1))


def test_vend_up_to_the_limit_then_refused_with_limit_estimate_and_room(
        centre: BillingCentre) -> None:
    assert centre.meter(METER).hoarding_limit == LIMIT
    v = buy(centre, "30.00", "h-1")  # no readback yet: estimate 0
    assert v.credit == 3000
    readback(centre, remaining=3000)
    before = centre.meter(METER).last_sequence
    with pytest.raises(VendRefused) as refused:
        buy(centre, "20.01", "h-2")
    e = refused.value
    assert e.reason == "hoarding_limit"
    assert ("hoarding limit of 5000 cents" in str(e) and "estimated credit on the meter 3000"
            in str(e) and "at most 2000 cents can be vended now" in str(e))
    assert centre.meter(METER).last_sequence == before
    assert buy(centre, "20.00", "h-3").credit == 2000  # exactly at the limit: allowed


def test_estimate_is_latest_readback_balance_plus_unconfirmed_vends(
        centre: BillingCentre) -> None:
    h = centre.hoarding(METER)
    assert (h.limit, h.estimate, h.room) == (LIMIT, 0, LIMIT)
    v = buy(centre, "10.00", "h-1")
    assert centre.hoarding(METER).estimate == 1000  # unconfirmed vend counted
    centre.mark_written(v.vend_id)
    assert centre.hoarding(METER).estimate == 1000
    readback(centre, remaining=700)  # confirms it; the meter has spent some
    assert centre.hoarding(METER).estimate == 700
    v2 = buy(centre, "5.00", "h-2")
    assert (centre.hoarding(METER).estimate, centre.hoarding(METER).room) == (1200, 3800)
    centre.reverse_vend(v2.vend_id, operator="sam", reason="customer changed mind")
    assert centre.hoarding(METER).estimate == 700  # a reversed vend is not on the meter


def test_overdraft_is_repaid_first_so_it_makes_room(centre: BillingCentre) -> None:
    buy(centre, "1.00", "h-1")
    readback(centre, remaining=0, overdraft=500)
    assert centre.hoarding(METER).estimate == -500
    assert buy(centre, "55.00", "h-2").credit == 5500  # 5500 − 500 = 5000: at the limit


def test_quote_and_free_issue_are_refused_alike(centre: BillingCentre) -> None:
    buy(centre, "40.00", "h-1")
    readback(centre, remaining=4000)
    with pytest.raises(VendRefused, match="at most 1000 cents") as quoted:
        centre.quote_vend(METER, Decimal("10.01"), station="DESK-1", operator="carol")
    assert quoted.value.reason == "hoarding_limit"
    assert centre.quote_vend(METER, Decimal("10.00"), station="DESK-1",
                             operator="carol").credit == 1000
    with pytest.raises(VendRefused) as free:
        centre.free_issue(METER, 1001, request_id="f-1", station="DESK-1", operator="sam",
                          reason="compensation")
    assert free.value.reason == "hoarding_limit"
    assert centre.free_issue(METER, 1000, request_id="f-2", station="DESK-1", operator="sam",
                             reason="compensation").credit == 1000


def test_administrator_changes_the_limit_audited_and_none_removes_the_check(
        centre: BillingCentre) -> None:
    with pytest.raises(PermissionDenied):
        centre.set_hoarding_limit(METER, 9_000, actor="sam")
    with pytest.raises(BillingError, match="positive whole number of cents"):
        centre.set_hoarding_limit(METER, 0, actor="ann")
    assert centre.set_hoarding_limit(METER, 1_000, actor="ann").hoarding_limit == 1_000
    event = centre.audit_log("meter")[-1]
    assert (event.action, event.actor) == ("meter.hoarding_limit", "ann")
    assert (event.before["hoarding_limit"], event.after["hoarding_limit"]) == (LIMIT, 1_000)
    with pytest.raises(VendRefused, match="hoarding limit of 1000 cents"):
        buy(centre, "10.01", "h-1")
    centre.set_hoarding_limit(METER, None, actor="ann")
    assert centre.meter(METER).hoarding_limit is None
    assert centre.hoarding(METER).room is None
    assert buy(centre, "9000.00", "h-2").credit == 900_000
    assert centre.verify_audit_chain().ok


def test_register_refuses_a_bad_limit(centre: BillingCentre) -> None:
    with pytest.raises(BillingError, match="hoarding limit"):
        centre.register_meter("000012345679", customer_account="ACC-1", profile="p",
                              credit_unit="energy_wh", tariff_code="RES", key_revision=0,
                              commissioning_energy_wh=0, commissioned_at=T0, hoarding_limit=-5)


# -- REST API, remote client, CLI -------------------------------------------------------------


def test_rest_and_remote_expose_set_and_refuse(tmp_path) -> None:
    import httpx

    from rig.billing.remote import RemoteBillingCentre
    from tests.billing.api_helpers import CARD, STATION, seed
    from tests.billing.live_server import serving

    with open_billing(f"sqlite:///{tmp_path / 'api.sqlite'}", clock=start_clock()) as c:
        env = seed(c)
        with serving(c) as url, RemoteBillingCentre(url, env.tokens["administrator"]) as admin:
            other = admin.register_meter(
                "000012345679", customer_account="ACC-1", profile="p", credit_unit="energy_wh",
                tariff_code="RES", key_revision=0, commissioning_energy_wh=0,
                commissioned_at=T0, hoarding_limit=20_000)
            assert other.hoarding_limit == 20_000 == admin.meter(other.meter_no).hoarding_limit
            assert admin.meter(METER).hoarding_limit is None
            denied = httpx.put(f"{url}/meters/{METER}/hoarding-limit", timeout=60,
                               json={"hoarding_limit": 1000}, headers=env.auth("supervisor"))
            assert denied.status_code == 403
            bad = httpx.put(f"{url}/meters/{METER}/hoarding-limit", timeout=60,
                            json={"hoarding_limit": 0}, headers=env.auth("administrator"))
            assert bad.status_code == 422 and "hoarding_limit" in bad.json()["detail"]
            assert admin.set_hoarding_limit(METER, 1_000).hoarding_limit == 1_000
            assert c.audit_log("meter")[-1].actor == "ann"
            with pytest.raises(VendRefused) as refused:
                admin.vend(METER, Decimal("10.01"), request_id="r-1", station=STATION,
                           operator="carol")
            assert refused.value.reason == "hoarding_limit" and "at most 1000" in str(
                refused.value)
            h = admin.hoarding(METER)
            assert (h.limit, h.estimate, h.room) == (1_000, 0, 1_000)
            v = admin.vend(METER, Decimal("10.00"), request_id="r-2", station=STATION,
                           operator="carol")
            assert v.card_serial == CARD and admin.hoarding(METER).room == 0


def test_cli_sets_shows_and_lists_the_limit(tmp_path) -> None:
    from typer.testing import CliRunner

    from rig.cli.main import app

    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    with open_billing(db) as c:
        c.register_customer("Ada Lovelace", "ACC-1")
        c.create_tariff("RES", Decimal("0.1500"), T0)
        c.register_operator("ann", "administrator")
        c.register_operator("sam", "supervisor")

    def rig(*args: str):
        return CliRunner().invoke(app, ["billing", *args, "--db", db], env={"COLUMNS": "200"})

    done = rig("meters", "add", METER, "--customer", "ACC-1", "--tariff", "RES", "--profile",
               "p", "--unit", "energy_wh", "--hoarding-limit", "20000", "--as", "ann")
    assert done.exit_code == 0 and "hoarding limit 20000" in done.stdout, done.output
    assert "20000" in rig("meters", "list").stdout
    refused = rig("meters", "hoarding-limit", METER, "15000", "--as", "sam")
    assert refused.exit_code == 3 and "administrator" in refused.stderr
    done = rig("meters", "hoarding-limit", METER, "15000", "--as", "ann")
    assert done.exit_code == 0 and "hoarding limit 15000" in done.stdout
    shown = rig("meters", "hoarding", METER)
    assert "hoarding limit 15000, estimated credit 0 Wh, can vend now 15000 Wh" in shown.stdout
    assert rig("meters", "hoarding-limit", METER, "lots").exit_code == 2
    rig("operators", "station", "DESK-1", "--as", "ann")
    rig("operators", "add", "carol", "cashier", "--as", "ann")
    rig("cards", "issue", METER, "A1B2C3D4E5F60708", "--as", "ann")
    rig("session", "open", "--station", "DESK-1", "--as", "carol")
    over = rig("vend", METER, "5000.00", "--station", "DESK-1", "--as", "carol")
    assert over.exit_code == 3, over.output  # a refusal, not a usage error (docs/billing.md)
    assert "hoarding" in over.stderr
    removed = rig("meters", "hoarding-limit", METER, "none", "--as", "ann")
    assert "hoarding limit none" in removed.stdout
