"""Certification scenarios of a keypad meter (a profile with `[sts]`): STS tokens typed on it.

The tokens are made as a vending office makes them (rig/sts) under the decoder key the STS
test vending key gives the profile's identity: an emulated meter is commissioned with it, a
real STS test meter is commissioned with the same public test key. Who types a token is the
bench's keypad (control channel, or the operator); the credit is read back over the meter's
own protocol, never from the emulator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from rig.bench.keypad import Keypad, KeypadEntry, keypad_for
from rig.profile import CreditKind
from rig.scenarios.steps import BenchSteps
from rig.sts import token as tk
from rig.sts import tokens
from rig.sts.identity import StsSection
from rig.sts.keys import BASE_YEARS


class _Vendor:
    """Makes this meter's tokens, each with its own TID (minutes before the bench's now)."""

    def __init__(self, s: BenchSteps) -> None:
        sts = s.bench.profile.sts
        if sts is None:
            raise ValueError(f"profile {s.bench.profile.name!r} has no [sts] section")
        self.sts: StsSection = sts
        self.key = sts.lab_decoder_key()
        self.money = s.bench.profile.credit.unit is CreditKind.MONEY
        # kWh tokens on an energy meter; currency tokens on a money meter: 0.15 of its currency
        # in steps of its currency_step (whole cents exactly at any size with a cent step, only
        # below 0.16384 with the base unit 1, docs/sts.md)
        if self.money:
            count = max(1, int(Decimal("0.15") / sts.currency_step))
            self.amount = count * tokens.CREDIT_KINDS[4][2]  # in the token's base units
            self.added = count * sts.currency_step  # on the meter, in its currency
        else:
            self.amount = self.added = Decimal("10.0")
        self._now = s.bench.now().replace(second=0, microsecond=0)
        self._minutes = 0

    def issue(self, minutes_earlier: int | None = None) -> tokens.Issue:
        if minutes_earlier is None:
            self._minutes += 1
            minutes_earlier = self._minutes
        when: datetime = self._now - timedelta(minutes=minutes_earlier)
        return tokens.Issue(when, self.sts.base_date, minutes_earlier % 16)

    def credit(self, key: bytes | None = None, minutes_earlier: int | None = None,
               amount: Decimal | None = None) -> str:
        return tokens.credit_token(key or self.key, self.sts.encryption,
                                   subclass=4 if self.money else 0,
                                   amount=amount or self.amount,
                                   issue=self.issue(minutes_earlier))


def _type(s: BenchSteps, keypad_entry: KeypadEntry, expected: str) -> None:
    s.record.measure("meter display", keypad_entry.display, equals=expected)


def _refused(s: BenchSteps, keypad: Keypad, token: str, display: str) -> None:
    """Type a token the meter must refuse: its display, and not a unit of credit added."""
    before = s.meter.remaining()
    _type(s, keypad.enter(token), display)
    s.record.measure("remaining credit unchanged", s.meter.remaining(), s.unit, equals=before)


def sts_credit_token_is_accepted(s: BenchSteps) -> None:
    """A credit token typed on the keypad adds exactly its amount.

    Certifies IEC 62055-31:2022 5.8.3, 5.4.3, Annex A; IEC 62055-41
    (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    with s.record.step("type a credit token"):
        before = s.meter.remaining()
        _type(s, keypad.enter(v.credit()), "Accept")
        s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                         equals=before + v.added)


def sts_used_token_is_refused(s: BenchSteps) -> None:
    """The same token typed again is refused as Used and adds nothing.

    Certifies IEC 62055-31:2022 5.8.3, 5.4.3, Annex A; IEC 62055-41
    (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    token = v.credit()
    with s.record.step("type a credit token"):
        _type(s, keypad.enter(token), "Accept")
    with s.record.step("type the same token again"):
        _refused(s, keypad, token, "Used")


def sts_old_token_is_refused(s: BenchSteps) -> None:
    """With the meter's TID memory full (`[sts] tid_memory` tokens), a token older than all
    of them is refused as Old.

    Certifies IEC 62055-31:2022 5.8.3, 5.4.3, Annex A; IEC 62055-41
    (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    depth = v.sts.tid_memory
    small = None if v.money else Decimal("0.1")
    old = v.credit(minutes_earlier=10 * depth, amount=small)
    with s.record.step(f"type {depth} newer tokens"):
        accepted = sum(keypad.enter(v.credit(amount=small)).display == "Accept"
                       for _ in range(depth))
        s.record.measure("tokens accepted", accepted, equals=depth)
    with s.record.step("type a token older than all of them"):
        _refused(s, keypad, old, "Old")


def sts_token_made_for_a_different_meter_is_refused(s: BenchSteps) -> None:
    """A token made for another meter's PAN does not decrypt here: a CRC error, no credit.

    Certifies IEC 62055-31:2022 5.8.3, 5.4.3, Annex A; IEC 62055-41
    (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    other_pan = ("000001000000000082" if v.sts.pan != "000001000000000082"
                 else "600727000000000009")
    other_key = v.sts.model_copy(update={"pan": other_pan}).lab_decoder_key()
    with s.record.step("type another meter's token"):
        _refused(s, keypad, v.credit(key=other_key), "CRC Err")


def sts_key_change_then_a_token_under_the_new_key(s: BenchSteps) -> None:
    """A key change set (to the next key revision) takes effect: a token under the new key is
    accepted, one under the old key is refused.

    Certifies IEC 62055-31:2022 5.8.3, Annex A; IEC 62055-41 (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    new_krn = v.sts.key_revision % 9 + 1
    new_sts = v.sts.model_copy(update={"key_revision": new_krn})
    new_key = new_sts.lab_decoder_key()
    change = tokens.KeyChange(new_key, new_krn, v.sts.key_type, v.sts.tariff_index,
                              supply_group=v.sts.supply_group)
    sections = tokens.key_change_tokens(v.key, v.sts.encryption, change)
    with s.record.step(f"type the {len(sections)} key change tokens"):
        shown = [keypad.enter(t).display for t in sections]
        s.record.measure("last section's display", shown[-1], equals="Accept")
        s.record.measure("displays", " ".join(shown))
    with s.record.step("a token under the new key"):
        before = s.meter.remaining()
        _type(s, keypad.enter(v.credit(key=new_key)), "Accept")
        s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                         equals=before + v.added)
    with s.record.step("a token under the old key"):
        _refused(s, keypad, v.credit(), "CRC Err")


def sts_rollover_to_the_next_base_date(s: BenchSteps) -> None:
    """The TID roll-over remedy: with the TID memory full of tokens of the old base date, a
    key change set with the roll-over flag (to the next key revision) moves the meter to the
    next base date with an empty TID memory: a token under the new key counting minutes from
    the new base date (a TID far below every remembered one, which a meter that kept its
    memory would refuse as Old) adds its amount, the same token again is Used, and a token
    under the old key is a CRC Err.

    Certifies IEC 62055-31:2022 5.8.3, Annex A; IEC 62055-41 (rig.scenarios.cert_citations).
    """
    v, keypad = _Vendor(s), keypad_for(s.bench.sim)
    later = [y for y in BASE_YEARS if y > v.sts.base_date]
    if not later:
        raise ValueError(f"base date {v.sts.base_date} is the last: no roll-over beyond it")
    new_krn = v.sts.key_revision % 9 + 1
    new_sts = v.sts.model_copy(update={"key_revision": new_krn, "base_date": later[0]})
    new_key = new_sts.lab_decoder_key()
    change = tokens.KeyChange(new_key, new_krn, v.sts.key_type, v.sts.tariff_index,
                              rollover=True, supply_group=v.sts.supply_group)
    depth = v.sts.tid_memory
    small = None if v.money else Decimal("0.1")
    with s.record.step(f"fill the TID memory: {depth} tokens of base date {v.sts.base_date}"):
        accepted = sum(keypad.enter(v.credit(amount=small)).display == "Accept"
                       for _ in range(depth))
        s.record.measure("tokens accepted", accepted, equals=depth)
    with s.record.step(f"type the roll-over key change set to base date {later[0]}"):
        shown = [keypad.enter(t).display
                 for t in tokens.key_change_tokens(v.key, v.sts.encryption, change)]
        s.record.measure("last section's display", shown[-1], equals="Accept")
    # a TID counted from the new base date: its first hours
    first = tokens.Issue(tk.base_date(later[0]) + timedelta(minutes=7), later[0], 5)
    token = tokens.credit_token(new_key, v.sts.encryption, subclass=4 if v.money else 0,
                                amount=v.amount, issue=first)
    with s.record.step("a token of the new base date under the new key"):
        before = s.meter.remaining()
        _type(s, keypad.enter(token), "Accept")
        s.record.measure("remaining credit", s.meter.remaining(), s.unit,
                         equals=before + v.added)
    with s.record.step("the same token again"):
        _refused(s, keypad, token, "Used")
    with s.record.step("a token under the old key"):
        _refused(s, keypad, v.credit(), "CRC Err")
