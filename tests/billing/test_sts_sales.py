"""The billing centre sells STS tokens to keypad meters, on SQLite and PostgreSQL: the token a
sale prints is accepted once by the emulated keypad meter (rig/sim/sts_keypad.py, the real
prepaid engine) with exactly the credit sold; TIDs stay unique per meter within one minute;
a reprint prints the same digits; a token never carries more than was paid; management and
key change tokens are a supervisor's, audited without digits or keys; the TID roll-over of a
supply group; and a serial readback reconciles with the tokens sold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rig.billing import BillingCentre, CreditUnit, ReadbackData, open_billing
from rig.billing import models as m
from rig.billing.api import create_app
from rig.billing.centre.errors import Conflict, PermissionDenied, VendRefused
from rig.billing.centre.sales import direct
from rig.billing.remote import RemoteBillingCentre
from rig.billing.sts_keys import StsKeyService
from rig.billing.types import Verdict
from rig.errors import BillingError
from rig.profile import load_profile
from rig.sim.prepaid import PrepaidEngine
from rig.sim.sts_keypad import StsKeypad, TokenResult, lab_setup
from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.identity import StsSection
from rig.sts.keys import Encryption
from rig.sts.token import grouped
from tests.billing.api_helpers import Clock
from tests.billing.live_server import serving

METER = "000010020001"
PAN = "600727000000000009"
PROFILE = "iec62056-1p-energy"
NOW = datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def centre(billing_url: str, clock: Clock) -> Iterator[BillingCentre]:
    c = open_billing(billing_url, clock=clock, sts_keys=StsKeyService.public_test_keys())
    c.register_operator("ann", "administrator")
    c.register_operator("sam", "supervisor")
    c.register_operator("carol", "cashier")
    c.register_station("DESK-1")
    c.register_customer("Ada", "ACC-1")
    c.create_tariff("RES", Decimal("0.1500"), datetime(2024, 1, 1, tzinfo=UTC))
    register(c, METER)
    c.register_sts_meter(METER, {"pan": PAN, "supply_group": "123456", "base_date": 2014},
                         actor="ann")
    yield c
    c.close()


def register(c: BillingCentre, meter_no: str, unit: CreditUnit = CreditUnit.ENERGY_WH) -> None:
    c.register_meter(meter_no, customer_account="ACC-1", profile=PROFILE, credit_unit=unit,
                     tariff_code="RES", key_revision=1, commissioning_energy_wh=0,
                     commissioned_at=NOW, hoarding_limit=None)


def keypad_meter() -> tuple[StsKeypad, PrepaidEngine]:
    """The emulated keypad meter of the profile, commissioned with the lab test keys (the
    same public keys the centre's key service holds here)."""
    profile = load_profile(PROFILE)
    engine = PrepaidEngine(profile)
    setup = lab_setup(profile)
    assert setup is not None
    return setup.keypad_for(engine), engine


def sell(c: BillingCentre, rid: str, amount: str = "20.00"):
    return c.vend(METER, Decimal(amount), request_id=rid, station="DESK-1", operator="carol")


def test_a_sale_is_a_token_the_meter_accepts_once_with_the_credit_sold(
        centre: BillingCentre) -> None:
    sale = sell(centre, "r-1")
    assert sale.token is not None and len(sale.token) == 20 and sale.card_serial == ""
    keypad, engine = keypad_meter()
    first = keypad.enter(sale.token, NOW)
    assert first.result is TokenResult.ACCEPT
    assert first.credit * 1000 == sale.credit  # kWh on the meter == Wh sold, exactly
    assert engine.remaining == Decimal(sale.credit) / 1000
    assert keypad.enter(sale.token, NOW).result is TokenResult.USED
    assert engine.purchase_count == 1
    # no card is needed and an unapplied token does not block the next sale
    assert sell(centre, "r-2").token not in (None, sale.token)


def test_two_sales_in_one_minute_and_a_clock_set_back_get_later_tids(
        centre: BillingCentre, clock: Clock) -> None:
    first, second = sell(centre, "r-1"), sell(centre, "r-2")
    clock.now = NOW - timedelta(minutes=30)  # the centre's clock set back
    third = sell(centre, "r-3")
    tids = [t.tid for t in centre.sts_tokens(METER)]
    assert tids[0] is not None and tids == sorted(set(tids)) and len(tids) == 3
    assert tids[1] == tids[0] + 1 and tids[2] == tids[1] + 1  # the next free minute
    keypad, engine = keypad_meter()
    for sale in (first, second, third):
        assert keypad.enter(sale.token or "", NOW).result is TokenResult.ACCEPT
    assert engine.purchase_count == 3


def test_a_reprint_prints_the_very_token_and_a_retry_returns_it(centre: BillingCentre) -> None:
    sale = sell(centre, "r-1")
    assert sale.token is not None
    text = centre.reprint(sale.vend_id, operator="carol")
    assert grouped(sale.token) in text and "REPRINT 1" in text
    assert sell(centre, "r-1").token == sale.token  # idempotent retry: same vend, same token
    assert centre.vend_by_id(sale.vend_id).token == sale.token


def test_the_token_never_carries_more_than_paid_and_the_rest_is_change(
        centre: BillingCentre) -> None:
    centre.create_tariff("RES", Decimal("0.0100"), NOW - timedelta(days=1), actor="ann")
    sale = sell(centre, "r-1")
    # 20.00 at 0.01/kWh buys 2000 kWh = 20 000 steps of 0.1 kWh; above 16 383 the mantissa
    # counts in tens: 19 994 steps (1999.4 kWh) is the most the token carries
    assert sale.credit == 1_999_400
    lines = {line.label: line.amount for line in sale.receipt}
    assert lines["energy"] == Decimal("19.99") and lines["change_out"] == Decimal("0.01")
    assert sum(line.amount for line in sale.receipt) == Decimal("20.00")
    ident = centre.sts_identity(METER)
    assert ident is not None
    key = StsKeyService.public_test_keys().decoder_key(ident)
    said = tokens.describe(tk.decode(sale.token or "", key, Encryption.STA), 2014)
    assert said["amount"] == "1999.4" and said["unit"] == "kWh"  # (the meter's hoarding
    # limit, 999.999 kWh, would refuse it: Overflow)
    # the change is spent on the next purchase
    nxt = sell(centre, "r-2", "1.00")
    assert {line.label: line.amount for line in nxt.receipt}["change_in"] == Decimal("-0.01")


def test_registration_checks_the_identity_and_who_registers(centre: BillingCentre) -> None:
    register(centre, "000010020002")
    with pytest.raises(BillingError, match=r"pan: '600727000000000008'.*Luhn check digit"):
        centre.register_sts_meter("000010020002", {"pan": "600727000000000008",
                                                   "supply_group": "123456"}, actor="ann")
    with pytest.raises(BillingError, match=r"supply_group: '12345'.*6 decimal digits"):
        centre.register_sts_meter("000010020002", {"pan": PAN[:-1] + "9",
                                                   "supply_group": "12345"}, actor="ann")
    with pytest.raises(Conflict, match="already registered to another meter"):
        centre.register_sts_meter("000010020002", {"pan": PAN, "supply_group": "123456"},
                                  actor="ann")
    with pytest.raises(PermissionDenied, match="only an administrator"):
        centre.register_sts_meter("000010020002", {"pan": "000001000000000082",
                                                   "supply_group": "123456"}, actor="sam")
    register(centre, "000010020003", CreditUnit.MONEY_CENTS)
    with pytest.raises(BillingError, match="whole cents"):
        centre.register_sts_meter("000010020003", {"pan": "000001000000000082",
                                                   "supply_group": "123456"}, actor="ann")
    assert centre.sts_identity("000010020002") is None
    assert centre.sts_identity(METER) == StsSection(pan=PAN, supply_group="123456",
                                                    base_date=2014)


def test_a_token_sale_cannot_be_reversed(centre: BillingCentre) -> None:
    sale = sell(centre, "r-1")
    with pytest.raises(Conflict, match="cannot be taken back"):
        centre.reverse_vend(sale.vend_id, operator="sam", reason="customer changed mind")


def test_management_tokens_are_a_supervisors_and_audited_without_digits_or_keys(
        centre: BillingCentre) -> None:
    with pytest.raises(PermissionDenied, match="cashier"):
        centre.sts_management_token(METER, "power_limit", 1000, operator="carol")
    with pytest.raises(BillingError, match="a token carries 16384 W or 16394 W"):
        centre.sts_management_token(METER, "power_limit", 16385, operator="sam")
    limit = centre.sts_management_token(METER, "power_limit", 1000, operator="sam")
    tamper = centre.sts_management_token(METER, "clear_tamper", operator="sam")
    sale = sell(centre, "r-1")
    keypad, engine = keypad_meter()
    assert keypad.enter(limit.digits, NOW).result is TokenResult.ACCEPT
    assert engine.profile.power_limit is not None
    assert engine.profile.power_limit.max_power_w == 1000
    assert keypad.enter(tamper.digits, NOW).result is TokenResult.ACCEPT
    assert keypad.enter(sale.token or "", NOW).result is TokenResult.ACCEPT
    clear = centre.sts_management_token(METER, "clear_credit", operator="sam")
    assert keypad.enter(clear.digits, NOW).result is TokenResult.ACCEPT
    assert engine.remaining == 0
    with centre.transaction("read audit") as s:
        events = s.scalars(select(m.AuditEvent)).all()
    dump = json.dumps([[e.action, e.before, e.after] for e in events])
    assert {"sts.power_limit", "sts.clear_tamper", "sts.credit", "sts.clear_credit"} <= {
        e.action for e in events}
    key = StsKeyService.public_test_keys().decoder_key(centre.sts_identity(METER))
    for secret in (limit.digits, tamper.digits, clear.digits, sale.token or "", key.hex(),
                   key.hex().upper(), "abababababababab"):
        assert secret not in dump
    assert centre.verify_audit_chain().ok


def test_a_key_change_set_then_sales_under_the_new_key(centre: BillingCentre) -> None:
    with pytest.raises(PermissionDenied):
        centre.sts_key_change(METER, operator="carol", key_revision=2)
    old_sale = sell(centre, "r-1")
    change = centre.sts_key_change(METER, operator="sam", key_revision=2)
    assert [t.position for t in change] == [1, 2]
    new_sale = sell(centre, "r-2")
    keypad, _ = keypad_meter()
    assert keypad.enter(new_sale.token or "", NOW).result is TokenResult.CRC  # not yet
    assert keypad.enter(old_sale.token or "", NOW).result is TokenResult.ACCEPT
    assert keypad.enter(change[0].digits, NOW).result is TokenResult.KCT_1
    assert keypad.enter(change[1].digits, NOW).result is TokenResult.ACCEPT
    assert keypad.key_revision == 2
    assert keypad.enter(new_sale.token or "", NOW).result is TokenResult.ACCEPT
    assert centre.sts_identity(METER).key_revision == 2  # type: ignore[union-attr]


def test_the_tid_rollover_of_a_supply_group(centre: BillingCentre) -> None:
    register(centre, "000010020009")
    centre.register_sts_meter("000010020009", {"pan": "000001000000000082",
                                               "supply_group": "654321", "base_date": 1993},
                              actor="ann")
    with pytest.raises(VendRefused, match="ended at 2024-11-24T20:15") as refused:
        centre.vend("000010020009", Decimal("20.00"), request_id="r-old", station="DESK-1",
                    operator="carol")
    assert refused.value.reason == "sts_tid_exhausted"
    moved = centre.sts_rollover("654321", operator="sam")
    assert list(moved) == ["000010020009"] and len(moved["000010020009"]) == 2
    assert centre.sts_rollover("654321", operator="sam") == {}  # already on 2014
    ident = centre.sts_identity("000010020009")
    assert ident is not None and ident.base_date == 2014 and ident.key_revision == 2
    after = centre.vend("000010020009", Decimal("20.00"), request_id="r-new",
                        station="DESK-1", operator="carol")
    # the meter, still on its 1993 key, takes the roll-over set, then the new token
    old = StsSection(pan="000001000000000082", supply_group="654321", base_date=1993)
    engine = PrepaidEngine(load_profile(PROFILE))
    keypad = replace(lab_setup(load_profile(PROFILE)),  # type: ignore[type-var]
                     decoder_key=StsKeyService.public_test_keys().decoder_key(old),
                     base_year=1993).keypad_for(engine)
    for t in moved["000010020009"]:
        assert keypad.enter(t.digits, NOW).accepted
    assert keypad.base_year == 2014
    assert keypad.enter(after.token or "", NOW).result is TokenResult.ACCEPT


def _serial(engine: PrepaidEngine, energy_wh: int, **over: object) -> ReadbackData:
    values: dict[str, object] = dict(
        meter_no=METER, energy_wh=energy_wh, remaining=int(engine.remaining * 1000),
        overdraft=int(engine.overdraft * 1000), purchase_count=engine.purchase_count,
        last_sequence=0, cumulative_purchase=int(engine.cumulative_purchase * 1000),
        credit_unit="energy_wh", relay_open=False, alarm_active=False, alarm_count=0,
        cutoff_count=0, tamper_count=0, power_down_count=0, timestamp=NOW, tariff_version=1)
    values.update(over)
    return ReadbackData(**values)  # type: ignore[arg-type]


def test_a_serial_readback_reconciles_with_the_tokens_sold(centre: BillingCentre) -> None:
    first, second = sell(centre, "r-1"), sell(centre, "r-2")
    keypad, engine = keypad_meter()
    assert keypad.enter(first.token or "", NOW).accepted
    engine.credit -= Decimal("1.5")  # the meter used 1.5 kWh
    result = centre.ingest_serial_readback(_serial(engine, 1500), station="DESK-1")
    assert result.verdict is Verdict.BALANCED, result.evidence["failed"]
    assert result.confirmed_vend_ids == (first.vend_id,)
    source = {c.name: c for c in result.checks}["readback_source"]
    assert source.actual == "serial: not MAC-protected"
    assert result.evidence["source"]["mac_protected"] is False
    with centre.transaction("read") as s:
        row = s.get(m.ReadbackSource, result.readback_id)
        assert row is not None and row.source == "serial" and not row.mac_protected
        assert s.get(m.Readback, result.readback_id).mac_verified is False  # type: ignore
    # the second token typed: a readback that does not add up is a stored mismatch
    assert keypad.enter(second.token or "", NOW).accepted
    short = centre.ingest_serial_readback(
        _serial(engine, 1500, cumulative_purchase=first.credit), station="DESK-1")
    assert short.verdict is Verdict.MISMATCH and "purchase_total" in short.evidence["failed"]
    queue = centre.reconciliation_exceptions()
    assert short.reconciliation_id in [r.reconciliation_id for r in queue]


def test_a_card_meters_readback_does_not_come_over_the_serial_port(
        centre: BillingCentre) -> None:
    register(centre, "000010020005")
    _, engine = keypad_meter()
    with pytest.raises(BillingError, match="takes cards"):
        centre.ingest_serial_readback(_serial(engine, 0, meter_no="000010020005"),
                                      station="DESK-1")


def test_the_api_serves_the_sts_desk_by_role(centre: BillingCentre) -> None:
    tokens = {name: centre.create_api_token(name, actor="ann", stations=["DESK-1"]).secret
              for name in ("ann", "sam", "carol")}

    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    register(centre, "000010020007")
    with TestClient(create_app(centre)) as client:
        bad = client.put("/meters/000010020007/sts", headers=auth("ann"),
                         json={"pan": "000001000000000083", "supply_group": "123456"})
        assert bad.status_code == 400 and "Luhn" in bad.json()["detail"]
        assert client.put("/meters/000010020007/sts", headers=auth("sam"), json={
            "pan": "000001000000000082", "supply_group": "123456"}).status_code == 403
        ok = client.put("/meters/000010020007/sts", headers=auth("ann"),
                        json={"pan": "000001000000000082", "supply_group": "123456"})
        assert ok.status_code == 200 and ok.json()["pan"] == "000001000000000082"
        assert client.post(f"/meters/{METER}/sts/tokens", headers=auth("carol"),
                           json={"kind": "clear_tamper"}).status_code == 403
        made = client.post(f"/meters/{METER}/sts/tokens", headers=auth("sam"),
                           json={"kind": "power_limit", "value": 2000})
        assert made.status_code == 201 and len(made.json()["digits"]) == 20
        centre.open_session("carol", "DESK-1")
        sold = client.post("/vends", headers=auth("carol"), json={
            "meter_no": METER, "amount": "5.00", "request_id": "api-1", "station": "DESK-1"})
        assert sold.status_code == 201 and len(sold.json()["token"]) == 20
        keys = client.post(f"/meters/{METER}/sts/key-change", headers=auth("sam"),
                           json={"key_revision": 3})
        assert keys.status_code == 201 and len(keys.json()) == 2
        keypad, engine = keypad_meter()
        assert keypad.enter(sold.json()["token"], NOW).accepted
        body = {k: v for k, v in asdict(_serial(engine, 0)).items() if k != "mac_verified"}
        body |= {"timestamp": NOW.isoformat(), "credit_unit": "energy_wh"}
        read = client.post("/sts/readbacks?station=DESK-1", headers=auth("carol"), json=body)
        assert read.status_code == 201, read.text
        assert read.json()["verdict"] == "balanced"
        assert client.post("/sts/readbacks?station=DESK-1", headers=auth("carol"),
                           json=body | {"mac_verified": True}).status_code == 422


def test_stations_selling_at_once_get_distinct_tids(billing_url: str, clock: Clock) -> None:
    """Four stations sell to one keypad meter at the same instant (threads, separate
    connections): every sale gets its own TID and every token is accepted once."""
    import threading

    with open_billing(billing_url, clock=clock,
                      sts_keys=StsKeyService.public_test_keys()) as c:
        c.register_operator("carol", "cashier")
        for n in range(4):
            c.register_station(f"DESK-{n}")
        c.register_customer("Ada", "ACC-1")
        c.create_tariff("RES", Decimal("0.1500"), datetime(2024, 1, 1, tzinfo=UTC))
        register(c, METER)
        c.register_sts_meter(METER, {"pan": PAN, "supply_group": "123456", "base_date": 2014})
        errors: list[BaseException] = []

        def station(n: int) -> None:
            try:
                for k in range(5):
                    c.vend(METER, Decimal("5.00"), request_id=f"s{n}-{k}",
                           station=f"DESK-{n}", operator="carol")
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=station, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        made = c.sts_tokens(METER)
    tids = [t.tid for t in made]
    assert len(made) == 20 and len(set(tids)) == 20  # all in the same minute of the clock
    keypad, engine = keypad_meter()
    assert all(keypad.enter(t.digits, NOW).result is TokenResult.ACCEPT
               for t in sorted(made, key=lambda t: t.tid or 0))
    assert engine.purchase_count == 20


def test_the_served_centres_client_runs_the_sts_desk(centre: BillingCentre) -> None:
    """RemoteBillingCentre over a real uvicorn server: the same identities, tokens and
    refusals as the local centre (what `rig run --medium token --billing-url` needs)."""
    admin = centre.create_api_token("ann", actor="ann", stations=["DESK-1"]).secret
    cashier = centre.create_api_token("carol", actor="ann", stations=["DESK-1"]).secret
    register(centre, "000010020007")
    with serving(centre) as url, RemoteBillingCentre(url, admin) as remote:
        with pytest.raises(BillingError, match=r"pan: .*Luhn"):
            remote.register_sts_meter("000010020007", {"pan": "000001000000000083",
                                                       "supply_group": "123456"})
        with pytest.raises(PermissionDenied):  # the server's rule: a supervisor may not
            remote.register_sts_meter("000010020007", {"pan": "000001000000000082",
                                                       "supply_group": "123456"}, actor="sam")
        ident = remote.register_sts_meter("000010020007", {"pan": "000001000000000082",
                                                           "supply_group": "123456"})
        assert ident == centre.sts_identity("000010020007") == remote.sts_identity(
            "000010020007")
        assert remote.sts_identity("000010020001") == centre.sts_identity(METER)
        with pytest.raises(Conflict):
            remote.register_sts_meter("000010020007", ident)
        limit = remote.sts_management_token(METER, "power_limit", 1000, operator="sam")
        with pytest.raises(BillingError, match="a token carries 16384 W or 16394 W"):
            remote.sts_management_token(METER, "power_limit", 16385, operator="sam")
        centre.open_session("carol", "DESK-1")
        sale = remote.vend(METER, Decimal("5.00"), request_id="rm-1", station="DESK-1",
                           operator="carol")
        change = remote.sts_key_change(METER, operator="sam", key_revision=2)
        assert [t.position for t in change] == [1, 2]
        assert remote.sts_tokens(METER) == centre.sts_tokens(METER)
        moved = remote.sts_rollover("123456", operator="sam")  # the 1993 meter only
        assert list(moved) == ["000010020007"] and len(moved["000010020007"]) == 2
        assert remote.sts_identity("000010020007").base_date == 2014  # type: ignore[union-attr]
        keypad, engine = keypad_meter()
        for t in (limit.digits, sale.token or "", change[0].digits, change[1].digits):
            assert keypad.enter(t, NOW).accepted
        assert keypad.key_revision == 2
        read = remote.ingest_serial_readback(_serial(engine, 0), station="DESK-1")
        assert read.verdict is Verdict.BALANCED and read.confirmed_vend_ids == (sale.vend_id,)
        assert read.evidence["source"]["mac_protected"] is False
    with serving(centre) as url, RemoteBillingCentre(url, cashier) as remote:
        with pytest.raises(PermissionDenied):
            remote.sts_management_token(METER, "clear_tamper", operator="carol")
        with pytest.raises(PermissionDenied):
            remote.sts_tokens(METER)  # bearer credentials: supervisors only


def test_a_token_sale_takes_the_direct_path_and_a_debt_sale_the_orm(
        centre: BillingCentre) -> None:
    """A token sale is written as a card sale is (bench/sts_sales.py: the speed): straight on
    the DBAPI connection, the STS row, its TID and the token in the sale's transaction, the
    ``sts.credit`` event chained after ``vend.create``; a sale that needs the ORM (a debt to
    recover) makes the same token there."""
    sell(centre, "warm-up")  # a tariff version's first sale reads it through the ORM
    seen: list[int] = []
    direct.observe(centre.engine, lambda: seen.append(1))
    sale = sell(centre, "r-1")
    # context, meter, vend, STS row, its TID, the token, the two audit events; both sides of
    # the commit. PostgreSQL also locks the meter row, takes the chain's lock, reads its head.
    assert len(seen) == (13 if centre.engine.dialect.name == "postgresql" else 10)
    assert sale.token == centre.sts_tokens(METER)[-1].digits
    centre.add_debt(METER, Decimal("3.00"), "arrears", recovery_percent=Decimal("50"),
                    operator="sam")
    with_debt = sell(centre, "r-2", "10.00")
    keypad, engine = keypad_meter()
    for v in (sale, with_debt):
        assert keypad.enter(v.token or "", NOW).result is TokenResult.ACCEPT
    assert engine.remaining * 1000 == sale.credit + with_debt.credit
    actions = [e.action for e in centre.audit_log() if e.action in ("vend.create", "sts.credit")]
    assert actions == ["vend.create", "sts.credit"] * 3
    assert centre.verify_audit_chain().ok


def test_a_keypad_meters_hoarding_estimate_uses_its_serial_readback(
        centre: BillingCentre) -> None:
    """No card brings a keypad meter's balance back with a MAC: its serial readback's balance
    is used, and the estimate says it is not MAC-protected. Without it, a token confirmed by
    the readback would drop out of the estimate and the centre would sell what the meter
    refuses (Overflow)."""
    centre.set_hoarding_limit(METER, 50_000)  # Wh
    first = sell(centre, "r-1", "3.00")  # 20 kWh at 0.15
    assert first.credit == 20_000
    assert centre.hoarding(METER).estimate == 20_000  # unconfirmed: no readback yet
    assert "no readback yet" in centre.hoarding(METER).basis
    keypad, engine = keypad_meter()
    assert keypad.enter(first.token or "", NOW).accepted
    engine.credit -= Decimal("1.5")  # the meter used 1.5 kWh
    read = centre.ingest_serial_readback(_serial(engine, 1500), station="DESK-1")
    assert read.confirmed_vend_ids == (first.vend_id,)
    h = centre.hoarding(METER)
    assert (h.estimate, h.room) == (18_500, 31_500)  # the meter's balance, the token in it
    assert f"serial readback #{read.readback_id}" in h.basis and "not MAC-protected" in h.basis
    with pytest.raises(VendRefused, match="serial one, not MAC-protected") as refused:
        sell(centre, "r-2", "5.00")  # 33.3 kWh on top of 18.5 kWh: over 50 kWh
    assert refused.value.reason == "hoarding_limit"
    second = sell(centre, "r-3", "4.50")  # 30 kWh: 48.5 kWh in all, allowed
    assert centre.hoarding(METER).estimate == 18_500 + second.credit
    assert keypad.enter(second.token or "", NOW).accepted  # the meter takes it, as estimated


def test_a_money_meter_gets_a_currency_token_carrying_exactly_what_is_charged(
        centre: BillingCentre) -> None:
    """A currency token (class 0 subclass 4) for a money meter whose token step is a cent
    (the profile dlt645-1p-money-sts): the same pricing, never more than paid — what the
    14-bit mantissa cannot count stays change — and the emulated keypad meter takes exactly
    the credit charged."""
    profile = load_profile("dlt645-1p-money-sts")
    assert profile.sts is not None and profile.sts.currency_step == Decimal("0.01")
    meter_no = profile.protocol.address
    register(centre, meter_no, CreditUnit.MONEY_CENTS)
    centre.register_sts_meter(meter_no, profile.sts, actor="ann")
    engine = PrepaidEngine(profile)
    setup = lab_setup(profile)
    assert setup is not None
    keypad = setup.keypad_for(engine)

    def buy(rid: str, amount: str):
        return centre.vend(meter_no, Decimal(amount), request_id=rid, station="DESK-1",
                           operator="carol")

    small = buy("m-1", "20.00")  # 2000 steps: exact
    assert (small.credit, small.token is not None) == (2000, True)
    big = buy("m-2", "200.00")  # 20000 steps: above 16383 the mantissa counts tens
    lines = {line.label: line.amount for line in big.receipt}
    assert big.credit == 19994 and lines["credit"] == Decimal("199.94")
    assert lines["change_out"] == Decimal("0.06")
    assert sum(lines.values()) == Decimal("200.00")  # the receipt sums to what was paid
    for sale, credit in ((small, "20.00"), (big, "199.94")):
        before = engine.remaining
        typed = keypad.enter(sale.token or "", NOW)
        assert typed.result is TokenResult.ACCEPT, typed
        assert typed.credit == Decimal(sale.credit) * Decimal("0.00001")  # the token's unit
        assert engine.remaining - before == Decimal(credit)  # exactly the credit charged
    (credit_token,) = [t for t in centre.sts_tokens(meter_no) if t.vend_id == big.vend_id]
    assert credit_token.value == "199.94"
    nxt = buy("m-3", "10.00")  # the change is spent on the next purchase
    assert {line.label: line.amount for line in nxt.receipt}["change_in"] == Decimal("-0.06")
    assert nxt.credit == 1006
    # a money meter whose token step is not whole cents cannot take its tokens exactly
    register(centre, "000010020004", CreditUnit.MONEY_CENTS)
    with pytest.raises(BillingError, match=r"currency_step: .*whole cents"):
        centre.register_sts_meter("000010020004", profile.sts.model_copy(update={
            "pan": "000001000000000082", "currency_step": Decimal("0.00001")}), actor="ann")
