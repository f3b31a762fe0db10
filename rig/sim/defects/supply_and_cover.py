"""Defects at a supply cut, at power-up and at the terminal cover: what the firmware's
non-volatile memory keeps, the relay state it powers up in, tamper events it loses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rig.sim import nvm
from rig.sim.defects.alarms_and_relay import UnpaidReclose
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import engine, meter
from rig.sim.defects.requirements import COVER, CUT_IN_CARD, CUT_IN_USE, CUTOFF
from rig.sim.prepaid import PrepaidEngine, RelayReason

if TYPE_CHECKING:
    from rig.card.session import ApduTransport
    from rig.card_formats.interface import InsertionOutcome
    from rig.sim.meter_firmware import EmulatedMeter


def _torn_write(*stale: str) -> Callable[[EmulatedMeter], None]:
    """The meter commits a card session's registers to NVM only when the session ends: a
    supply cut inside one saves the engine fields `stale` as they were before the card."""
    def make(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
        class TornWrite(reference):  # type: ignore[valid-type,misc]
            _before: dict[str, object] | None = None

            def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
                self._before = nvm.engine_image(self.engine)
                try:
                    return super().insert_card(transport)
                finally:
                    self._before = None

            def nvm_image(self) -> bytes:
                return _with_engine_fields(super().nvm_image(), self._before, stale)
        return TornWrite
    return meter(make)


def _with_engine_fields(raw: bytes, saved: dict[str, object] | None,
                        names: tuple[str, ...]) -> bytes:
    if saved is None:
        return raw
    image = nvm.loads(raw)
    image["engine"].update({k: saved[k] for k in names})
    return nvm.dumps(image)


def _stale_credit_at_power_up(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    """The credit register is saved to NVM at card sessions only: a power-up brings back the
    credit of the last card, undoing the consumption since."""
    class StaleCredit(reference):  # type: ignore[valid-type,misc]
        _at_card: dict[str, object] | None = None

        def insert_card(self, transport: ApduTransport) -> InsertionOutcome:
            outcome = super().insert_card(transport)
            self._at_card = nvm.engine_image(self.engine)
            return outcome

        def nvm_image(self) -> bytes:
            return _with_engine_fields(super().nvm_image(), self._at_card, ("credit",))
    return StaleCredit


def _cover_latch_lost(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    class CoverLatchLost(reference):  # type: ignore[valid-type,misc]
        def _record_latched_cover(self) -> None:
            self._cover_latch = None  # the switch's latch read and dropped at power-up
    return CoverLatchLost


def _cover_not_counted(reference: type[EmulatedMeter]) -> type[EmulatedMeter]:
    class CoverNotCounted(reference):  # type: ignore[valid-type,misc]
        def open_cover(self) -> None:
            tampers = self.engine.events.tamper_count
            super().open_cover()
            if self.powered:
                self.engine.events.tamper_count = tampers  # recorded, never counted
    return CoverNotCounted


class _RelayOpenAfterPowerUp(PrepaidEngine):
    """Power-up leaves the relay open until the next card, whatever the credit."""

    def resume(self, at: datetime) -> None:
        super().resume(at)
        if self.relay_closed:
            self.relay_closed, self.relay_reason = False, RelayReason.ALARM2_TRIP


class _RelayClosedAfterPowerUp(UnpaidReclose):
    """Power-up closes a relay opened for lack of credit."""

    def resume(self, at: datetime) -> None:
        super().resume(at)
        self._reclose_unpaid(at)


DEFECTS = (
    Defect("torn-write-loses-credit", CUT_IN_CARD, "a supply cut inside a card session saves "
           "the purchase's sequence but not its credit", _torn_write(
               "credit", "cumulative_purchase", "purchase_count")),
    Defect("torn-write-doubles-credit", CUT_IN_CARD, "a supply cut inside a card session saves "
           "the purchase's credit but not its sequence (the card applies again)",
           _torn_write("last_sequence")),
    Defect("stale-credit-after-power-up", CUT_IN_USE, "power-up restores the credit of the last "
           "card, undoing the consumption since", meter(_stale_credit_at_power_up)),
    Defect("relay-open-after-power-up", CUT_IN_USE, "power-up leaves the relay open until the "
           "next card", engine(_RelayOpenAfterPowerUp)),
    Defect("relay-closed-after-power-up", CUTOFF, "power-up closes a relay opened for lack of "
           "credit", engine(_RelayClosedAfterPowerUp)),
    Defect("tamper-not-latched", COVER, "a cover opening while the meter has no supply is not "
           "recorded at power-up", meter(_cover_latch_lost)),
    Defect("tamper-not-counted", COVER, "a cover opening with supply is not counted",
           meter(_cover_not_counted)),
)
