"""Why a prepaid meter refused an inserted card: the "card error information word".

State Grid IC-card meters record every refused insertion as an abnormal card insertion
(DL/T 645-2007 DI 03301301.., DL/T 698.45 object 3310) whose error information word is one of
the codes below. It is an enumeration (one binary byte, 1..21), not a bit field: every
independent firmware found agrees on the numbering (docs/protocols.md, "Abnormal card
insertions", names the sources). The rig's emulated meter refuses with these codes, and the
protocol clients decode them, so a certification run can say *why* a meter refused a card.
"""

from __future__ import annotations

import enum


class CardErrorCode(enum.IntEnum):
    """Error information word of an abnormal card insertion record."""

    SUPPLY_VOLTAGE_LOW = 1  # meter supply below 80 % Un: card not processed
    ESAM_ERROR = 2  # the meter's security module failed a command
    ESAM_RESET_ERROR = 3
    CARD_RESET_ERROR = 4  # card inserted backwards, or not a card at all
    AUTHENTICATION_ERROR = 5  # internal authentication: the card's cryptogram is wrong
    EXTERNAL_AUTHENTICATION_ERROR = 6  # the card refused the meter's cryptogram
    CARD_NOT_ISSUED = 7
    CARD_TYPE_ERROR = 8
    NOT_AUTHORISED = 9  # card and meter key state disagree (key revision)
    MAC_ERROR = 10
    METER_NUMBER_MISMATCH = 11
    CUSTOMER_NUMBER_MISMATCH = 12
    CARD_SERIAL_MISMATCH = 13
    CARD_FILE_FORMAT_ERROR = 14
    PURCHASE_CARD_ACCOUNT_NOT_OPENED = 15
    REPLACEMENT_CARD_ACCOUNT_NOT_OPENED = 16
    PURCHASE_COUNT_ERROR = 17
    READBACK_FILE_NOT_EMPTY = 18
    CARD_COMMUNICATION_ERROR = 19
    CARD_PULLED_EARLY = 20
    HOARDING_LIMIT_EXCEEDED = 21


_TEXT: dict[CardErrorCode, str] = {
    CardErrorCode.SUPPLY_VOLTAGE_LOW: "supply voltage too low",
    CardErrorCode.ESAM_ERROR: "security module (ESAM) error",
    CardErrorCode.ESAM_RESET_ERROR: "security module (ESAM) reset error",
    CardErrorCode.CARD_RESET_ERROR: "card reset error (reversed card or not a card)",
    CardErrorCode.AUTHENTICATION_ERROR: "authentication error",
    CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR: "external authentication error",
    CardErrorCode.CARD_NOT_ISSUED: "card not issued",
    CardErrorCode.CARD_TYPE_ERROR: "card type error",
    CardErrorCode.NOT_AUTHORISED: "card operation not authorised (key state)",
    CardErrorCode.MAC_ERROR: "MAC check error",
    CardErrorCode.METER_NUMBER_MISMATCH: "meter number mismatch",
    CardErrorCode.CUSTOMER_NUMBER_MISMATCH: "customer number mismatch",
    CardErrorCode.CARD_SERIAL_MISMATCH: "card serial mismatch",
    CardErrorCode.CARD_FILE_FORMAT_ERROR: "card file format not valid",
    CardErrorCode.PURCHASE_CARD_ACCOUNT_NOT_OPENED: "purchase card in a meter with no account",
    CardErrorCode.REPLACEMENT_CARD_ACCOUNT_NOT_OPENED:
        "replacement card in a meter with no account",
    CardErrorCode.PURCHASE_COUNT_ERROR: "purchase count error",
    CardErrorCode.READBACK_FILE_NOT_EMPTY: "user card readback file not empty",
    CardErrorCode.CARD_COMMUNICATION_ERROR: "card communication error",
    CardErrorCode.CARD_PULLED_EARLY: "card pulled out early",
    CardErrorCode.HOARDING_LIMIT_EXCEEDED: "remaining credit would exceed the hoarding limit",
}

# Refusals that also count as *illegal* insertions (DL/T 645 DI 03301400): the card could not
# prove it is a genuine card of this meter's keys. Firmwares differ on the set (see
# docs/protocols.md); this is the one of the most complete implementation found.
ILLEGAL: frozenset[CardErrorCode] = frozenset({
    CardErrorCode.CARD_RESET_ERROR, CardErrorCode.AUTHENTICATION_ERROR,
    CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR, CardErrorCode.NOT_AUTHORISED,
    CardErrorCode.MAC_ERROR,
})


def describe(code: int) -> str:
    """``"10 MAC check error"``; a code outside the table is named as such, not refused (a
    meter of another maker may record codes of its own)."""
    try:
        return f"{code} {_TEXT[CardErrorCode(code)]}"
    except ValueError:
        return f"{code} (not a State Grid card error code)"
