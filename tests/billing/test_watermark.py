"""Reconciliation from the settled watermark gives what a from-scratch recomputation over the
meter's whole history gives, for any history (forged, replayed, stale and beyond-issued
readbacks, reversals included); its evidence holds the vends since the watermark only, and the
watermark evidence chains every readback back to the first."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rig.billing import BillingCentre, CreditUnit, ReadbackData, VendRefused, open_billing
from rig.billing import models as m
from rig.billing.engine import alembic_config
from rig.billing.reconcile import LedgerView, reconcile
from rig.billing.types import ReconciliationResult, VendStatus
from rig.billing.watermark import Watermark, chain_breaks
from rig.sim.meter_readback import meter_readback
from tests.billing.ledger import Clock, add_meter, buy

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
T0 = datetime(2024, 3, 1, tzinfo=UTC)
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def centre(tmp_path_factory) -> BillingCentre:
    c = open_billing(f"sqlite:///{tmp_path_factory.mktemp('wm') / 'b.sqlite'}",
                     clock=Clock(T0 + timedelta(days=1)))
    c.create_tariff("RES", Decimal("0.2000"), T0)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    yield c
    c.close()


def record(meter_no: str, seq: int, *, count: int, cumulative: int, energy_wh: int,
           remaining: int, unit: CreditUnit = CreditUnit.MONEY_CENTS) -> ReadbackData:
    return ReadbackData(
        meter_no=meter_no, energy_wh=energy_wh, remaining=remaining, overdraft=0,
        purchase_count=count, last_sequence=seq, cumulative_purchase=cumulative,
        credit_unit=unit, relay_open=False, alarm_active=False, alarm_count=0, cutoff_count=0,
        tamper_count=0, power_down_count=0, timestamp=T0, tariff_version=1)


def vends_of(c: BillingCentre, meter_no: str) -> list[m.Vend]:
    with Session(c.engine) as s:
        meter_id = s.scalar(select(m.Meter.id).where(m.Meter.meter_no == meter_no))
        return list(s.scalars(select(m.Vend).where(m.Vend.meter_id == meter_id)
                              .order_by(m.Vend.sequence)))


def stored_watermark(c: BillingCentre, meter_no: str) -> m.ReconciledWatermark | None:
    with Session(c.engine) as s:
        meter_id = s.scalar(select(m.Meter.id).where(m.Meter.meter_no == meter_no))
        return s.get(m.ReconciledWatermark, meter_id)


def from_scratch(result: ReconciliationResult, data: ReadbackData,
                 vends: list[m.Vend]) -> LedgerView:
    """The ledger view of the old, whole-history reconciliation: every unreversed vend up to
    the readback's last sequence, no watermark (the rest as the centre stored it)."""
    led = result.evidence["ledger"]
    return LedgerView(
        meter_no=led["meter_no"], credit_unit=CreditUnit(led["credit_unit"]),
        commissioning_energy_wh=led["commissioning_energy_wh"],
        last_issued_sequence=led["last_issued_sequence"],
        price_per_kwh=Decimal(led["price_per_kwh"]),
        price_tariff_version=led["price_tariff_version"],
        previous_energy_wh=led["previous_energy_wh"], watermark=Watermark(),
        applied_since=tuple((v.sequence, v.credit) for v in vends
                            if v.sequence <= data.last_sequence
                            and v.status != VendStatus.REVERSED.value),
        card_meter_no=led["card_meter_no"])


def assert_settled_prefix(c: BillingCentre, meter_no: str) -> None:
    """The stored watermark's totals are those of its vends, and every one is settled."""
    row = stored_watermark(c, meter_no)
    if row is None:
        return
    below = [v for v in vends_of(c, meter_no) if v.sequence <= row.last_sequence]
    assert all(v.status in ("confirmed", "reversed") for v in below), below
    live = [v for v in below if v.status != "reversed"]
    assert (row.applied_credit, row.applied_count) == (sum(v.credit for v in live), len(live))


ops = st.lists(st.one_of(
    st.tuples(st.just("sell"), st.integers(1, 80), st.booleans()),  # amount, mark written
    st.tuples(st.just("reverse")),
    st.tuples(st.just("readback"), st.sampled_from(
        ["exact", "stale", "beyond", "forged", "replayed", "wrong_totals"]),
        st.integers(0, 10**6)),
), min_size=1, max_size=14)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_incremental_equals_from_scratch(centre, ops) -> None:
    n = next(_numbers)
    meter_no = f"{n:012d}"
    add_meter(centre, meter_no)
    energy = 0
    sent: list[bytes] = []
    watermark_evidence: dict[int, dict] = {}
    ends: list[dict] = []
    for k, op in enumerate(ops):
        if op[0] == "sell":
            try:
                v = buy(centre, meter_no, str(op[1]), f"{n}-{k}")
            except VendRefused as e:
                assert e.reason == "unapplied_purchase"
                continue
            if op[2]:
                centre.mark_written(v.vend_id)
            continue
        vends = vends_of(centre, meter_no)
        if op[0] == "reverse":
            open_ = [v for v in vends if v.status in ("created", "written")]
            if open_:
                centre.reverse_vend(open_[-1].id, operator="sam", reason="customer left")
            continue
        kind, draw = op[1], op[2]
        issued = vends[-1].sequence if vends else 0
        wm = stored_watermark(centre, meter_no)
        seq = {"stale": draw % ((wm.last_sequence if wm else 0) + 1),
               "beyond": issued + 1 + draw % 3}.get(kind, issued)
        live = [v for v in vends if v.sequence <= seq and v.status != "reversed"]
        count, cumulative = len(live), sum(v.credit for v in live)
        if kind == "wrong_totals":
            count, cumulative = count + 1 + draw % 2, cumulative + draw % 500
        energy += draw % 5000
        data = record(meter_no, seq, count=count, cumulative=cumulative, energy_wh=energy,
                      remaining=draw % 9000)
        if kind == "replayed" and sent:
            raw = sent[draw % len(sent)]
        else:
            raw = meter_readback(data, key_revision=7 if kind == "forged" else 1)
            sent.append(raw)
        unapplied_before = {v.id for v in vends if v.status in ("created", "written")}
        result = centre.ingest_readback(raw=raw)
        data = replace(_decoded(result), mac_verified=result.evidence["mac"]
                       ["verified_by_centre"])
        after = vends_of(centre, meter_no)
        scratch = reconcile(from_scratch(result, data, after), data)
        assert result.verdict is scratch.verdict
        assert result.checks == scratch.checks
        expected_confirmed = {v.id for v in after if v.id in unapplied_before
                              and v.sequence <= data.last_sequence} if data.mac_verified else set()
        assert set(result.confirmed_vend_ids) == expected_confirmed
        assert_settled_prefix(centre, meter_no)
        chain = result.evidence["watermark"]
        if data.mac_verified:
            watermark_evidence[result.readback_id] = chain
        ends.append(chain)
    assert chain_breaks(watermark_evidence, ends) == []


def _decoded(result: ReconciliationResult) -> ReadbackData:
    rb = result.evidence["readback"]
    return ReadbackData(**{**rb, "credit_unit": CreditUnit(rb["credit_unit"]),
                           "timestamp": datetime.fromisoformat(rb["timestamp"])})


def cycle(c: BillingCentre, meter_no: str, rounds: int, rid: str) -> ReconciliationResult:
    """``rounds`` of sale, card written, exact readback; the last readback's result."""
    result = None
    for k in range(rounds):
        v = buy(c, meter_no, "5.00", f"{rid}-{k}")
        c.mark_written(v.vend_id)
        live = [x for x in vends_of(c, meter_no) if x.status != "reversed"]
        data = record(meter_no, v.sequence, count=len(live), cumulative=500 * len(live),
                      energy_wh=25_000 * len(live), remaining=0)
        result = c.ingest_readback(raw=meter_readback(data, key_revision=1))
        assert result.verdict.value == "balanced", result.failed
    assert result is not None
    return result


def test_evidence_holds_the_vends_since_the_watermark_only(centre) -> None:
    add_meter(centre, "990000000001")
    early = cycle(centre, "990000000001", 2, "early")
    late = cycle(centre, "990000000001", 40, "late")
    assert late.evidence["ledger"]["applied_since"] == [[42, 500]]
    assert late.evidence["watermark"]["from"]["sequence"] == 41
    assert late.evidence["watermark"]["to"] == {"sequence": 42, "credit": 42 * 500,
                                                "count": 42, "readback_id": late.readback_id}
    # The same shape after 42 sales as after 2: only the numbers in it differ.
    assert _shape(late.evidence) == _shape(early.evidence)


def _shape(evidence: dict) -> str:
    return re.sub(r"[0-9]+", "0", json.dumps(evidence, sort_keys=True))


def test_a_settled_meter_does_not_hide_another_meters_unapplied_purchase(centre) -> None:
    """The watermark is per meter: one meter settled far ahead leaves another's unapplied
    purchase in sight, and that meter is refused a second sale."""
    add_meter(centre, "990000000002")
    add_meter(centre, "990000000003")
    cycle(centre, "990000000002", 5, "ahead")
    buy(centre, "990000000003", "5.00", "behind-1")
    with pytest.raises(VendRefused) as refused:
        buy(centre, "990000000003", "5.00", "behind-2")
    assert refused.value.reason == "unapplied_purchase"


def test_migration_computes_the_watermark_the_centre_keeps(tmp_path: Path) -> None:
    """Existing data gets the same watermark from migration 0012 as the centre kept while
    reconciling (a reversal, a forged and a stale readback included)."""
    url = f"sqlite:///{tmp_path / 'b.sqlite'}"
    c = open_billing(url, clock=Clock(T0 + timedelta(days=1)))
    c.create_tariff("RES", Decimal("0.2000"), T0)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    for no in ("990000000004", "990000000005", "990000000006"):
        add_meter(c, no)
    cycle(c, "990000000004", 3, "a")
    reversed_ = buy(c, "990000000004", "7.00", "a-rev")
    c.reverse_vend(reversed_.vend_id, operator="sam", reason="mistake")
    cycle(c, "990000000004", 2, "a2")
    stale = record("990000000004", 1, count=1, cumulative=500, energy_wh=0, remaining=0)
    c.ingest_readback(raw=meter_readback(stale, key_revision=1))
    cycle(c, "990000000005", 2, "b")
    buy(c, "990000000005", "3.00", "b-open")  # unapplied: above the watermark
    forged = record("990000000006", 0, count=0, cumulative=0, energy_wh=0, remaining=0)
    c.ingest_readback(raw=meter_readback(forged, key_revision=3))  # no verified readback
    with Session(c.engine) as s:
        kept = {(r.meter_id, r.readback_id, r.last_sequence, r.applied_credit, r.applied_count)
                for r in s.scalars(select(m.ReconciledWatermark))}
    assert {k[2] for k in kept} == {6, 2}
    with c.engine.begin() as conn:
        conn.execute(delete(m.ReconciledWatermark))
    command.downgrade(alembic_config(c.engine), "0011")
    command.upgrade(alembic_config(c.engine), "head")
    with Session(c.engine) as s:
        migrated = {(r.meter_id, r.readback_id, r.last_sequence, r.applied_credit,
                     r.applied_count) for r in s.scalars(select(m.ReconciledWatermark))}
    c.close()
    assert migrated == kept
