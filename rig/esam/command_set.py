"""The ESAM's command set as bytes: classes, instructions, status words (docs/esam.md, "The
ESAM's commands").

One table both sides read: the emulated chip (:mod:`rig.esam.commands`) answers these
commands, the meter's firmware (:mod:`rig.esam.link`) sends them, so the two cannot drift.
The ``00`` class commands are ISO/IEC 7816-4's; the ``80`` class ones are proprietary, as a
State Grid–style ESAM's are. Where no public source gives a byte, the value is rig's own.
"""

from __future__ import annotations

from rig.esam.esam import EsamRefusal

CLA_ISO = 0x00
CLA_ESAM = 0x80  # proprietary class (ISO/IEC 7816-4: b8 = 1)
CHAINING = 0x10  # CLA b5: "not the last command of a chain" (ISO/IEC 7816-4 command chaining)
CHUNK = 0xF0  # the most data bytes the meter puts in one APDU of a chain

INS_GET_CHALLENGE = 0x84  # 00 84 00 00 Le
INS_READ_INFO = 0xCA  # 80 CA 00 00 14: serial, key state, each slot's state, identity minutes
INS_READ_WALLET = 0x48  # 80 48 00 00 0F: the wallet file
INS_CHECK_KEY_STATE = 0x1A  # 80 1A 00 slot 01 state
INS_VERIFY_CARD = 0x88  # 80 88 00 00 Lc serial challenge cryptogram
INS_ANSWER_CARD = 0x82  # 80 82 00 00 Lc serial challenge 08
INS_CARD_MAC = 0xFA  # 80 FA 00|01 slot Lc serial ivlen iv data [mac] [04]
INS_CREDIT = 0x42  # 80 42 00|01 00 0E amount count customer
INS_INIT_WALLET = 0x4A  # 80 4A 00 00 04 preset
INS_KEY_UPDATE = 0xD4  # 80 D4 00|01 00 Lc package 02 / 80 D4 02 00
INS_IDENTITY = 0x08  # 80 08 00 00 18 cipher1 rand1 factor 0C
INS_SET_VALIDITY = 0x0A  # 80 0A 00 00 02 minutes
INS_END_SESSION = 0x0C  # 80 0C 00 00
INS_CHECK_SESSION = 0x0E  # 80 0E 00 00
INS_SESSION_MAC = 0xFC  # 80 FC 00|01 slot Lc data [mac] [04]
INS_OPEN_SEALED = 0xF8  # 80 F8 00 slot Lc data 00

P1_COMPUTE, P1_VERIFY = 0x00, 0x01  # the MAC commands
P1_RECHARGE, P1_OPEN_ACCOUNT = 0x00, 0x01  # CREDIT
P1_STAGE_FIRST, P1_STAGE_NEXT, P1_COMMIT = 0x00, 0x01, 0x02  # KEY UPDATE

INFO_LEN = 8 + 1 + 9 + 2
WALLET_LEN = 4 + 4 + 6 + 1
CUSTOMER_LEN = 6
CRYPTOGRAM_LEN = 8
SERIAL_LEN = 8

# An 8-byte-history ATR (T=0, no interface bytes): "RIGESAM1". rig's own.
ATR = bytes([0x3B, 0x08]) + b"RIGESAM1"

SW_OK = 0x9000
# Malformed commands and the chip's own conditions (ISO/IEC 7816-4): the meter calls them faults.
SW_WRONG_LENGTH = 0x6700
SW_CHAIN_BROKEN = 0x6883  # last command of the chain expected
SW_CONDITIONS = 0x6985  # conditions of use not satisfied (nothing staged, no clock)
SW_WRONG_DATA = 0x6A80
SW_WRONG_P1P2 = 0x6A86
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_NO_DIAGNOSIS = 0x6F00

# Each refusal its own status word: ISO/IEC 7816-4 meanings where one fits, rig's own 9xxx
# (ISO leaves 9xxx other than 9000 to the application) for the wallet and the identity.
REFUSAL_SW: dict[EsamRefusal, int] = {
    EsamRefusal.KEY_STATE: 0x6A88,  # referenced data not found: no key of that state
    EsamRefusal.AUTHENTICATION: 0x6300,  # verification failed
    EsamRefusal.MAC: 0x6988,  # incorrect secure messaging data objects
    EsamRefusal.NO_IDENTITY: 0x6982,  # security status not satisfied
    EsamRefusal.IDENTITY: 0x9101,
    EsamRefusal.CUSTOMER: 0x9301,
    EsamRefusal.OVERFLOW: 0x9302,
    EsamRefusal.PURCHASE_COUNT: 0x9303,
    EsamRefusal.NOT_OPENED: 0x9304,
    EsamRefusal.KEY_PACKAGE: 0x9401,
}
SW_REFUSAL = {sw: refusal for refusal, sw in REFUSAL_SW.items()}

COMMAND_NAMES = {
    INS_GET_CHALLENGE: "GET CHALLENGE", INS_READ_INFO: "READ ESAM INFO",
    INS_READ_WALLET: "READ WALLET", INS_CHECK_KEY_STATE: "CHECK KEY STATE",
    INS_VERIFY_CARD: "VERIFY CARD", INS_ANSWER_CARD: "ANSWER CARD",
    INS_CARD_MAC: "CARD MAC", INS_CREDIT: "CREDIT", INS_INIT_WALLET: "INITIALISE WALLET",
    INS_KEY_UPDATE: "KEY UPDATE", INS_IDENTITY: "IDENTITY AUTHENTICATE",
    INS_SET_VALIDITY: "SET IDENTITY VALIDITY", INS_END_SESSION: "END SESSION",
    INS_CHECK_SESSION: "CHECK SESSION", INS_SESSION_MAC: "SESSION MAC",
    INS_OPEN_SEALED: "OPEN SEALED",
}

# Commands whose data fields (and answers) are secrets: cryptograms and key packages.
SECRET_INS = frozenset({INS_VERIFY_CARD, INS_ANSWER_CARD, INS_KEY_UPDATE, INS_IDENTITY})


def describe(apdu: bytes) -> str:
    """A trace line's name for an ESAM command."""
    if len(apdu) < 4:
        return f"ESAM short APDU ({len(apdu)} bytes)"
    return "ESAM " + COMMAND_NAMES.get(apdu[1], f"INS {apdu[1]:02X}")


def is_secret(apdu: bytes) -> bool:
    return len(apdu) >= 2 and apdu[1] in SECRET_INS


def customer_bcd(customer_no: str) -> bytes:
    """A 12-digit customer number as 6 BCD bytes."""
    if len(customer_no) != 2 * CUSTOMER_LEN or not customer_no.isdigit():
        raise ValueError(f"customer number {customer_no!r}: 12 decimal digits")
    return bytes.fromhex(customer_no)
