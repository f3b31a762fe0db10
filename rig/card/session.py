"""Terminal side of the card application: typed reads/writes of the EFs, authentication.

Used by the vending station (over a PC/SC `PcscConnection`) and by the emulated meter firmware
(over `DirectTransport`), so both ends speak exactly the same APDUs.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import time
from typing import Protocol, TypeVar, runtime_checkable

from rig.card import apdu as A
from rig.card.application import (
    FID_CARD_INFO,
    FID_COMMAND,
    FID_KEYS,
    FID_PURCHASE,
    FID_READBACK,
    FID_TARIFF,
    READBACK_SLOT,
)
from rig.card.keys import KEY_LEN, auth_cryptogram, internal_auth_cryptogram
from rig.card.records import CardInfo, CardRecord, PurchaseRecord, ReadbackRecord, TariffRecord
from rig.card.trace import ApduTrace
from rig.errors import CardError

R = TypeVar("R", bound=CardRecord)
_SW_OK = A.SW_OK.to_bytes(2, "big")


@runtime_checkable
class ApduTransport(Protocol):
    """Anything that can exchange one APDU with a card: returns data + SW1 SW2."""

    def transmit(self, apdu: bytes) -> bytes: ...


class _Processor(Protocol):
    def process(self, apdu: bytes) -> bytes: ...


class DirectTransport:
    """In-process transport to a card (any format's virtual card: a `CardApplication` here),
    as the emulated meter's card slot reaches it."""

    name = "direct"

    def __init__(self, app: _Processor, name: str = "direct") -> None:
        self.app = app
        self.name = name

    def transmit(self, apdu: bytes) -> bytes:
        return self.app.process(apdu)


class CardSession:
    """One conversation with one inserted card. Selects the application on first use."""

    def __init__(self, transport: ApduTransport, trace: ApduTrace | None = None,
                 terminal: str | None = None) -> None:
        self.transport = transport
        self.trace = trace
        self.terminal = terminal or getattr(transport, "name", type(transport).__name__)
        self._selected = False
        # A transport that takes the APDU's name (PcscConnection) names it in its errors.
        self._transmit_named = getattr(transport, "transmit_named", None)

    # --- low level --------------------------------------------------------------------------

    def send(self, cmd: A.CommandApdu) -> bytes:
        """Transmit, trace and check the SW; returns the response data (no SW)."""
        raw = cmd.to_bytes()
        named, trace = self._transmit_named, self.trace
        started = time.monotonic() if trace is not None else 0.0
        response = named(raw, cmd.name) if named is not None else self.transport.transmit(raw)
        if trace is not None:
            trace.record(raw, response, terminal=self.terminal, name=cmd.name,
                         secret=cmd.is_secret, started=started,
                         duration=time.monotonic() - started)
        if response[-2:] == _SW_OK:
            return bytes(response[:-2])
        _, sw1, sw2 = A.split_response(response)  # CardError if there is no SW at all
        # header: a case-1 command has no P3 (00)
        raise A.StatusWordError(cmd.name, sw1, sw2, header=raw[:5].ljust(5, b"\0"))

    def select_application(self) -> None:
        self.send(A.select_aid())
        self._selected = True

    def select_ef(self, fid: int) -> None:
        if not self._selected:
            self.select_application()
        self.send(A.select_ef(fid))

    def read_ef(self, fid: int, length: int, offset: int = 0) -> bytes:
        self.select_ef(fid)
        out = b""
        while len(out) < length:
            chunk = min(length - len(out), 256)
            cmd = A.read_binary(offset + len(out), chunk, fid)
            data = self.send(cmd)
            if not 0 < len(data) <= chunk:  # an empty answer would have us ask for ever
                raise CardError(f"{self.terminal}: {cmd.name}: card returned {len(data)} "
                                f"bytes for Le {chunk}")
            out += data
        return out

    def write_ef(self, fid: int, data: bytes, offset: int = 0, secret: bool = False) -> None:
        self.select_ef(fid)
        for i in range(0, len(data), 255):
            self.send(A.update_binary(offset + i, data[i:i + 255], fid, secret=secret))

    def get_challenge(self) -> bytes:
        if not self._selected:
            self.select_application()
        return self.send(A.get_challenge())

    def authenticate(self, key_ref: int, key: bytes, card_serial: str) -> None:
        """GET CHALLENGE + EXTERNAL AUTHENTICATE with ``key``: opens the EFs that key guards
        until the next reset or SELECT of the application. A wrong key costs one try (63Cx);
        a blocked key answers 6983."""
        challenge = self.get_challenge()
        cryptogram = auth_cryptogram(key, challenge, bytes.fromhex(card_serial), key_ref)
        self.send(A.external_authenticate(key_ref, cryptogram))

    def authenticate_card(self, key_ref: int, key: bytes, card_serial: str) -> None:
        """INTERNAL AUTHENTICATE with a fresh random challenge: the card proves it holds
        ``key``. CardNotGenuineError if its answer is wrong; the card's state is unchanged."""
        if not self._selected:
            self.select_application()
        challenge = os.urandom(8)
        answer = self.send(A.internal_authenticate(key_ref, challenge))
        expected = internal_auth_cryptogram(key, challenge, bytes.fromhex(card_serial), key_ref)
        if not hmac.compare_digest(answer, expected):
            raise A.CardNotGenuineError(
                f"{self.terminal}: card {card_serial} failed INTERNAL AUTHENTICATE with key "
                f"{key_ref:02X}: not a genuine card of this issuer")

    def load_keys(self, card_key: bytes, readback_key: bytes) -> None:
        """Write both keys into EF KEYS (write-only on the card; redacted in every trace)."""
        if len(card_key) != KEY_LEN or len(readback_key) != KEY_LEN:
            raise ValueError(f"card keys must be {KEY_LEN} bytes each")
        self.write_ef(FID_KEYS, card_key + readback_key, secret=True)

    def activate(self) -> None:
        """ACTIVATE FILE: end personalisation; from now on updates need authentication."""
        if not self._selected:
            self.select_application()
        self.send(A.activate_application())

    def _read(self, fid: int, cls: type[R]) -> R | None:
        return cls.parse_optional(self.read_ef(fid, cls.SIZE))

    def read_command(self, cls: type[R]) -> R | None:
        """The COMMAND EF as the record its card type carries (Parameter/Clear/KeyChange)."""
        return self._read(FID_COMMAND, cls)

    def write_command(self, rec: CardRecord) -> None:
        self.write_ef(FID_COMMAND, rec.to_bytes())

    # --- records ----------------------------------------------------------------------------

    def read_info_optional(self) -> CardInfo | None:
        """CARD_INFO, or None on a card that was never personalised."""
        return self._read(FID_CARD_INFO, CardInfo)

    def read_info(self) -> CardInfo:
        info = self._read(FID_CARD_INFO, CardInfo)
        if info is None:
            raise A.RecordError("CardInfo", "data", "CARD_INFO is erased (card not issued)")
        return info

    def write_info(self, info: CardInfo) -> None:
        self.write_ef(FID_CARD_INFO, info.to_bytes())

    def read_purchase(self) -> PurchaseRecord | None:
        return self._read(FID_PURCHASE, PurchaseRecord)

    def write_purchase(self, rec: PurchaseRecord) -> None:
        self.write_ef(FID_PURCHASE, rec.to_bytes())

    def clear_purchase(self) -> None:
        """Erase the purchase (issuer, key 01); the meter needs no erase: sequence numbers."""
        self.write_ef(FID_PURCHASE, bytes(PurchaseRecord.SIZE))

    def read_tariff(self) -> TariffRecord | None:
        return self._read(FID_TARIFF, TariffRecord)

    def write_tariff(self, rec: TariffRecord) -> None:
        self.write_ef(FID_TARIFF, rec.to_bytes())

    # READBACK is a double buffer: two slots, each a whole MAC'd ReadbackRecord. A writer always
    # overwrites the slot that does NOT hold the newest valid copy, so a write torn at any byte
    # leaves the previous readback intact; readers take the valid slot with the highest
    # readback_no (a torn slot fails its MAC or does not decode, and is skipped).

    def readback_slots(self, key: bytes | None = None) -> list[ReadbackRecord | None]:
        """Both slots decoded; a slot that is erased, undecodable or (with ``key``) fails its
        MAC is None."""
        raw = self.read_ef(FID_READBACK, 2 * READBACK_SLOT)
        slots: list[ReadbackRecord | None] = []
        for i in range(2):
            try:
                rec = ReadbackRecord.parse_optional(raw[i * READBACK_SLOT:(i + 1) * READBACK_SLOT])
                if rec is not None and key is not None:
                    rec.verify(key)
            except (A.RecordError, A.MacError):
                rec = None
            slots.append(rec)
        return slots

    def read_readback(self, key: bytes | None = None) -> ReadbackRecord | None:
        """The newest readback (verified under ``key`` if given), or None if there is none."""
        valid = [r for r in self.readback_slots(key) if r is not None]
        return max(valid, key=lambda r: r.readback_no) if valid else None

    def write_readback(self, rec: ReadbackRecord, key: bytes) -> ReadbackRecord:
        """Sign ``rec`` as the next generation and write it over the older slot; returns it."""
        slots = self.readback_slots(key)
        valid = [(r.readback_no, i) for i, r in enumerate(slots) if r is not None]
        newest_no, newest_slot = max(valid) if valid else (0, 1)
        signed = dataclasses.replace(rec, readback_no=newest_no + 1).sign(key)
        self.write_ef(FID_READBACK, signed.to_bytes(), offset=(1 - newest_slot) * READBACK_SLOT)
        return signed
