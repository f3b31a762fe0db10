"""Defects of a keypad meter's STS token acceptance (rig/sim/sts_keypad.py): used and old
tokens accepted, credit added twice, a superseded key kept, the TID memory kept across a
roll-over, the wrong refusal shown."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from rig.sim.defects.applies_to import sts
from rig.sim.defects.entry import Defect
from rig.sim.defects.parts import Install
from rig.sim.defects.requirements import (
    STS_CREDIT,
    STS_KEY_CHANGE,
    STS_OLD,
    STS_OTHER_METER,
    STS_ROLLOVER,
    STS_USED,
)
from rig.sim.sts_keypad import KeypadResult, StsKeypad, TokenResult

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter
    from rig.sts import token as tk


def _keypad(cls: type[StsKeypad]) -> Install:
    def install(meter: EmulatedMeter) -> None:
        assert meter.keypad is not None  # applies only to a profile with [sts]
        meter.keypad.__class__ = cls
    return install


class _UsedTokenAccepted(StsKeypad):
    def _tid_refusal(self, tid: int) -> KeypadResult | None:
        refused = super()._tid_refusal(tid)
        return None if refused is not None and refused.result is TokenResult.USED else refused


class _OldTokenAccepted(StsKeypad):
    def _tid_refusal(self, tid: int) -> KeypadResult | None:
        refused = super()._tid_refusal(tid)
        return None if refused is not None and refused.result is TokenResult.OLD else refused


class _TokenCreditedTwice(StsKeypad):
    def _apply(self, decoded: tk.Decoded, at: datetime) -> KeypadResult:
        result = super()._apply(decoded, at)
        if result.accepted and result.credit is not None:
            self.effects.credit(decoded.subclass, result.credit, at)
        return result


class _OldKeyKept(StsKeypad):
    """After a key change the superseded decoder key still decrypts tokens."""

    _superseded: bytes | None = None

    def _install(self, sections: list[int]) -> None:
        self._superseded = self.decoder_key
        super()._install(sections)

    def enter(self, typed: str, at: datetime) -> KeypadResult:
        result = super().enter(typed, at)
        if result.result is not TokenResult.CRC or self._superseded is None:
            return result
        current, self.decoder_key = self.decoder_key, self._superseded
        try:
            return super().enter(typed, at)
        finally:
            self.decoder_key = current


class _RolloverKeepsTids(StsKeypad):
    """A roll-over key change moves the meter to the new key and base date but keeps the TID
    memory of the old base date, so every token counted from the new base date is Old."""

    def _install(self, sections: list[int]) -> None:
        kept = list(self.tids)
        super()._install(sections)
        if not self.tids and kept:
            self.tids.extend(kept)


class _CrcShownAsFormat(StsKeypad):
    """A token that does not decrypt (another meter's, or a mistype) shows Format."""

    def enter(self, typed: str, at: datetime) -> KeypadResult:
        result = super().enter(typed, at)
        if result.result is TokenResult.CRC:
            return KeypadResult(TokenResult.FORMAT, result.detail)
        return result


DEFECTS = (
    Defect("sts-used-token-accepted", STS_USED, "a token typed again is credited again",
           _keypad(_UsedTokenAccepted), sts),
    Defect("sts-old-token-accepted", STS_OLD, "a token older than the TID memory is accepted",
           _keypad(_OldTokenAccepted), sts),
    Defect("sts-credit-added-twice", STS_CREDIT, "each credit token adds its amount twice",
           _keypad(_TokenCreditedTwice), sts),
    Defect("sts-old-key-accepted", STS_KEY_CHANGE, "after a key change the superseded decoder "
           "key is still accepted", _keypad(_OldKeyKept), sts),
    Defect("sts-rollover-keeps-tid-memory", STS_ROLLOVER, "a roll-over key change keeps the "
           "old base date's TID memory (new-base tokens refused as Old)",
           _keypad(_RolloverKeepsTids), sts),
    Defect("sts-crc-error-shown-as-format", STS_OTHER_METER, "a token that does not decrypt "
           "shows Format instead of CRC Err (the wrong refusal reason)",
           _keypad(_CrcShownAsFormat), sts),
)
