"""The emulated meter's card terminal: what a prepaid meter does with an inserted card.

Check the card (type, meter binding, MACs), apply a new tariff and a new purchase, then write
the readback. Every check runs before the first register changes, so a refused card leaves
the meter exactly as it was; a purchase whose sequence number the meter has seen is ignored,
so a card can be inserted any number of times without applying its credit twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rig.card.apdu import MacError
from rig.card.records import CardType, CreditUnit, PurchaseRecord, ReadbackRecord
from rig.card.session import ApduTransport, CardSession
from rig.errors import CardError
from rig.profile import CreditKind
from rig.sim.prepaid import PrepaidEngine


@dataclass(frozen=True)
class InsertionOutcome:
    """What the meter's display says after a card insertion."""

    accepted: bool
    applied_sequence: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "applied_sequence": self.applied_sequence,
            "message": self.message,
        }


def _refuse(message: str) -> InsertionOutcome:
    return InsertionOutcome(False, None, message)


class MeterCardTerminal:
    """Card slot logic of one prepaid meter (the caller holds the world still)."""

    def __init__(self, engine: PrepaidEngine, meter_no: str, meter_key: bytes) -> None:
        self.engine = engine
        self.meter_no = meter_no
        self._key = meter_key

    @property
    def credit_unit(self) -> CreditUnit:
        money = self.engine.profile.credit.unit is CreditKind.MONEY
        return CreditUnit.MONEY_CENTS if money else CreditUnit.ENERGY_WH

    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        """Run one insertion session at bench time `now`."""
        try:
            return self._session(CardSession(transport), now)
        except CardError as e:  # unreadable, unissued or pulled card: registers untouched
            return _refuse(f"card error: {e}")

    def _session(self, session: CardSession, now: datetime) -> InsertionOutcome:
        session.select_application()
        info = session.read_info()
        if info.card_type is not CardType.USER:
            return _refuse(f"not a user card ({info.card_type.name})")
        if info.meter_no != self.meter_no:
            return _refuse(f"card is for meter {info.meter_no}")
        tariff = session.read_tariff()
        purchase = session.read_purchase()
        try:
            if tariff is not None:
                tariff.verify(self._key)
            if purchase is not None:
                purchase.verify(self._key)
        except MacError:
            return _refuse("card data MAC invalid: refused")
        refusal = self._check_purchase(purchase)
        if refusal:
            return _refuse(refusal)
        if tariff is not None and tariff.meter_no == self.meter_no:
            self.engine.apply_tariff(tariff.version, tariff.price_per_kwh)
        applied: int | None = None
        message = "readback written"
        if purchase is not None:
            if purchase.sequence <= self.engine.last_sequence:
                message = f"purchase {purchase.sequence} already applied"
            else:
                self.engine.apply_purchase(purchase.sequence, purchase.credit, now)
                applied = purchase.sequence
                message = f"credit applied (purchase {purchase.sequence})"
        session.write_readback(self.readback(now))
        return InsertionOutcome(True, applied, message)

    def _check_purchase(self, purchase: PurchaseRecord | None) -> str:
        if purchase is None:
            return ""
        if purchase.meter_no != self.meter_no:
            return f"purchase is for meter {purchase.meter_no}"
        if purchase.credit_unit is not self.credit_unit:
            return "purchase credit unit does not match the meter"
        new = purchase.sequence > self.engine.last_sequence
        if new and self.engine.would_hoard(purchase.credit):
            return "hoarding limit exceeded: refused"
        return ""

    def readback(self, at: datetime) -> ReadbackRecord:
        """The meter's usage data as the readback record, MAC'd with the meter key."""
        e = self.engine
        ev = e.events
        return ReadbackRecord(
            meter_no=self.meter_no,
            energy_wh=e.energy_wh,
            remaining=e.units(e.remaining),
            overdraft=e.units(e.overdraft),
            purchase_count=e.purchase_count,
            last_sequence=e.last_sequence,
            cumulative_purchase=e.units(e.cumulative_purchase),
            credit_unit=self.credit_unit,
            relay_open=not e.relay_closed,
            alarm_active=e.alarm1_active or e.alarm2_active,
            alarm_count=ev.alarm_count,
            cutoff_count=ev.cutoff_count,
            tamper_count=ev.tamper_count,
            power_down_count=ev.power_down_count,
            timestamp=at.replace(microsecond=0),
            tariff_version=e.tariff_version,
        ).sign(self._key)


__all__ = ["InsertionOutcome", "MeterCardTerminal"]
