"""Defects of the meter's DL/T 645 side: a register encoded one digit off, a status bit stuck,
abnormal replies never sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645.frame import ABNORMAL
from rig.sim.defects.applies_to import dlt645
from rig.sim.defects.entry import Defect
from rig.sim.defects.requirements import BUY, CUTOFF, PROTOCOL_ERROR

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


def _register_one_digit_off(meter: EmulatedMeter) -> None:
    """The remaining-credit register encoded one last digit high (DL/T 645)."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class OneDigitOff(Reference):
        def _new_serial_side(self) -> None:
            super()._new_serial_side()
            if self._responder is not None:
                bank = self._responder.bank
                bank.__class__ = type("OneDigitOffRegisters", (type(bank),), {
                    "values": _digit_off_values(type(bank).values)})

    meter.__class__ = OneDigitOff
    meter._new_serial_side()


def _digit_off_values(values: Callable[[Any], dict[int, object]]) -> Callable[[Any],
                                                                               dict[int, object]]:
    def wrong(self: Any) -> dict[int, object]:
        out = values(self)
        for data_id in (di.REMAINING_AMOUNT, di.REMAINING_ENERGY):
            if data_id in out:
                out[data_id] = Decimal(str(out[data_id])) + Decimal("0.01")
        return out
    return wrong


def _error_answer_missing(meter: EmulatedMeter) -> None:
    """An abnormal reply is never sent (DL/T 645): the master waits out its timeout instead."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class Silent:
        def __init__(self, server: Any) -> None:
            self._server = server

        def respond(self, frame: Any) -> Any:
            reply = self._server.respond(frame)
            return None if reply is not None and reply.control & ABNORMAL else reply

        def __getattr__(self, name: str) -> Any:
            return getattr(self._server, name)

    class ErrorAnswerMissing(Reference):
        def _new_serial_side(self) -> None:
            super()._new_serial_side()
            if self._responder is not None:
                self._responder = Silent(self._responder)  # type: ignore[assignment]

    meter.__class__ = ErrorAnswerMissing
    meter._new_serial_side()


def _relay_bit_stuck(meter: EmulatedMeter) -> None:
    """Status word 3 never shows the relay open (DL/T 645)."""
    from rig.sim.meter_firmware import EmulatedMeter as Reference

    class RelayBitStuck(Reference):
        def status_word_3(self) -> int:
            return super().status_word_3() & ~(di.SW3_RELAY_OPEN | di.SW3_RELAY_COMMAND_OPEN)

    meter.__class__ = RelayBitStuck


DEFECTS = (
    Defect("remaining-register-digit-high", BUY, "DL/T 645 remaining-credit register one last "
           "digit high", _register_one_digit_off, dlt645),
    Defect("relay-status-bit-stuck", CUTOFF, "DL/T 645 status word 3 never shows the relay "
           "open", _relay_bit_stuck, dlt645),
    Defect("error-answer-missing", PROTOCOL_ERROR, "DL/T 645 abnormal replies never sent (a "
           "read of a register the meter lacks goes unanswered)", _error_answer_missing,
           dlt645),
)
