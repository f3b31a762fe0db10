"""The emulated meter's STS keypad: which typed tokens it accepts, and their effect, once.

The meter side of IEC 62055-41: decrypt with the meter's decoder key, check the CRC, then the
token identifier (TID) against the memory of accepted TIDs — one already there is USED, one
older than the oldest of a full memory is OLD — and the key's expiry, then apply the token
exactly once and remember its TID. Key change tokens arrive in sets (2 sections for a 64-bit
key, 4 for a 128-bit one), each under the old key; the new key takes effect when the set is
complete, and a set with the roll-over flag also clears the TID memory and moves the meter to
the next base date. What the meter does with credit, a power limit or a cleared tamper is
the owner's: callbacks, so the prepaid engine stays the one place credit lives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rig.profile import CreditKind, MeterProfile, PowerLimit
from rig.sim.prepaid import PrepaidEngine
from rig.sts import amount as amount_field
from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.errors import StsError, TokenCrcError
from rig.sts.keys import BASE_YEARS, Encryption

if TYPE_CHECKING:
    from rig.sim.world import BenchWorld

# How many accepted TIDs the meter remembers (its TID record) unless its profile says.
TID_MEMORY = 50


class TokenResult(StrEnum):
    """The token results of IEC 62055-41 a keypad meter shows (the display text)."""

    ACCEPT = "Accept"
    KCT_1 = "1stKCT"
    KCT_2 = "2ndKCT"
    KCT_3 = "3rdKCT"
    OLD = "Old"
    USED = "Used"
    KEY_EXPIRED = "KeyExp"
    CRC = "CRC Err"  # also a token for another meter or under another key: indistinguishable
    FORMAT = "Format"
    FUNCTION = "Function"
    RANGE = "Range"
    DDTK = "DDTK Err"
    OVERFLOW = "Overflow"


CURRENCY_RESOLUTION = tokens.CREDIT_KINDS[4][2]  # 0.00001 base currency units per step

@dataclass(frozen=True)
class KeypadResult:
    """What the meter showed after one token, and what it did."""

    result: TokenResult
    detail: str = ""
    credit: Decimal | None = None  # credit added, in the token's unit
    unit: str | None = None

    @property
    def accepted(self) -> bool:
        return self.result in (TokenResult.ACCEPT, TokenResult.KCT_1, TokenResult.KCT_2,
                               TokenResult.KCT_3)

    def to_dict(self) -> dict[str, object]:
        return {"result": self.result.name, "display": self.result.value,
                "accepted": self.accepted, "detail": self.detail,
                "credit": None if self.credit is None else str(self.credit), "unit": self.unit}


@dataclass
class KeypadEffects:
    """What an accepted token does to the rest of the meter. `credit` returns the refusal
    when the meter cannot take it (another unit, a register overflow): the token is then
    refused and its TID not kept."""

    credit: Callable[[int, Decimal, datetime], TokenResult | None]  # (subclass, amount, at)
    power_limit: Callable[[int], None] = lambda watts: None
    clear_credit: Callable[[], None] = lambda: None
    clear_tamper: Callable[[], None] = lambda: None


@dataclass
class StsKeypad:
    """One meter's STS identity and token memory."""

    decoder_key: bytes
    encryption: Encryption
    effects: KeypadEffects
    base_year: int = 1993
    key_type: int = 2
    key_revision: int = 1
    tariff_index: str = "01"
    key_expiry: int = 255  # KEN: 255 never expires
    tids: deque[int] = field(default_factory=lambda: deque(maxlen=TID_MEMORY))
    _pending: dict[int, int] = field(default_factory=dict)  # key change section -> fields

    def enter(self, typed: str, at: datetime) -> KeypadResult:
        """Process one token typed on the keypad."""
        try:
            decoded = tk.decode(typed, self.decoder_key, self.encryption)
        except TokenCrcError:
            return KeypadResult(TokenResult.CRC, "CRC error: mistyped, or another meter's key")
        except StsError as e:
            return KeypadResult(TokenResult.FORMAT, str(e))
        if decoded.token_class == tk.TEST:
            return KeypadResult(TokenResult.ACCEPT, "test/display token")
        if decoded.token_class == tk.MANAGEMENT and decoded.subclass in tokens.KEY_SECTIONS:
            return self._key_section(decoded)
        if decoded.token_class == tk.CREDIT and decoded.subclass in tokens.CREDIT_KINDS:
            if self.key_type == 1:
                return KeypadResult(TokenResult.DDTK, "no credit under a default key (KT 1)")
        elif decoded.token_class != tk.MANAGEMENT or decoded.subclass not in (
                tokens.SET_POWER_LIMIT, tokens.CLEAR_CREDIT, tokens.CLEAR_TAMPER):
            return KeypadResult(TokenResult.FUNCTION,
                                f"class {decoded.token_class} subclass {decoded.subclass} "
                                "is not supported by this meter")
        tid = (decoded.fields48 >> 16) & 0xFFFFFF
        refused = self._tid_refusal(tid)
        if refused is not None:
            return refused
        result = self._apply(decoded, at)
        if result.accepted:
            self.tids.append(tid)
        return result

    def _tid_refusal(self, tid: int) -> KeypadResult | None:
        if tid in self.tids:
            return KeypadResult(TokenResult.USED, f"TID {tid} was accepted before")
        if len(self.tids) == self.tids.maxlen and tid < min(self.tids):
            return KeypadResult(TokenResult.OLD, f"TID {tid} is older than the oldest of the "
                                f"{self.tids.maxlen} remembered")
        if tid >> 16 > self.key_expiry:
            return KeypadResult(TokenResult.KEY_EXPIRED,
                                f"TID {tid} is past key expiry number {self.key_expiry}")
        return None

    def _apply(self, decoded: tk.Decoded, at: datetime) -> KeypadResult:
        value = decoded.fields48 & 0xFFFF
        if decoded.token_class == tk.CREDIT:
            _, unit, step = tokens.CREDIT_KINDS[decoded.subclass]
            amount = amount_field.count_of(value) * step
            refusal = self.effects.credit(decoded.subclass, amount, at)
            if refusal is not None:
                return KeypadResult(refusal, f"{amount} {unit} not taken")
            return KeypadResult(TokenResult.ACCEPT, "credit added", amount, unit)
        if decoded.subclass == tokens.SET_POWER_LIMIT:
            watts = amount_field.count_of(value)
            self.effects.power_limit(watts)
            return KeypadResult(TokenResult.ACCEPT, f"maximum power limit {watts} W")
        if decoded.subclass == tokens.CLEAR_CREDIT:
            self.effects.clear_credit()
            return KeypadResult(TokenResult.ACCEPT, "credit cleared")
        self.effects.clear_tamper()
        return KeypadResult(TokenResult.ACCEPT, "tamper condition cleared")

    def _key_section(self, decoded: tk.Decoded) -> KeypadResult:
        needed = ((tokens.KEY_SECTION_1, tokens.KEY_SECTION_2, tokens.KEY_SECTION_3,
                   tokens.KEY_SECTION_4) if self.encryption.key_bytes == 16
                  else (tokens.KEY_SECTION_1, tokens.KEY_SECTION_2))
        if decoded.subclass not in needed:
            return KeypadResult(TokenResult.FUNCTION, "a 128-bit key section on a 64-bit meter")
        self._pending[decoded.subclass] = decoded.fields48
        missing = [s for s in needed if s not in self._pending]
        if missing:
            shown = (TokenResult.KCT_1, TokenResult.KCT_2, TokenResult.KCT_3)[
                min(len(needed) - len(missing), 3) - 1]
            return KeypadResult(shown, f"key change: {len(missing)} section(s) to go")
        self._install([self._pending.pop(s) for s in needed])
        return KeypadResult(TokenResult.ACCEPT, f"new decoder key, KRN {self.key_revision}, "
                            f"base date {self.base_year}")

    def _install(self, sections: list[int]) -> None:
        first, second = sections[0], sections[1]
        words = [first & 0xFFFFFFFF]
        if len(sections) == 4:
            words += [sections[2] & 0xFFFFFFFF, sections[3] & 0xFFFFFFFF]
        words.append(second & 0xFFFFFFFF)
        self.decoder_key = b"".join(w.to_bytes(4, "big") for w in words)
        self.key_expiry = (((first >> 40) & 0xF) << 4) | ((second >> 40) & 0xF)
        self.key_revision = (first >> 36) & 0xF
        self.key_type = (first >> 32) & 0b11
        self.tariff_index = f"{(second >> 32) & 0xFF:02d}"
        if (first >> 35) & 1:  # roll-over: a new base date and an empty TID memory
            later = [y for y in BASE_YEARS if y > self.base_year]
            if later:
                self.base_year = later[0]
            self.tids.clear()


def engine_effects(engine: PrepaidEngine,
                   currency_step: Decimal = CURRENCY_RESOLUTION) -> KeypadEffects:
    """Tokens into the prepaid engine: electricity kWh tokens (subclass 0) on an energy meter,
    electricity currency tokens (subclass 4) on a money meter, each of whose steps is worth
    ``currency_step`` of its currency; credit is added exactly as a card purchase is
    (emergency credit repaid first), a hoarding breach is an Overflow, an amount its
    register (whole cents) cannot hold a Range error."""
    money = engine.profile.credit.unit is CreditKind.MONEY

    def credit(subclass: int, amount: Decimal, at: datetime) -> TokenResult | None:
        if subclass != (4 if money else 0):
            return TokenResult.FUNCTION
        if money:  # the token's steps (of 0.00001 base units) in the meter's currency
            amount = amount / CURRENCY_RESOLUTION * currency_step
        units = amount * (100 if money else 1000)  # card units: 0.01 money or 1 Wh
        if units != units.to_integral_value():
            return TokenResult.RANGE
        if engine.would_hoard(int(units)):
            return TokenResult.OVERFLOW
        engine.apply_purchase(engine.last_sequence, int(units), at)
        return None

    def power_limit(watts: int) -> None:
        """SetMaximumPowerLimit: the limit in W replaces the profile's (a current limit
        goes; 0 lifts the limit); the reconnect delay stays."""
        old = engine.profile.power_limit
        if watts == 0:  # rig's reading: a zero limit lifts the limit
            engine.profile = engine.profile.model_copy(update={"power_limit": None})
            return
        limit = PowerLimit(max_power_w=Decimal(watts),
                           reconnect_delay_s=old.reconnect_delay_s if old else 60)
        engine.profile = engine.profile.model_copy(update={"power_limit": limit})

    def clear_credit() -> None:
        engine.credit = min(engine.credit, Decimal(0))

    return KeypadEffects(credit=credit, power_limit=power_limit, clear_credit=clear_credit)


@dataclass(frozen=True)
class StsMeterSetup:
    """The STS identity an emulated keypad meter is commissioned with."""

    decoder_key: bytes
    encryption: Encryption = Encryption.STA
    base_year: int = 1993
    key_type: int = 2
    key_revision: int = 1
    tariff_index: str = "01"
    key_expiry: int = 255
    tid_memory: int = TID_MEMORY
    currency_step: Decimal = Decimal("0.00001")  # a currency token's step, in the currency

    def keypad_for(self, engine: PrepaidEngine) -> StsKeypad:
        return StsKeypad(self.decoder_key, self.encryption,
                         engine_effects(engine, self.currency_step),
                         base_year=self.base_year, key_type=self.key_type,
                         key_revision=self.key_revision, tariff_index=self.tariff_index,
                         key_expiry=self.key_expiry, tids=deque(maxlen=self.tid_memory))


def keypad_reply(keypad: StsKeypad | None, world: BenchWorld, now: Callable[[], datetime],
                 request: dict[str, Any]) -> dict[str, Any]:
    """The control channel's `keypad` op: one token typed on the meter, at bench time."""
    if keypad is None:
        return {"ok": False, "error": "this emulated meter has no STS keypad"}
    with world.lock:
        world.advance()  # the credit lands at the instant it is typed
        return {"ok": True, **keypad.enter(str(request.get("token", "")), now()).to_dict()}


def lab_setup(profile: MeterProfile) -> StsMeterSetup | None:
    """The keypad an emulated meter of `profile` gets: none without an `[sts]` section."""
    sts = profile.sts
    if sts is None:
        return None
    return StsMeterSetup(sts.lab_decoder_key(), sts.encryption, sts.base_date, sts.key_type,
                         sts.key_revision, sts.tariff_index, tid_memory=sts.tid_memory,
                         currency_step=sts.currency_step)
