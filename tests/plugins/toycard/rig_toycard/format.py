"""The toy card format: the station's writer, the meter's reader and the format object that
rig finds through the ``rig.card_formats`` entry point ``toycard``. It uses rig only through
its public pieces (the card-format interface, the meter's card error codes, rig's errors)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rig.card.session import ApduTransport
from rig.card.trace import ApduTrace
from rig.card_formats.interface import (
    MONEY_CENTS,
    Attack,
    CardKind,
    CardReadback,
    CardRefusal,
    ClearCommand,
    InsertionOutcome,
    IssuedCard,
    KeySource,
    MeterWallet,
    ParameterSet,
    Purchase,
    PurchaseOnCard,
    StationCardWriter,
)
from rig.errors import CardError
from rig.meter.card_errors import CardErrorCode as E
from rig_toycard.card import ToyCard
from rig_toycard.layout import (
    AID,
    ENERGY,
    HEADER,
    KIND_USER,
    MONEY,
    PURCHASE,
    PURCHASE_SIZE,
    RB_SIZE,
    READBACK,
    UNITS,
    Header,
    ToyPurchase,
    decode_readback,
    encode_readback,
    meter_key,
    readback_mac_key,
)

_HEADER_SIZE = 26


class _Link:
    """The toy's three commands over any transport, traced like rig's own sessions."""

    def __init__(self, transport: ApduTransport, trace: ApduTrace | None, terminal: str):
        self.transport, self.trace, self.terminal = transport, trace, terminal

    def _send(self, apdu: bytes) -> bytes:
        started = time.monotonic()
        rsp = self.transport.transmit(apdu)
        if self.trace is not None:
            self.trace.record(apdu, rsp, terminal=self.terminal, started=started,
                              duration=time.monotonic() - started)
        if rsp[-2:] != b"\x90\x00":
            raise CardError(f"toy card answered {rsp[-2:].hex().upper()} to "
                            f"{apdu[:5].hex(' ').upper()}")
        return rsp[:-2]

    def select(self) -> None:
        self._send(bytes([0x00, 0xA4, 0x04, 0x00, len(AID)]) + AID)

    def read(self, offset: int, length: int) -> bytes:
        return self._send(bytes([0x80, 0xB0, offset >> 8, offset & 0xFF, length]))

    def write(self, offset: int, data: bytes) -> None:
        self._send(bytes([0x80, 0xD0, offset >> 8, offset & 0xFF, len(data)]) + data)


def _on_card(meter_no: str, p: ToyPurchase) -> PurchaseOnCard:
    return PurchaseOnCard(meter_no, p.sequence, p.credit, UNITS[p.unit])


class ToyStationWriter:
    def __init__(self, master_secret: bytes, trace: ApduTrace | None) -> None:
        self._master = master_secret
        self.trace = trace

    def _link(self, transport: ApduTransport) -> _Link:
        link = _Link(transport, self.trace, getattr(transport, "name", "station"))
        link.select()
        return link

    def _header(self, link: _Link) -> Header:
        header = Header.from_bytes(link.read(HEADER, _HEADER_SIZE))
        if header is None:
            raise CardError("toy card not issued")
        return header

    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER) -> IssuedCard:
        if kind is not CardKind.USER:
            raise CardError(f"the toy card format has no {kind.value} card")
        link = self._link(transport)
        link.write(HEADER, Header(KIND_USER, card_serial.upper(), meter_no,
                                  key_revision).to_bytes())
        return self.identify(transport)

    def identify(self, transport: ApduTransport) -> IssuedCard:
        h = self._header(self._link(transport))
        return IssuedCard(h.serial, h.meter_no, CardKind.USER, h.key_revision)

    def write_purchase(self, transport: ApduTransport, purchase: Purchase) -> PurchaseOnCard:
        link = self._link(transport)
        h = self._header(link)
        if h.meter_no != purchase.meter_no or h.serial != purchase.card_serial.upper():
            raise CardError(f"toy card {h.serial} of meter {h.meter_no} is not card "
                            f"{purchase.card_serial} of meter {purchase.meter_no}")
        key = meter_key(self._master, purchase.meter_no, purchase.key_revision)
        applied = self._applied(link)
        current = ToyPurchase.from_bytes(link.read(PURCHASE, PURCHASE_SIZE))
        pending = current is not None and current[0].verifies(current[1], key, h.meter_no)
        if not (pending and current and current[0].sequence == purchase.sequence):
            if purchase.sequence <= applied:
                raise CardError(f"purchase {purchase.sequence}: the meter already applied "
                                f"{applied}")
            if pending and current and current[0].sequence > applied:
                raise CardError(f"card holds purchase {current[0].sequence} the meter has "
                                "not applied yet: insert the card into the meter first")
        record = ToyPurchase(purchase.sequence, purchase.credit,
                             MONEY if purchase.credit_unit == MONEY_CENTS else ENERGY,
                             purchase.tariff_version, purchase.price_per_kwh,
                             purchase.key_revision)
        signed = record.signed(key, h.meter_no)
        link.write(PURCHASE, signed)
        if link.read(PURCHASE, PURCHASE_SIZE) != signed:
            raise CardError("toy purchase read back differs from what was written")
        return _on_card(h.meter_no, record)

    @staticmethod
    def _applied(link: _Link) -> int:
        try:
            return int(decode_readback(link.read(READBACK, RB_SIZE))["last_sequence"])
        except CardError:
            return 0  # no readback yet

    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None:
        link = self._link(transport)
        h = self._header(link)
        found = ToyPurchase.from_bytes(link.read(PURCHASE, PURCHASE_SIZE))
        return None if found is None else _on_card(h.meter_no, found[0])

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet) -> None:
        raise CardError("the toy card format has no parameter card")

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None:
        raise CardError("the toy card format has no clear card")

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None:
        raise CardError("the toy card format has no key-change card")

    def read_readback(self, transport: ApduTransport) -> CardReadback:
        link = self._link(transport)
        h = self._header(link)
        raw = link.read(READBACK, RB_SIZE)
        try:
            fields = decode_readback(raw)
        except CardError:
            raise CardError(f"toy card {h.serial} carries no readback yet") from None
        return CardReadback(h.serial, raw, fields)

    def write_raw(self, transport: ApduTransport, offset: int, data: bytes) -> None:
        self._link(transport).write(offset, data)


class _Refused(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ToyMeterReader:
    """The toy meter: checks binding, revision and the purchase MAC before it changes
    anything; applies a new sequence once; then writes its readback."""

    def __init__(self, wallet: MeterWallet, meter_no: str, key: bytes, readback_master: Any,
                 key_revision: int) -> None:
        self.wallet, self.meter_no, self._key = wallet, meter_no, key
        self._readback_master = readback_master
        self.key_revision = key_revision

    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        link = _Link(transport, None, "meter")
        serial = "0" * 16
        try:
            try:
                link.select()
            except CardError as e:
                raise _Refused(f"not a toy card ({e})", E.CARD_TYPE_ERROR) from None
            header = Header.from_bytes(link.read(HEADER, _HEADER_SIZE))
            if header is None:
                raise _Refused("toy card not issued", E.CARD_NOT_ISSUED)
            serial = header.serial
            if header.meter_no != self.meter_no:
                raise _Refused(f"card is for meter {header.meter_no}",
                               E.METER_NUMBER_MISMATCH)
            if header.key_revision != self.key_revision:
                raise _Refused(f"card keyed for revision {header.key_revision}",
                               E.NOT_AUTHORISED)
            found = ToyPurchase.from_bytes(link.read(PURCHASE, PURCHASE_SIZE))
            purchase = self._checked(found)
        except _Refused as e:
            return InsertionOutcome(False, None, str(e), refusal=CardRefusal(e.code, serial))
        except CardError as e:
            return InsertionOutcome(False, None, f"card error: {e}",
                                    refusal=CardRefusal(E.CARD_COMMUNICATION_ERROR, serial))
        messages, applied = self._apply(purchase, now)
        values = {**self.wallet.readback_values(now), "meter_no": self.meter_no,
                  "timestamp": now.replace(microsecond=0)}
        key = readback_mac_key(self._readback_master, self.meter_no, self.key_revision)
        try:
            link.write(READBACK, encode_readback(values, key))
            messages.append("readback written")
        except CardError as e:
            messages.append(f"card removed before the readback was written ({e})")
        return InsertionOutcome(True, applied, "; ".join(messages), CardKind.USER.value)

    def _checked(self, found: tuple[ToyPurchase, bytes] | None) -> ToyPurchase | None:
        if found is None:
            return None
        purchase, tag = found
        if not purchase.verifies(tag, self._key, self.meter_no):
            raise _Refused("purchase MAC invalid: refused", E.MAC_ERROR)
        if purchase.key_revision != self.key_revision:
            raise _Refused(f"purchase made for revision {purchase.key_revision}",
                           E.NOT_AUTHORISED)
        if UNITS[purchase.unit] != self.wallet.credit_unit:
            raise _Refused("purchase credit unit does not match the meter", E.CARD_TYPE_ERROR)
        new = purchase.sequence > self.wallet.last_sequence
        if new and self.wallet.would_hoard(purchase.credit):
            raise _Refused("hoarding limit exceeded: refused", E.HOARDING_LIMIT_EXCEEDED)
        return purchase

    def _apply(self, p: ToyPurchase | None, now: datetime) -> tuple[list[str], int | None]:
        if p is None:
            return ["no purchase on the card"], None
        messages = []
        if self.wallet.apply_tariff(p.tariff_version, p.price_per_kwh):
            messages.append(f"tariff {p.tariff_version} applied")
        if p.sequence <= self.wallet.last_sequence:
            return [*messages, f"purchase {p.sequence} already applied"], None
        self.wallet.apply_purchase(p.sequence, p.credit, now)
        return [*messages, f"credit applied (purchase {p.sequence})"], p.sequence

    def nvm_state(self) -> dict[str, Any]:
        return {"key_revision": self.key_revision}

    def restore_nvm_state(self, state: Mapping[str, Any]) -> None:
        self.key_revision = int(state["key_revision"])


class ToyCardFormat:
    name = "toycard"
    description = "a toy plain-file card (tests/plugins/toycard): the boundary's proof"
    readback_format = "toy-v1"
    kinds = frozenset({CardKind.USER})
    options: Mapping[str, tuple[str, ...]] = {}

    def station_writer(self, keys: KeySource, *, trace: ApduTrace | None = None,
                       options: Mapping[str, str] | None = None) -> ToyStationWriter:
        return ToyStationWriter(keys.master.secret_bytes(), trace)

    def meter_reader(self, wallet: MeterWallet, meter_no: str, keys: KeySource, *,
                     key_revision: int) -> ToyMeterReader:
        readback_master = keys.readback_master
        if readback_master is None:
            from rig.card.keys import lab_readback_key
            readback_master = lab_readback_key()
        key = meter_key(keys.master.secret_bytes(), meter_no, key_revision)
        return ToyMeterReader(wallet, meter_no, key, readback_master, key_revision)

    def blank_card(self, options: Mapping[str, str] | None = None) -> ToyCard:
        return ToyCard()

    def card_from_dict(self, data: Mapping[str, Any]) -> ToyCard:
        return ToyCard.from_dict(data)

    def forged_purchase(self, writer: StationCardWriter, transport: ApduTransport,
                        genuine: PurchaseOnCard) -> None:
        """Ten times the credit, the MAC left as it was (anyone can write a plain file)."""
        assert isinstance(writer, ToyStationWriter)
        link = writer._link(transport)
        found = ToyPurchase.from_bytes(link.read(PURCHASE, PURCHASE_SIZE))
        if found is None or found[0].sequence != genuine.sequence:
            raise CardError(f"the card does not carry purchase {genuine.sequence}")
        p, tag = found
        forged = ToyPurchase(p.sequence, p.credit * 10, p.unit, p.tariff_version,
                             p.price_per_kwh, p.key_revision)
        link.write(PURCHASE, forged.body() + tag)

    def attacks(self) -> tuple[Attack, ...]:
        return (Attack("forged_purchase", True, "the purchase is MAC'd under the meter key"),)


TOYCARD = ToyCardFormat()
