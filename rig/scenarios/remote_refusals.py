"""What a meter's refusal of a DL/T 645 security command means in a card scenario's terms.

Under remote delivery a purchase the meter must refuse (another meter's, a count gap, over the
hoarding limit, a wrong MAC) is a recharge the meter answers with an abnormal reply whose
security error word SERR says why. The certification scenarios judge refusals by the card
error code a card meter records (``rig.meter.card_errors``); this module translates the SERR
bit into that code, and gives the scenarios a view of the meter whose refusals are its card
refusals and its SERR answers together (docs/certification.md, "Remote delivery").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rig.bench.bench import Bench
from rig.meter.card_errors import CardErrorCode
from rig.meter.client import CardRefusals
from rig.meter.dlt645 import security as sec
from rig.scenarios.steps import MeterView

# SERR bit → the card error code of the same refusal, most telling bit first. The identity
# bit is the meter refusing the office's identity authentication: for a purchase the office
# addressed to another meter (its dispersion factor) that is the card's meter number mismatch.
SERR_CODES: tuple[tuple[int, CardErrorCode], ...] = (
    (sec.SERR_HOARDING, CardErrorCode.HOARDING_LIMIT_EXCEEDED),
    (sec.SERR_RECHARGE_COUNT, CardErrorCode.PURCHASE_COUNT_ERROR),
    (sec.SERR_CUSTOMER, CardErrorCode.CUSTOMER_NUMBER_MISMATCH),
    (sec.SERR_ESAM, CardErrorCode.MAC_ERROR),
    (sec.SERR_IDENTITY, CardErrorCode.AUTHENTICATION_ERROR),
)


def card_code(serr: int, *, other_meter: bool = False) -> CardErrorCode:
    """The card error code of a refusal answered with ``serr`` (``other_meter``: the office
    addressed the purchase to another meter's number)."""
    if other_meter and serr & sec.SERR_IDENTITY:
        return CardErrorCode.METER_NUMBER_MISMATCH
    for bit, code in SERR_CODES:
        if serr & bit:
            return code
    return CardErrorCode.ESAM_ERROR  # other error, address, suspended: the module refused


@dataclass(frozen=True)
class RemoteRefusal:
    """One security command the meter refused: when it answered (bench time), its SERR word
    and what a card meter would record for it."""

    at: datetime
    serr: int
    code: CardErrorCode

    @property
    def reasons(self) -> str:
        return ", ".join(sec.decode_serr(self.serr))


class RemoteMeterView(MeterView):
    """The meter as remote-delivery scenarios see it: its refusals are the cards it refused
    (its abnormal insertion records) and the purchases it refused over DL/T 645 (each an
    abnormal reply with SERR, the meter's own word on why, time-stamped by the office when
    it answered). Illegal-insertion counts are card-only: not reported."""

    def __init__(self, bench: Bench, refusals: list[RemoteRefusal]) -> None:
        super().__init__(bench)
        self._refusals = refusals

    def card_refusals(self) -> CardRefusals:
        cards = super().card_refusals()
        if not self._refusals:
            return CardRefusals(cards.count, cards.last_at, cards.last_reason, None,
                                cards.last_record)
        last = self._refusals[-1]
        return CardRefusals(cards.count + len(self._refusals), last.at, last.code, None)
