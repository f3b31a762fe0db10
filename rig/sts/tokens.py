"""Token kinds: build credit, management, key-change and test tokens; describe a decoded one.

Field layouts (IEC 62055-41, 6.2-6.3), from bit 63 down: a credit or management token is
subclass (4), random number (4), TID (24), a 16-bit value, CRC (16). A key-change token set
carries the new decoder key in 32-bit sections: the 1st section with KENHO, KRN, roll-over flag
and KT, the 2nd with KENLO and TI, and for a 128-bit (MISTY1) key a 3rd and 4th section with
the supply group code in two 12-bit halves. Class 1 test tokens are not encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rig.sts import amount as amount_field
from rig.sts import token as tk
from rig.sts.errors import StsError
from rig.sts.keys import Encryption

# Class 0 subclasses: (name, unit, resolution). Units: the STS Association's token types page
# (sts.org.za/token-types) and IEC 62055-41 Table 11.
CREDIT_KINDS: dict[int, tuple[str, str, Decimal]] = {
    0: ("electricity", "kWh", Decimal("0.1")),
    1: ("water", "m3", Decimal("0.1")),
    2: ("gas", "m3", Decimal("0.1")),
    3: ("time", "min", Decimal("0.1")),
    4: ("electricity currency", "currency", Decimal("0.00001")),
    5: ("water currency", "currency", Decimal("0.00001")),
    6: ("gas currency", "currency", Decimal("0.00001")),
    7: ("time currency", "currency", Decimal("0.00001")),
}

SET_POWER_LIMIT = 0
CLEAR_CREDIT = 1
SET_TARIFF_RATE = 2
KEY_SECTION_1 = 3
KEY_SECTION_2 = 4
CLEAR_TAMPER = 5
SET_PHASE_UNBALANCE_LIMIT = 6
SET_WATER_FACTOR = 7
KEY_SECTION_3 = 8
KEY_SECTION_4 = 9

MANAGEMENT_NAMES = {
    SET_POWER_LIMIT: "set maximum power limit",
    CLEAR_CREDIT: "clear credit",
    SET_TARIFF_RATE: "set tariff rate",
    KEY_SECTION_1: "decoder key change, 1st section",
    KEY_SECTION_2: "decoder key change, 2nd section",
    CLEAR_TAMPER: "clear tamper condition",
    SET_PHASE_UNBALANCE_LIMIT: "set maximum phase power unbalance limit",
    SET_WATER_FACTOR: "set water meter factor",
    KEY_SECTION_3: "decoder key change, 3rd section",
    KEY_SECTION_4: "decoder key change, 4th section",
}
KEY_SECTIONS = (KEY_SECTION_1, KEY_SECTION_2, KEY_SECTION_3, KEY_SECTION_4)
# Management tokens whose 16-bit value is an exponent/mantissa count, and its unit.
COUNTED = {SET_POWER_LIMIT: "W", SET_PHASE_UNBALANCE_LIMIT: "W"}


@dataclass(frozen=True)
class Issue:
    """When and with which random number a TID-carrying token is issued."""

    issued_at: datetime
    base_year: int = 1993
    rnd: int = 0

    def tid(self) -> int:
        return tk.tid_of(self.issued_at, self.base_year)


def credit_count(subclass: int, amount: Decimal) -> int:
    """The amount in resolution steps; an amount between steps is one line naming the step."""
    if subclass not in CREDIT_KINDS:
        raise StsError(f"--subclass {subclass}: class 0 subclasses are 0 to 7")
    name, unit, step = CREDIT_KINDS[subclass]
    count = amount / step
    if amount < 0 or count != count.to_integral_value():
        raise StsError(f"--amount {amount}: {name} tokens carry whole steps of {step} {unit}")
    return int(count)


def credit_token(key: bytes, encryption: Encryption, *, subclass: int, amount: Decimal,
                 issue: Issue) -> str:
    """A class 0 TransferCredit token for `amount` in the subclass's unit."""
    field = amount_field.field_of(credit_count(subclass, amount))
    fields = tk.standard_fields(subclass, issue.rnd, issue.tid(), field)
    return tk.encode(tk.CREDIT, tk.seal(tk.CREDIT, fields), key, encryption)


def management_token(key: bytes, encryption: Encryption, *, subclass: int, value: int,
                     issue: Issue) -> str:
    """A class 2 token with the common layout; `value` is the count (power limits, in W) or
    the raw 16-bit field (clear credit's register, the tariff rate, clear tamper's pad)."""
    if subclass in KEY_SECTIONS or subclass not in MANAGEMENT_NAMES:
        raise StsError(f"--subclass {subclass}: not a class 2 token with a value "
                       "(key change tokens come in sets: key_change_tokens)")
    field = amount_field.field_of(value) if subclass in COUNTED else value
    fields = tk.standard_fields(subclass, issue.rnd, issue.tid(), field)
    return tk.encode(tk.MANAGEMENT, tk.seal(tk.MANAGEMENT, fields), key, encryption)


@dataclass(frozen=True)
class KeyChange:
    """What a key change token set installs besides the key itself."""

    new_key: bytes
    key_revision: int  # KRN of the new key
    key_type: int  # KT of the new key
    tariff_index: str  # TI of the new key
    key_expiry: int = 255  # KEN, 8 bits
    rollover: bool = False  # RO: the new key starts a new base date (TID roll-over)
    supply_group: str = "000000"  # the new SGC, carried only by a 128-bit key's set


def key_change_tokens(key: bytes, encryption: Encryption, change: KeyChange) -> list[str]:
    """The 2 (64-bit key) or 4 (128-bit key) tokens of a decoder key change, under the old key."""
    nk = change.new_key
    if len(nk) not in (8, 16):
        raise StsError("new decoder key: 64 or 128 bits")
    if not 0 <= change.key_expiry <= 255:
        raise StsError(f"key expiry number {change.key_expiry}: 0 to 255")
    ti = int(change.tariff_index)
    words = [int.from_bytes(nk[i:i + 4], "big") for i in range(0, len(nk), 4)]
    high, low = words[0], words[-1]
    sections = [
        (KEY_SECTION_1 << 44) | ((change.key_expiry >> 4) << 40) | (change.key_revision << 36)
        | (int(change.rollover) << 35) | (change.key_type << 32) | high,
        (KEY_SECTION_2 << 44) | ((change.key_expiry & 0xF) << 40) | (ti << 32) | low,
    ]
    if len(nk) == 16:
        sgc = int(change.supply_group)
        sections += [(KEY_SECTION_3 << 44) | ((sgc & 0xFFF) << 32) | words[1],
                     (KEY_SECTION_4 << 44) | ((sgc >> 12) << 32) | words[2]]
    return [tk.encode(tk.MANAGEMENT, tk.seal(tk.MANAGEMENT, f), key, encryption)
            for f in sections]


def test_token(subclass: int, control: int, manufacturer: int) -> str:
    """A class 1 InitiateMeterTest/Display token: subclass 0 has a 2-digit manufacturer code
    (8 bits) and 36 control bits, subclass 1 a 4-digit code (16 bits) and 28 control bits."""
    widths = {0: (36, 8), 1: (28, 16)}
    if subclass not in widths:
        raise StsError(f"--subclass {subclass}: test tokens are subclass 0 or 1")
    control_bits, mfr_bits = widths[subclass]
    if not 0 <= control < 1 << control_bits or not 0 <= manufacturer < 1 << mfr_bits:
        raise StsError(f"test token subclass {subclass}: control is {control_bits} bits, the "
                       f"manufacturer code {mfr_bits} bits")
    fields = (subclass << 44) | (control << mfr_bits) | manufacturer
    return tk.encode(tk.TEST, tk.seal(tk.TEST, fields), b"", Encryption.STA)


def describe(decoded: tk.Decoded, base_year: int) -> dict[str, object]:
    """What a decoded token says, with the JSON keys of `rig sts decode --json`."""
    cls, sub, fields = decoded.token_class, decoded.subclass, decoded.fields48
    out: dict[str, object] = {"class": cls, "subclass": sub, "tid": None, "issued_at": None,
                              "amount": None, "unit": None, "name": None}
    has_tid = cls == tk.CREDIT or (cls == tk.MANAGEMENT and sub in MANAGEMENT_NAMES
                                   and sub not in KEY_SECTIONS)
    if has_tid:
        tid = (fields >> 16) & 0xFFFFFF
        out["tid"] = tid
        out["issued_at"] = tk.issued_at_of(tid, base_year).isoformat()
        out["random"] = (fields >> 40) & 0xF
    value = fields & 0xFFFF
    if cls == tk.CREDIT and sub in CREDIT_KINDS:
        name, unit, step = CREDIT_KINDS[sub]
        out |= {"name": f"credit: {name}", "unit": unit,
                "amount": str(amount_field.count_of(value) * step)}
    elif cls == tk.MANAGEMENT and sub in MANAGEMENT_NAMES:
        out["name"] = MANAGEMENT_NAMES[sub]
        if sub in COUNTED:
            out |= {"amount": str(amount_field.count_of(value)), "unit": COUNTED[sub]}
        elif sub in KEY_SECTIONS:
            out |= _key_section(sub, fields)
        else:
            out["value"] = f"{value:#06x}"
    elif cls == tk.TEST:
        out["name"] = "meter test/display"
    else:
        out["name"] = f"class {cls} subclass {sub} (not defined by rig)"
    return out


def _key_section(sub: int, fields: int) -> dict[str, object]:
    """The fields of one key change section; the key half itself is never shown."""
    if sub == KEY_SECTION_1:
        return {"kenho": (fields >> 40) & 0xF, "key_revision": (fields >> 36) & 0xF,
                "rollover": bool((fields >> 35) & 1), "key_type": (fields >> 32) & 0b11}
    if sub == KEY_SECTION_2:
        return {"kenlo": (fields >> 40) & 0xF, "tariff_index": f"{(fields >> 32) & 0xFF:02d}"}
    return {"supply_group_part": (fields >> 32) & 0xFFF}
