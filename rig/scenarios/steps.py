"""Reusable scenario steps: what a QA engineer does at a prepaid bench, one method each.

Scenarios (the prepaid cycle, the certification suite) compose these; each step works the
same on an emulated and a real bench because it only uses the bench's instruments, the
billing centre and the vending station. Here: the billing centre's side and carrying the
card between writer and meter; the load and the polls while the meter consumes are
consumption_steps.py's, the meter's reads meter_view.py's.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from decimal import Decimal

from rig.bench.bench import Bench
from rig.bench.courier import Delivery
from rig.bench.operator import OperatorConsole
from rig.billing.centre.errors import Conflict
from rig.billing.centre.facade import BillingCentre
from rig.billing.types import VendResult
from rig.card_formats.interface import (
    Attack,
    CardKind,
    CardReadback,
    MasterKeys,
    PurchaseOnCard,
    key_revisions,
)
from rig.card_formats.registry import card_format
from rig.errors import RigError
from rig.profile import CreditKind
from rig.report.plot import RunSeries
from rig.report.record import RunRecord
from rig.scenarios.consumption_steps import ConsumptionSteps, PhaseOverrun
from rig.scenarios.meter_view import MeterState, MeterView, Observed, agreed
from rig.station.vending_station import UploadedReadback, VendingStation

# Re-exported: scenarios and tests know them as the steps' own.
__all__ = ["ADMINISTRATOR", "OPERATOR", "BenchSteps", "MeterState", "MeterView", "Observed",
           "PhaseOverrun", "agreed", "attach_reconciliation"]

OPERATOR = "rig-cashier"
ADMINISTRATOR = "rig-administrator"  # issues parameter cards (the meter's limits)


def attach_reconciliation(record: RunRecord, evidence: dict[str, object]) -> None:
    """The centre's reconciliation evidence (checks, ledger view, readback) as a record's
    evidence: what an auditor re-checks a verdict against."""
    record.attach("reconciliation evidence", json.dumps(evidence, indent=2, default=str),
                  "application/json")


class BenchSteps(ConsumptionSteps):
    """The steps, bound to one bench, one billing centre and one run record (those while
    the meter consumes in ConsumptionSteps, the meter's reads in MeterView)."""

    def __init__(self, bench: Bench, billing: BillingCentre, record: RunRecord) -> None:
        self.bench = bench
        self.billing = billing
        self.record = record
        self.meter = MeterView(bench)
        p = bench.profile
        self.card_format = card_format(p.card.format,
                                       where=f"meter profile {p.name}: [card] format")
        self.station = VendingStation(billing, MasterKeys(bench.master_key),
                                      fmt=self.card_format, options=bench.card_options,
                                      trace=bench.apdu_trace)
        self.money = p.credit.unit is CreditKind.MONEY
        self.unit = p.credit.currency if self.money else "kWh"
        self.meter_no = p.protocol.address
        self.card_serial = uuid.uuid4().hex[:16].upper()
        self.tag = uuid.uuid4().hex[:8]
        self.series = RunSeries(self.unit)
        self.load_on_at = None
        self.load_on_window = None
        self._vends = 0

    # -- billing-centre side ---------------------------------------------------------
    def register(self, price_per_kwh: Decimal, customer: str = "Bench Customer") -> int:
        """Register station, cashier, customer, tariff and meter (with the profile's hoarding
        limit, so the centre refuses what the meter would); returns commissioning Wh."""
        b, p = self.bench, self.bench.profile
        with contextlib.suppress(Conflict):  # a lab database knows them already
            self.billing.register_station(b.config.station_id)
        with contextlib.suppress(Conflict):
            self.billing.register_operator(OPERATOR, "cashier")
        with contextlib.suppress(Conflict):
            self.billing.register_operator(ADMINISTRATOR, "administrator")
        if getattr(self.billing, "cashier_sessions", False):
            self._open_shift(b.config.station_id)
        account = f"ACC-{self.tag}"
        self.billing.register_customer(customer, account)
        tariff_code = self.tariff_code
        self.billing.create_tariff(tariff_code, price_per_kwh, b.now())
        energy_wh = int(self.meter.settled_energy_kwh() * 1000)
        self.billing.register_meter(
            self.meter_no, customer_account=account, profile=p.name,
            credit_unit="money_cents" if self.money else "energy_wh", tariff_code=tariff_code,
            key_revision=p.card.key_revision, commissioning_energy_wh=energy_wh,
            commissioned_at=b.now(),
            hoarding_limit=p.to_credit_units(p.thresholds.hoarding_limit))
        return energy_wh

    def _open_shift(self, station: str) -> None:
        """The cashier's session at this bench's station, opened unless one is open there (a
        served centre sells a cashier's vends only inside one; benches sharing a station
        share it)."""
        shift = self.billing.open_session_of(OPERATOR)
        if shift is None:
            try:
                self.billing.open_session(OPERATOR, station)
                return
            except Conflict:  # another bench opened it meanwhile
                shift = self.billing.open_session_of(OPERATOR)
        if shift is not None and shift.station != station:
            raise RigError(f"operator {OPERATOR} has cashier session {shift.session_id} open at "
                           f"station {shift.station}, so it cannot sell at {station}: close it "
                           "or give this bench that station")

    @property
    def tariff_code(self) -> str:
        return f"FLAT-{self.tag}"

    def issue_card(self) -> str:
        """Register and personalise a user card bound to the meter; returns its meter no."""
        with self.bench.card_at_writer() as conn:
            self.billing.issue_card(self.meter_no, self.card_serial)
            info = self.station.personalise(conn, card_serial=self.card_serial,
                                            meter_no=self.meter_no,
                                            key_revision=self.bench.profile.card.key_revision)
        return info.meter_no

    def vend(self, amount: Decimal) -> VendResult:
        self._vends += 1
        return self.billing.vend(self.meter_no, amount, request_id=f"{self.tag}-{self._vends}",
                                 station=self.bench.config.station_id, operator=OPERATOR)

    def credit_of(self, vend: VendResult) -> Decimal:
        return self.bench.profile.from_credit_units(vend.credit)

    def write_vend(self, vend: VendResult) -> int:
        with self.bench.card_at_writer() as conn:
            return self.station.write_vend(conn, vend).sequence

    def read_readback(self) -> CardReadback:
        with self.bench.card_at_writer() as conn:
            return self.station.read_readback(conn)

    def upload_readback(self) -> UploadedReadback:
        with self.bench.card_at_writer() as conn:
            uploaded = self.station.upload_readback(conn)
        attach_reconciliation(self.record, uploaded.reconciliation.evidence)
        return uploaded

    # -- the customer's side ----------------------------------------------------------
    def insert_into_meter(self, *, expect_accepted: bool = True) -> Delivery:
        """Carry the card to the meter (it reads/writes it) and back into the hand."""
        delivery = self.bench.courier.move("meter")
        if expect_accepted and not delivery.accepted:
            raise RigError(f"meter refused the card: {delivery.meter_message}")
        return delivery

    def card_to_writer(self) -> None:
        self.bench.courier.move("writer")

    def buy(self, amount: Decimal) -> tuple[VendResult, Delivery]:
        """Vend, write the card and insert it: the customer's purchase, applied or refused."""
        vend = self.vend(amount)
        self.write_vend(vend)
        return vend, self.insert_into_meter(expect_accepted=False)

    def settle(self) -> UploadedReadback:
        """Card back to the writer and its readback uploaded (the centre then sells again)."""
        self.card_to_writer()
        return self.upload_readback()

    def personalise_as(self, kind: CardKind) -> None:
        """Re-issue the card in the writer as another card kind (same serial and keys)."""
        with self.bench.card_at_writer() as conn:
            self.station.personalise(conn, card_serial=self.card_serial,
                                     meter_no=self.meter_no,
                                     key_revision=self.bench.profile.card.key_revision,
                                     kind=kind)

    def lacks_kind(self, kind: CardKind) -> bool:
        """True (and the record says so) if the meter's card format has no ``kind`` card:
        what needs one is not applicable to this meter, a measured outcome, not a pass."""
        if kind in self.card_format.kinds:
            return False
        with self.record.step(f"{kind.value} card"):
            self.record.measure(f"{kind.value} card", f"not applicable: card format "
                                f"{self.card_format.name!r} has no {kind.value} card")
        return True

    def lacks_key_revision(self, revision: int) -> bool:
        """True (and the record says so) if the card format cannot tell key revision
        ``revision`` from the others (an ESAM has two key states, not numbered revisions)."""
        known = key_revisions(self.card_format)
        if revision in known:
            return False
        with self.record.step(f"key revision {revision}"):
            self.record.measure(f"key revision {revision}", f"not applicable: card format "
                                f"{self.card_format.name!r} has key revisions "
                                f"{known.start}..{known.stop - 1} only")
        return True

    def attack(self, name: str) -> Attack | None:
        """The format's word on attack ``name`` (None: the format does not list it)."""
        return next((a for a in self.card_format.attacks() if a.name == name), None)

    def read_purchase(self) -> PurchaseOnCard | None:
        with self.bench.card_at_writer() as conn:
            return self.station.read_purchase(conn)

    def forge_purchase(self, genuine: PurchaseOnCard) -> None:
        """Put on the card what a cloned writer without the meter's secrets could (the card
        format's ``forged_purchase``: the genuine purchase with ten times the credit)."""
        with self.bench.card_at_writer() as conn:
            self.card_format.forged_purchase(self.station.writer, conn, genuine)

    def press_meter_key(self, key: str) -> bool:
        """The customer presses a meter key; True if the meter granted it. On a real bench
        the operator presses it and says what the meter showed."""
        if self.bench.sim is not None:
            return bool(self.bench.sim.call("meter_key", key=key)["granted"])
        label = key.replace("_", " ")
        return OperatorConsole().yes_no(f"press the {label} key on the meter",
                                        f"Press the {label} key on the meter: was it granted?")

