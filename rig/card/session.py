"""Terminal side of the card application: typed reads/writes of the four EFs.

Used by the vending station (over a PC/SC `PcscConnection`) and by the emulated meter firmware
(over `DirectTransport`), so both ends speak exactly the same APDUs.
"""

from __future__ import annotations

import time
from typing import Protocol, TypeVar, runtime_checkable

from rig.card import apdu as A
from rig.card.application import (
    FID_CARD_INFO,
    FID_PURCHASE,
    FID_READBACK,
    FID_TARIFF,
    CardApplication,
)
from rig.card.records import CardInfo, PurchaseRecord, ReadbackRecord, TariffRecord, _Record
from rig.card.trace import ApduTrace

R = TypeVar("R", bound=_Record)


@runtime_checkable
class ApduTransport(Protocol):
    """Anything that can exchange one APDU with a card: returns data + SW1 SW2."""

    def transmit(self, apdu: bytes) -> bytes: ...


class DirectTransport:
    """In-process transport to a `CardApplication` (the emulated meter's card slot)."""

    name = "direct"

    def __init__(self, app: CardApplication, name: str = "direct") -> None:
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

    # --- low level --------------------------------------------------------------------------

    def send(self, cmd: A.CommandApdu) -> bytes:
        """Transmit, trace and check the SW; returns the response data (no SW)."""
        raw = cmd.to_bytes()
        started = time.monotonic()
        transmit = getattr(self.transport, "transmit_named", None)
        response = (transmit(raw, cmd.name) if transmit is not None
                    else self.transport.transmit(raw))
        if self.trace is not None:
            self.trace.record(raw, response, terminal=self.terminal, name=cmd.name,
                              secret=cmd.is_secret, started=started,
                              duration=time.monotonic() - started)
        data, sw1, sw2 = A.split_response(response)
        if (sw1, sw2) != (0x90, 0x00):
            raise A.StatusWordError(cmd.name, sw1, sw2)
        return data

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
            out += self.send(A.read_binary(offset + len(out), chunk, fid))
        return out

    def write_ef(self, fid: int, data: bytes, offset: int = 0) -> None:
        self.select_ef(fid)
        for i in range(0, len(data), 255):
            self.send(A.update_binary(offset + i, data[i:i + 255], fid))

    def get_challenge(self) -> bytes:
        if not self._selected:
            self.select_application()
        return self.send(A.get_challenge())

    def _read(self, fid: int, cls: type[R]) -> R | None:
        return cls.parse_optional(self.read_ef(fid, cls.SIZE))

    # --- records ----------------------------------------------------------------------------

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
        """Erase the purchase (the meter does this after applying it, so it applies once)."""
        self.write_ef(FID_PURCHASE, bytes(PurchaseRecord.SIZE))

    def read_tariff(self) -> TariffRecord | None:
        return self._read(FID_TARIFF, TariffRecord)

    def write_tariff(self, rec: TariffRecord) -> None:
        self.write_ef(FID_TARIFF, rec.to_bytes())

    def read_readback(self) -> ReadbackRecord | None:
        return self._read(FID_READBACK, ReadbackRecord)

    def write_readback(self, rec: ReadbackRecord) -> None:
        self.write_ef(FID_READBACK, rec.to_bytes())
