"""The vending station's side of the SLE 4442 format: issue cards, write vends and the other
card kinds, read readbacks, through the card writer's reader dialect.

Every write is read back: the chip says nothing when it ignores a write (a protected byte,
a PSC not verified), so the writer compares what it reads with what it wrote.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from decimal import Decimal

from rig.card.apdu import RecordError
from rig.card.session import ApduTransport
from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats.interface import (
    CardKind,
    CardReadback,
    ClearCommand,
    IssuedCard,
    KeySource,
    ParameterSet,
    Purchase,
    PurchaseOnCard,
)
from rig.card_formats.sle4442 import dialects, layout
from rig.card_formats.sle4442.chip import ATR_HEADER, FACTORY_PSC
from rig.card_formats.sle4442.dialects.base import MemoryCardClient, PscRefused
from rig.card_formats.sle4442.psc import meter_psc
from rig.card_formats.sle4442.readback import readback_fields
from rig.errors import CardError

ISSUE_WAIT_S = 60.0  # how long the operator has to put the card in the issuing writer
log = logging.getLogger(__name__)

KIND_CODES = {CardKind.USER: layout.CardKindCode.USER,
              CardKind.PARAMETER: layout.CardKindCode.PARAMETER,
              CardKind.CHECK: layout.CardKindCode.CHECK,
              CardKind.CLEAR: layout.CardKindCode.CLEAR}
KINDS = {code: kind for kind, code in KIND_CODES.items()}


PSC_INS = frozenset({0x20, 0xD2})  # PRESENT/VERIFY PSC, CHANGE PSC: their data is the PSC


def _carries_psc(apdu: bytes) -> bool:
    return len(apdu) > 1 and apdu[1] in PSC_INS


class IssuingWriterNeeded(CardError):
    """The writer's dialect lacks what this issue needs (the operations named)."""


def issued_card(identity: layout.Identity) -> IssuedCard:
    return IssuedCard(identity.card_serial, identity.meter_no, KINDS[identity.kind],
                      identity.key_revision)


class SLE4442Writer:
    """A ``StationCardWriter`` for SLE 4442 cards through one reader dialect."""

    def __init__(self, keys: KeySource, *, dialect: str | None = None,
                 trace: ApduTrace | None = None, issue_dialect: str | None = None,
                 issue_reader: str | None = None) -> None:
        self._keys = keys
        self.dialect = dialects.checked(dialect)
        self.trace = trace
        # The issuing writer, for a dialect that cannot issue (OMNIKEY): its dialect, and on a
        # real bench its PC/SC reader (none: the card answers it in this writer, as the
        # emulated card does while it is issued).
        self.issue_dialect = None if issue_dialect is None else dialects.issuing(issue_dialect)
        self.issue_reader = issue_reader

    # -- plumbing ---------------------------------------------------------------------
    def _client(self, transport: ApduTransport, dialect: str | None = None) -> MemoryCardClient:
        dialect = dialect or self.dialect
        if self.trace is not None:
            name = f"{getattr(transport, 'name', 'card')} [{dialect}]"
            transport = TracedTransport(transport, self.trace, name, secret=_carries_psc)
        client = dialects.client(dialect, transport)
        client.select()
        return client

    def _psc(self, meter_no: str, key_revision: int) -> bytes:
        return meter_psc(self._keys, meter_no, key_revision)

    def _identity(self, client: MemoryCardClient) -> layout.Identity:
        head = client.read(0, layout.PURCHASE_AT)
        if head[:4] != ATR_HEADER:
            raise CardError(f"{self.dialect}: not an SLE 4442 (memory starts "
                            f"{head[:4].hex(' ').upper()})")
        try:
            identity = layout.Identity.decode(head[layout.IDENTITY_AT:])
        except RecordError as e:
            raise CardError(f"card identity unreadable: {e}") from None
        if identity is None:
            raise CardError("card not issued: its identity block is erased")
        return identity

    def _expect(self, client: MemoryCardClient, kind: CardKind,
                meter_no: str | None = None) -> layout.Identity:
        identity = self._identity(client)
        if KINDS[identity.kind] is not kind:
            raise CardError(f"card {identity.card_serial} is a {KINDS[identity.kind].value} "
                            f"card, not a {kind.value} card")
        if meter_no is not None and identity.meter_no != meter_no:
            raise CardError(f"card {identity.card_serial} is for meter {identity.meter_no}, "
                            f"not {meter_no}")
        return identity

    def _unlock(self, client: MemoryCardClient, identity: layout.Identity) -> None:
        try:
            client.present_psc(self._psc(identity.meter_no, identity.key_revision))
        except PscRefused as e:
            raise CardError(f"card {identity.card_serial}: the PSC of meter "
                            f"{identity.meter_no} at key revision {identity.key_revision} "
                            f"does not open it ({e})") from None

    def _write_checked(self, client: MemoryCardClient, address: int, data: bytes,
                       what: str) -> None:
        client.write(address, data)
        if client.read(address, len(data)) != data:
            raise CardError(f"{what}: the card did not take the write at address "
                            f"{address} (protected bytes, or the PSC is not verified)")

    # -- issue ------------------------------------------------------------------------
    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER) -> IssuedCard:
        """Issue the card: write its identity, set the meter's PSC, and freeze the layout
        version and card serial with the protection bits. A card issued before (same serial)
        is re-issued — another kind, meter or key revision — with the PSC of its present
        binding; a new meter erases the old meter's blocks. Running it again is harmless."""
        if kind not in KIND_CODES:
            raise CardError(f"the sle4442 format has no {kind.value} card")
        identity = layout.Identity(KIND_CODES[kind], key_revision, card_serial, meter_no)
        identity.to_bytes()  # RecordError names a bad field before any write
        try:
            return self._personalise(self._client(transport), identity)
        except IssuingWriterNeeded as lacking:
            if self.issue_dialect is None:
                raise CardError(
                    f"{self.dialect}: {lacking}: the {self.dialect} dialect has no such "
                    "command, so this writer cannot issue a blank card or move one to another "
                    "meter; configure an issuing writer: [card] options issue_dialect = "
                    f"\"{dialects.ISSUING[0]}\" (on a real bench also issue_reader = its "
                    "PC/SC reader's name)") from None
        if self.issue_reader is not None:
            with self._at_issuing_reader(self.issue_reader, card_serial) as issuing:
                return self._personalise(self._client(issuing, self.issue_dialect), identity)
        try:  # the emulated card answers the issuing dialect in this writer; a real one not
            client = self._client(transport, self.issue_dialect)
        except CardError as e:
            raise CardError(f"{self.issue_dialect}: the card did not answer the issuing "
                            f"dialect in this {self.dialect} writer ({e}): on a real bench "
                            "name the issuing writer's reader, [card] issue_reader") from None
        return self._personalise(client, identity)

    @contextlib.contextmanager
    def _at_issuing_reader(self, reader: str, card_serial: str) -> Iterator[ApduTransport]:
        """The card in the issuing writer's reader (the operator moves it there)."""
        from rig.card.pcsc import PcscReader

        log.warning("card %s: insert it in the issuing writer %r (%s) within %g s", card_serial,
                    reader, self.issue_dialect, ISSUE_WAIT_S)
        with PcscReader(reader).wait_for_card(ISSUE_WAIT_S) as conn:
            yield conn

    def _personalise(self, client: MemoryCardClient, identity: layout.Identity) -> IssuedCard:
        card_serial, meter_no = identity.card_serial, identity.meter_no
        key_revision, encoded = identity.key_revision, identity.to_bytes()
        head = client.read(0, layout.PURCHASE_AT)
        if head[:4] != ATR_HEADER:
            raise CardError(f"{self.dialect}: not an SLE 4442 (memory starts "
                            f"{head[:4].hex(' ').upper()})")
        raw = head[layout.IDENTITY_AT:]
        new_psc = self._psc(meter_no, key_revision)
        fresh = raw == bytes([layout.ERASED]) * layout.IDENTITY_SIZE
        current = None if fresh else self._issued_as(raw, card_serial)
        old = (FACTORY_PSC if fresh else new_psc if current is None
               else self._psc(current.meter_no, current.key_revision))
        needs = (["CHANGE PSC"] if old != new_psc else []) + (
            ["WRITE PROTECTION"] if fresh else [])
        lacking = [op for op in needs if not client.has(op)]
        if lacking:  # refused before anything on the card changes
            raise IssuingWriterNeeded(" and ".join(lacking))
        opened = self._open_with(client, dict.fromkeys((old, new_psc)), card_serial)
        if current is not None and current.meter_no != meter_no:
            self._write_checked(client, layout.PURCHASE_AT,
                                bytes([layout.ERASED]) * (0x100 - layout.PURCHASE_AT),
                                "re-issue: erase the other meter's blocks")
        if raw != encoded:
            self._write_checked(client, layout.IDENTITY_AT, encoded, "personalise")
        if opened != new_psc:
            client.change_psc(new_psc)
            client.present_psc(new_psc)  # the new PSC works (and resets the error counter)
        if fresh:
            frozen = encoded[:layout.FROZEN_SIZE]
            client.write_protection(layout.IDENTITY_AT, frozen)
            mask = ((1 << layout.FROZEN_SIZE) - 1) << layout.IDENTITY_AT
            if client.read_protection() & mask:
                raise CardError("personalise: the card serial did not get its protection bits")
        return issued_card(identity)

    def _issued_as(self, raw: bytes, card_serial: str) -> layout.Identity | None:
        """The identity on an issued card (None if torn), refusing another card serial."""
        on_card = raw[1:layout.FROZEN_SIZE].hex().upper()
        if on_card != card_serial.upper():
            raise CardError(f"card serial {on_card} is frozen on this card: it cannot be "
                            f"issued as {card_serial}")
        try:
            return layout.Identity.decode(raw)
        except RecordError:
            return None  # an issue cut mid-write: the new binding's PSC may open it

    def _open_with(self, client: MemoryCardClient, pscs: Iterable[bytes],
                   serial: str) -> bytes:
        """Verify the first of ``pscs`` that opens the card and return it (a success restores
        the attempts a wrong one cost)."""
        refused: PscRefused | None = None
        for psc in pscs:
            try:
                client.present_psc(psc)
                return psc
            except PscRefused as e:
                refused = e
                if e.attempts_left == 0:
                    break
        raise CardError(f"card {serial}: no PSC the station derives opens it ({refused})")

    def open_card(self, transport: ApduTransport) -> tuple[MemoryCardClient, layout.Identity]:
        """The card opened for writing with its binding's PSC: what anyone holding that PSC
        (a cloned writer that read it off the card's contacts) can do."""
        client = self._client(transport)
        identity = self._identity(client)
        self._unlock(client, identity)
        return client, identity

    def identify(self, transport: ApduTransport) -> IssuedCard:
        return issued_card(self._identity(self._client(transport)))

    # -- vends ------------------------------------------------------------------------
    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None:
        client = self._client(transport)
        self._identity(client)
        block = self._purchase_block(client)
        return None if block is None else _on_card(block)

    def _purchase_block(self, client: MemoryCardClient) -> layout.PurchaseBlock | None:
        raw = client.read(layout.PURCHASE_AT, layout.BLOCK_SIZE)
        try:
            return layout.PurchaseBlock.decode(raw)
        except RecordError:
            return None  # torn: the meter refuses it; it may be written again

    def _newest_readback(self, client: MemoryCardClient) -> layout.ReadbackBlock | None:
        a, b = (client.read(at, layout.READBACK_SIZE) for at in layout.READBACK_SLOTS)
        return layout.newest_readback((a, b))[1]

    def write_purchase(self, transport: ApduTransport, purchase: Purchase) -> PurchaseOnCard:
        """Write a vend. The pending-purchase rule: the meter adds credit only for purchase
        count = its last + 1, so a new vend waits until the card brings back a readback
        showing the previous one applied; the same vend may be written again (torn write)."""
        client = self._client(transport)
        identity = self._expect(client, CardKind.USER, purchase.meter_no)
        if purchase.key_revision != identity.key_revision:
            raise CardError(f"purchase made for key revision {purchase.key_revision}, card "
                            f"{identity.card_serial} is at {identity.key_revision}")
        on_card = self._purchase_block(client)
        readback = self._newest_readback(client)
        applied = readback.last_sequence if readback is not None else None
        if on_card is None or on_card.sequence != purchase.sequence:
            self._check_next(identity, purchase, on_card, applied)
        # else: the same vend again (a retry after a torn write, or one whose confirmation
        # was lost): the meter applies a purchase count once, so it adds nothing twice
        block = layout.PurchaseBlock(
            purchase.sequence, purchase.credit, layout.UNITS[purchase.credit_unit],
            purchase.tariff_version, purchase.price_per_kwh, purchase.alarm1, purchase.alarm2,
            purchase.meter_no)
        encoded = block.to_bytes()
        self._unlock(client, identity)
        self._write_checked(client, layout.PURCHASE_AT, encoded, "write purchase")
        return _on_card(block)

    @staticmethod
    def _check_next(identity: layout.Identity, purchase: Purchase,
                    on_card: layout.PurchaseBlock | None, applied: int | None) -> None:
        """A new vend must be the meter's next purchase count, on a card whose own purchase
        the meter has applied."""
        if applied is not None and purchase.sequence <= applied:
            raise CardError(f"purchase {purchase.sequence}: meter {purchase.meter_no} has "
                            f"applied purchase {applied} already")
        if on_card is not None and (applied is None or on_card.sequence > applied):
            raise CardError(f"card {identity.card_serial} carries purchase {on_card.sequence}"
                            " the meter has not applied yet: insert the card in the meter "
                            "first")
        if applied is not None and purchase.sequence != applied + 1:
            raise CardError(f"purchase {purchase.sequence}: the meter takes only purchase "
                            f"{applied + 1} next")

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet) -> None:
        if len(parameters.tariff_rates) > 1 or parameters.friendly_periods:
            raise CardError("the sle4442 parameter block carries one flat price and no "
                            "friendly periods")
        price = (parameters.tariff_rates[0].price_per_kwh if parameters.tariff_rates
                 else Decimal(0))
        block = layout.ParameterBlock(
            parameters.version, parameters.alarm1, parameters.alarm2,
            parameters.overdraft_limit, parameters.hoarding_limit, parameters.power_limit_w,
            parameters.tariff_version, price)
        self._write_block(transport, CardKind.PARAMETER, parameters.meter_no,
                          parameters.key_revision, layout.PARAMETERS_AT, block.to_bytes())

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None:
        action = layout.ClearAction.TEST if command.test_only else layout.ClearAction.CLEAR_EVENTS
        block = layout.ClearBlock(command.clear_no, action)
        self._write_block(transport, CardKind.CLEAR, command.meter_no, command.key_revision,
                          layout.CLEAR_AT, block.to_bytes())

    def _write_block(self, transport: ApduTransport, kind: CardKind, meter_no: str,
                     key_revision: int, address: int, data: bytes) -> None:
        client = self._client(transport)
        identity = self._expect(client, kind, meter_no)
        if key_revision != identity.key_revision:
            raise CardError(f"{kind.value} card {identity.card_serial} is at key revision "
                            f"{identity.key_revision}, not {key_revision}")
        self._unlock(client, identity)
        self._write_checked(client, address, data, f"write {kind.value} card")

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None:
        raise CardError("the sle4442 format has no key-change card: a memory card carries no "
                        "keys (re-issue the meter's cards at the new key revision)")

    def read_readback(self, transport: ApduTransport) -> CardReadback:
        client = self._client(transport)
        identity = self._identity(client)
        newest = self._newest_readback(client)
        if newest is None:
            raise CardError(f"card {identity.card_serial} carries no readback yet")
        raw = newest.to_bytes()
        return CardReadback(identity.card_serial, raw, readback_fields(newest))


def _on_card(block: layout.PurchaseBlock) -> PurchaseOnCard:
    return PurchaseOnCard(block.meter_no, block.sequence, block.credit,
                          layout.UNIT_NAMES[block.unit])

