"""The meter's side of the SLE 4442 format: what a memory-card prepaid meter does with a card.

The meter talks to the chip on its own 2-wire bus (native commands, :class:`NativeBus`), not
through a PC/SC reader. One insertion, as for every rig format:

1. **check** — read the whole memory; the chip's ATR header, the identity block (issued, its
   CRC, bound to this meter, this key revision), the error counter (a locked card is
   refused) — all before presenting the PSC, so a card of another meter never loses a PSC
   attempt here. Then the block the card kind carries (CRC, binding, purchase count exactly
   last + 1, hoarding limit), then the PSC. Nothing in the meter changes in this phase.
2. **apply** — the purchase (once), a parameter set, a clear command.
3. **readback** — into the older of the two readback slots, so a card pulled mid-write keeps
   the previous readback; MAC'd by the meter under its own readback key (the card has none).

A refusal carries a State Grid card error code (docs/card-formats/sle4442.md lists which).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.card.apdu import CardRemovedError, RecordError
from rig.card.keys import derive_readback_mac_key, mac
from rig.card.session import ApduTransport
from rig.card_formats.interface import CardRefusal, InsertionOutcome, MeterWallet
from rig.card_formats.meter_rules import apply_vend_alarms, parameter_levels
from rig.card_formats.readback_registers import registers_now
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.chip import (
    ATR_HEADER,
    EC_FULL,
    MAIN_SIZE,
    READ_MAIN,
    READ_SECURITY,
    UPDATE_MAIN,
    verify_psc,
)
from rig.card_formats.sle4442.writer import KINDS
from rig.errors import CardError
from rig.meter.card_errors import CardErrorCode

NO_SERIAL = "0" * 16


class _Refused(Exception):
    """A check failed before any register changed; the message is the meter's reason."""

    def __init__(self, message: str, code: CardErrorCode) -> None:
        super().__init__(message)
        self.code = code
        self.serial = NO_SERIAL  # the card's, once its identity was read
        self.memory = b""  # the card's memory as read (to find the readback slot to write)
        self.write_readback = False  # the card is ours and open: record the refusal on it


@dataclass
class _Plan:
    identity: layout.Identity
    memory: bytes
    purchase: layout.PurchaseBlock | None = None
    parameters: layout.ParameterBlock | None = None
    clear: layout.ClearBlock | None = None
    messages: list[str] = field(default_factory=list)
    applied: int | None = None
    changed: bool = False


class _Bus:
    """Native commands over the slot's transport (3 bytes in, the chip's output back)."""

    def __init__(self, transport: ApduTransport) -> None:
        self.transport = transport

    def command(self, control: int, address: int, data: int = 0) -> bytes:
        return self.transport.transmit(bytes([control, address, data]))

    def write(self, address: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            self.command(UPDATE_MAIN, address + i, byte)


def native_transport(transport: Any) -> ApduTransport:
    """The chip's bus behind ``transport``: a NativeBus as is, or the native bus of the
    virtual card a slot transport holds (``.app`` / ``.card``) or is."""
    for candidate in (transport, getattr(transport, "app", None),
                      getattr(transport, "card", None)):
        native = getattr(candidate, "meter_slot", None)
        if callable(native):
            return native()  # type: ignore[no-any-return]
    return transport  # type: ignore[no-any-return]


class SLE4442MeterReader:
    """A ``MeterCardReader``: one card slot of one memory-card meter."""

    def __init__(self, wallet: MeterWallet, meter_no: str, psc: bytes, *,
                 readback_key: bytes, key_revision: int) -> None:
        self.wallet = wallet
        self.meter_no = meter_no
        self._psc = psc  # this meter's own, derived at manufacture
        self._readback_key = readback_key  # this meter's, from the centre's readback master
        self.key_revision = key_revision
        self.parameters_version = 0
        self.last_clear_no = 0
        self.refusal_code = 0
        self.refusal_count = 0

    # -- one insertion ------------------------------------------------------------------
    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        bus = _Bus(native_transport(transport))
        try:
            plan = self._check(bus)
        except _Refused as e:
            return self._refuse(bus, e, now)
        except CardRemovedError as e:
            return self._refused(str(e), CardErrorCode.CARD_PULLED_EARLY, NO_SERIAL)
        except CardError as e:
            return self._refused(f"card error: {e}", CardErrorCode.CARD_COMMUNICATION_ERROR,
                                 NO_SERIAL)
        card_type = KINDS[plan.identity.kind].value
        self._apply(plan, now)
        try:
            self._write_readback(bus, plan.memory, now)
        except CardError as e:
            if not plan.changed:
                return self._refused(f"card error: {e}", CardErrorCode.CARD_PULLED_EARLY,
                                     plan.identity.card_serial, card_type)
            plan.messages.append(f"card removed before the readback was written ({e})")
        else:
            plan.messages.append("readback written")
        params = None
        if plan.parameters is not None:
            params = {f: getattr(plan.parameters, f) for f in (
                "version", "alarm1", "alarm2", "overdraft_limit", "hoarding_limit",
                "power_limit_w", "tariff_version")}
            params["price_per_kwh"] = str(plan.parameters.price_per_kwh)
        return InsertionOutcome(True, plan.applied, "; ".join(plan.messages), card_type,
                                params)

    def _refused(self, message: str, code: CardErrorCode, serial: str,
                 card_type: str = "") -> InsertionOutcome:
        self.refusal_code, self.refusal_count = int(code), self.refusal_count + 1
        return InsertionOutcome(False, None, message, card_type,
                                refusal=CardRefusal(int(code), serial))

    def _refuse(self, bus: _Bus, e: _Refused, now: datetime) -> InsertionOutcome:
        outcome = self._refused(str(e), e.code, e.serial)
        if e.write_readback:  # the meter's own card, PSC verified: tell the centre why
            with contextlib.suppress(CardError):  # the next insertion writes one then
                self._write_readback(bus, e.memory, now)
        return outcome

    # -- phase 1: check -----------------------------------------------------------------
    def _check(self, bus: _Bus) -> _Plan:
        memory = bus.command(READ_MAIN, 0)
        if len(memory) != MAIN_SIZE or memory[:4] != ATR_HEADER:
            raise _Refused("not an SLE 4442 card", CardErrorCode.CARD_RESET_ERROR)
        try:
            identity = layout.Identity.decode(
                memory[layout.IDENTITY_AT:layout.IDENTITY_AT + layout.IDENTITY_SIZE])
        except RecordError as e:
            raise _Refused(f"card identity not valid ({e})",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        if identity is None:
            raise _Refused("card not issued", CardErrorCode.CARD_NOT_ISSUED)
        try:
            return self._check_issued(bus, memory, identity)
        except _Refused as e:
            e.serial, e.memory = identity.card_serial, memory
            raise

    def _check_issued(self, bus: _Bus, memory: bytes, identity: layout.Identity) -> _Plan:
        if identity.meter_no != self.meter_no:
            raise _Refused(f"card is for meter {identity.meter_no}",
                           CardErrorCode.METER_NUMBER_MISMATCH)
        if identity.key_revision != self.key_revision:
            raise _Refused(f"card issued at key revision {identity.key_revision}, meter at "
                           f"{self.key_revision}", CardErrorCode.NOT_AUTHORISED)
        if bus.command(READ_SECURITY, 0)[0] & EC_FULL == 0:
            raise _Refused("card locked: three wrong PSC presentations",
                           CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR)
        plan = _Plan(identity, memory)
        check = {layout.CardKindCode.USER: self._check_user,
                 layout.CardKindCode.PARAMETER: self._check_parameters,
                 layout.CardKindCode.CLEAR: self._check_clear}.get(identity.kind)
        refusal: _Refused | None = None
        try:
            if check is not None:
                check(plan)
        except _Refused as e:
            refusal = e
        if verify_psc(bus.command, self._psc) != EC_FULL:
            raise _Refused("card refused the meter's PSC",
                           CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR)
        if refusal is not None:
            refusal.write_readback = True
            raise refusal
        return plan

    def _block(self, cls: type[Any], plan: _Plan, at: int) -> Any:
        try:
            block = cls.decode(plan.memory[at:at + cls.SIZE])
        except RecordError as e:
            raise _Refused(f"{cls.NAME} block not valid ({e})",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        return block

    def _check_user(self, plan: _Plan) -> None:
        p: layout.PurchaseBlock | None = self._block(layout.PurchaseBlock, plan,
                                                      layout.PURCHASE_AT)
        if p is None:
            return
        if p.meter_no != self.meter_no:
            raise _Refused(f"purchase is for meter {p.meter_no}",
                           CardErrorCode.METER_NUMBER_MISMATCH)
        if layout.UNIT_NAMES[p.unit] != self.wallet.credit_unit:
            raise _Refused("purchase credit unit does not match the meter",
                           CardErrorCode.CARD_TYPE_ERROR)
        last = self.wallet.last_sequence
        if p.sequence == last:
            plan.messages.append(f"purchase {p.sequence} already applied: no new credit")
            return
        if p.sequence != last + 1:
            raise _Refused(f"purchase count {p.sequence}: the meter takes {last + 1} next",
                           CardErrorCode.PURCHASE_COUNT_ERROR)
        if self.wallet.would_hoard(p.credit):
            raise _Refused("hoarding limit exceeded: refused",
                           CardErrorCode.HOARDING_LIMIT_EXCEEDED)
        plan.purchase = p

    def _levels(self, block: layout.ParameterBlock) -> dict[str, Decimal]:
        """The parameter card's levels in the wallet's unit: one method, so the firmware has
        one place that reads them (a mutant meter that ignores the card overrides it)."""
        return parameter_levels(self.wallet, block)

    def _check_parameters(self, plan: _Plan) -> None:
        p: layout.ParameterBlock | None = self._block(layout.ParameterBlock, plan,
                                                       layout.PARAMETERS_AT)
        if p is None:
            raise _Refused("parameter card carries no parameters",
                           CardErrorCode.CARD_FILE_FORMAT_ERROR)
        try:
            self.wallet.thresholds_with(**self._levels(p))
        except ValueError as e:
            raise _Refused(str(e), CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        plan.parameters = p

    def _check_clear(self, plan: _Plan) -> None:
        c: layout.ClearBlock | None = self._block(layout.ClearBlock, plan, layout.CLEAR_AT)
        if c is None:
            raise _Refused("clear card carries no command", CardErrorCode.CARD_FILE_FORMAT_ERROR)
        plan.clear = c

    # -- phase 2: apply -----------------------------------------------------------------
    def _apply(self, plan: _Plan, now: datetime) -> None:
        w, msgs = self.wallet, plan.messages
        p = plan.purchase
        if p is not None:
            if p.tariff_version and w.apply_tariff(p.tariff_version, p.price_per_kwh):
                msgs.append(f"tariff {p.tariff_version} applied")
            w.apply_purchase(p.sequence, p.credit, now)
            plan.applied, plan.changed = p.sequence, True
            msgs.append(f"credit applied (purchase {p.sequence})")
            apply_vend_alarms(w, p.alarm1, p.alarm2, msgs)
        if plan.parameters is not None:
            q = plan.parameters
            if q.version <= self.parameters_version:
                msgs.append(f"parameters {q.version} already applied")
            else:
                w.set_thresholds(**self._levels(q))
                if q.tariff_version:
                    w.apply_tariff(q.tariff_version, q.price_per_kwh)
                self.parameters_version, plan.changed = q.version, True
                msgs.append(f"parameters {q.version} applied")
        c = plan.clear
        if c is not None:
            if c.action is layout.ClearAction.TEST:
                msgs.append("test card: meter state shown, nothing changed")
            elif c.clear_no <= self.last_clear_no:
                msgs.append(f"clear command {c.clear_no} already applied")
            else:
                w.clear_events()
                self.last_clear_no, plan.changed = c.clear_no, True
                msgs.append(f"event counters cleared (clear command {c.clear_no})")
        if plan.identity.kind is layout.CardKindCode.CHECK:
            msgs.append("check card: usage data collected")

    # -- phase 3: readback --------------------------------------------------------------
    def readback(self, at: datetime, generation: int) -> layout.ReadbackBlock:
        """The meter's registers as the next readback, MAC'd under its readback key."""
        block = layout.ReadbackBlock(
            generation=generation, meter_no=self.meter_no,
            unit=layout.UNITS[self.wallet.credit_unit],
            **registers_now(self.wallet.readback_values(at), at),
            refusal_code=self.refusal_code, refusal_count=self.refusal_count & 0xFFFF)
        key = derive_readback_mac_key(self._readback_key, self.key_revision)
        return replace(block, mac=mac(key, block.signed()))

    def _write_readback(self, bus: _Bus, memory: bytes, at: datetime) -> None:
        slots = tuple(memory[a:a + layout.READBACK_SIZE] for a in layout.READBACK_SLOTS)
        index, newest = layout.newest_readback((slots[0], slots[1]))
        generation = ((newest.generation if newest else 0) + 1) & 0xFFFF
        bus.write(layout.READBACK_SLOTS[index], self.readback(at, generation).to_bytes())

    # -- NVM --------------------------------------------------------------------------------
    def nvm_state(self) -> dict[str, Any]:
        return {"key_revision": self.key_revision, "parameters_version": self.parameters_version,
                "last_clear_no": self.last_clear_no, "refusal_code": self.refusal_code,
                "refusal_count": self.refusal_count}

    def restore_nvm_state(self, state: Mapping[str, Any]) -> None:
        """The meter's records back after a power cycle. Its key revision (with the PSC and
        readback key derived for it) is the one it was made with: the format has no
        key-change card."""
        self.parameters_version = int(state.get("parameters_version", 0))
        self.last_clear_no = int(state.get("last_clear_no", 0))
        self.refusal_code = int(state.get("refusal_code", 0))
        self.refusal_count = int(state.get("refusal_count", 0))
