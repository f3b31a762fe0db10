"""DL/T 645-2007 slave (meter) side, reused by the emulated meter firmware.

The responder is pure protocol: it turns request frames into reply frames and delegates every
register access to a ``RegisterBank`` owned by the meter model.  It imports no serial library;
the emulator's pty loop is ``os.write(fd, responder.serve_stream(os.read(fd, 256)))``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Protocol

from rig.meter.dlt645 import data_ids
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.frame import (
    ABNORMAL,
    BROADCAST_ADDRESS,
    CONTROL_BROADCAST_TIME,
    CONTROL_READ_ADDRESS,
    CONTROL_READ_DATA,
    CONTROL_READ_FOLLOWUP,
    CONTROL_RELAY_CONTROL,
    CONTROL_WRITE_DATA,
    DIR_REPLY,
    ERR_NO_DATA,
    ERR_OTHER,
    ERR_PASSWORD,
    FOLLOWUP,
    MAX_DATA_LENGTH,
    Frame,
    FrameParser,
    address_matches,
    address_to_bytes,
    encode_frame,
)
from rig.meter.transcript import Transcript

_READ_CHUNK = MAX_DATA_LENGTH - 4 - 1  # room for the DI echo and a follow-up sequence byte


class SecurityBank(Protocol):
    """What an ESAM meter offers to the security commands (control code 03, docs/esam.md).
    Each method raises :class:`rig.meter.dlt645.security.SecurityError` with the SERR bits
    of its refusal; anything else it raises is answered as "other error"."""

    def identity(self, request: sec.IdentityRequest) -> sec.IdentityReply: ...

    def set_identity_validity(self, request: sec.ValidityRequest) -> None: ...

    def end_identity(self) -> sec.InvalidationReply: ...

    def open_account(self, request: sec.PurchaseRequest) -> None: ...

    def recharge(self, request: sec.PurchaseRequest) -> None: ...

    def initialise_wallet(self, request: sec.WalletInitRequest) -> None: ...

    def update_keys(self, request: sec.KeyUpdateRequest) -> None: ...

    def write_plain(self, request: sec.PlainWriteRequest) -> None: ...

    def read_back(self, target: sec.ReadbackTarget) -> sec.ReadbackReply: ...

    def status(self) -> sec.StatusReply: ...

    def remote_control(self, control: sec.EncipheredControl) -> None:
        """1C at password level 98H (PermissionError: no session or a bad MAC)."""


class RegisterBank(Protocol):
    """What a meter model offers to the protocol layer."""

    def read(self, di: int) -> bytes:
        """Plain encoded value of ``di``; KeyError if the meter has no such data."""
        ...

    def write(self, di: int, data: bytes, password: bytes, operator: bytes) -> None:
        """Store ``data``; PermissionError for a bad password, KeyError for an unknown DI."""
        ...

    def relay_control(self, command: int, password: bytes, operator: bytes,
                      valid_until: dt.datetime) -> None:
        """Apply a 0x1C command (see ``RelayCommand``) valid until the N3..N8 deadline;
        PermissionError for a bad password."""
        ...

    def set_time(self, moment: dt.datetime) -> None:
        """Set the meter clock (broadcast time)."""
        ...


_COMMANDS: dict[int, Callable[[SecurityBank, bytes], Any]] = {
    sec.DI_IDENTITY: lambda b, body: b.identity(sec.IdentityRequest.decode(body)),
    sec.DI_IDENTITY_VALIDITY:
        lambda b, body: b.set_identity_validity(sec.ValidityRequest.decode(body)),
    sec.DI_IDENTITY_END: lambda b, body: b.end_identity(),
    sec.DI_OPEN_ACCOUNT: lambda b, body: b.open_account(sec.PurchaseRequest.decode(body)),
    sec.DI_RECHARGE: lambda b, body: b.recharge(sec.PurchaseRequest.decode(body)),
    sec.DI_WALLET_INIT:
        lambda b, body: b.initialise_wallet(sec.WalletInitRequest.decode(body)),
    sec.DI_KEY_UPDATE: lambda b, body: b.update_keys(sec.KeyUpdateRequest.decode(body)),
    sec.DI_WRITE_PLAIN: lambda b, body: b.write_plain(sec.PlainWriteRequest.decode(body)),
    sec.DI_READBACK: lambda b, body: b.read_back(sec.ReadbackTarget.decode(body)),
    sec.DI_STATUS: lambda b, body: b.status() if not body else _has_body("status query", body),
}


def _has_body(what: str, body: bytes) -> None:
    raise sec.SecurityError(sec.SERR_OTHER, f"{what} takes no data, got {len(body)} bytes")


def _run_security(bank: SecurityBank, di: int, body: bytes) -> bytes:
    """Decode the command ``di`` names, run it on ``bank``, encode its answer (if any)."""
    command = _COMMANDS.get(di)
    if command is None:
        raise sec.SecurityError(sec.SERR_OTHER, f"no security command {di:08X}")
    answer = command(bank, body)
    return b"" if answer is None else bytes(answer.encode())


def _error_bit(exc: Exception) -> int:
    if isinstance(exc, PermissionError):
        return ERR_PASSWORD
    if isinstance(exc, KeyError):
        return ERR_NO_DATA
    return ERR_OTHER


class Dlt645Responder:
    """Answers DL/T 645-2007 requests for one meter address."""

    def __init__(
        self,
        address: str,
        bank: RegisterBank,
        *,
        preamble: int = 4,
        transcript: Transcript | None = None,
        security: SecurityBank | None = None,
    ) -> None:
        self.security = security  # an ESAM meter's security commands; None: it has none
        self.address = Frame(address, 0).address
        if "A" in self.address or self.address == BROADCAST_ADDRESS:
            raise ValueError(f"a meter needs a concrete address, not {address!r}")
        self.bank = bank
        self.preamble = preamble
        self.transcript = transcript
        self.parser = FrameParser()
        self.errors: list[str] = []  # bank exceptions turned into abnormal replies, for tests
        self._pending_reads: dict[int, list[bytes]] = {}

    # --- frame level ----------------------------------------------------------------------

    def respond(self, frame: Frame) -> Frame | None:
        """The reply to ``frame``, or None when the meter must stay silent."""
        if frame.is_reply:
            return None  # another slave's reply or an echo
        fn = frame.function_code
        if frame.address == BROADCAST_ADDRESS:
            if fn == CONTROL_BROADCAST_TIME:
                self._set_time(frame)
            return None
        if "A" in frame.address:
            # Wildcard (AA..AA, or AA-padded high digits): only on a point-to-point link, where
            # the one meter that matches answers under its own address.
            if not address_matches(frame.address, self.address):
                return None
        elif frame.address != self.address:
            return None
        try:
            return self._dispatch(frame)
        except Exception as exc:  # the meter must answer, whatever the model raised
            self.errors.append(f"C={frame.control:02X}: {type(exc).__name__}: {exc}")
            return self._abnormal(fn, _error_bit(exc))

    def _dispatch(self, frame: Frame) -> Frame | None:
        fn = frame.function_code
        data = frame.data
        if fn == CONTROL_READ_DATA:
            return self._read(data)
        if fn == CONTROL_READ_FOLLOWUP:
            return self._read_followup(data)
        if fn == CONTROL_READ_ADDRESS:
            return self._reply(fn, address_to_bytes(self.address))
        if fn == CONTROL_WRITE_DATA:
            if len(data) < 12:
                raise ValueError(f"write request too short ({len(data)} bytes)")
            di = data_ids.di_from_bytes(data[:4])
            self.bank.write(di, data[12:], data[4:8], data[8:12])
            return self._reply(fn, b"")
        if fn == CONTROL_RELAY_CONTROL and data[:1] == bytes([sec.PASSWORD_LEVEL_CIPHER]):
            return self._enciphered_control(data)
        if fn == CONTROL_RELAY_CONTROL:
            if len(data) < 16:
                raise ValueError(f"relay-control request too short ({len(data)} bytes)")
            valid_until = data_ids.datetime_from_wire(data[10:16])
            self.bank.relay_control(data[8], data[0:4], data[4:8], valid_until)
            return self._reply(fn, b"")
        if fn == CONTROL_BROADCAST_TIME:
            self._set_time(frame)
            return None
        if fn == sec.CONTROL_SECURITY:
            return self._security(data)
        return self._abnormal(fn, ERR_OTHER)

    def _security(self, data: bytes) -> Frame:
        """A security command (03H): normal reply DI + answer, or C3H with the SERR word."""
        fn = sec.CONTROL_SECURITY
        try:
            di, _operator, body = sec.split_request(data)
            if self.security is None:
                raise sec.SecurityError(sec.SERR_OTHER, "this meter has no ESAM")
            answer = _run_security(self.security, di, body)
        except sec.SecurityError as e:
            self.errors.append(f"C=03: {e}")
            return Frame(self.address, DIR_REPLY | ABNORMAL | fn, sec.serr_bytes(e.serr))
        except Exception as e:  # the meter answers whatever its ESAM side raised
            self.errors.append(f"C=03: {type(e).__name__}: {e}")
            return Frame(self.address, DIR_REPLY | ABNORMAL | fn, sec.serr_bytes(sec.SERR_OTHER))
        return self._reply(fn, data[:4] + answer)

    def _enciphered_control(self, data: bytes) -> Frame:
        """1C at level 98H: the ESAM side deciphers and checks the command after PA..C3."""
        if self.security is None:
            raise PermissionError("this meter has no ESAM to decipher the relay command")
        self.security.remote_control(sec.EncipheredControl.decode(data[8:]))
        return self._reply(CONTROL_RELAY_CONTROL, b"")

    def _read(self, data: bytes) -> Frame:
        if len(data) < 4:
            raise ValueError(f"read request needs a 4-byte DI, got {len(data)} bytes")
        di_raw = data[:4]
        di = data_ids.di_from_bytes(di_raw)
        value = bytes(self.bank.read(di))
        chunks = [value[i : i + _READ_CHUNK] for i in range(0, len(value), _READ_CHUNK)] or [b""]
        if len(chunks) == 1:
            self._pending_reads.pop(di, None)
            return self._reply(CONTROL_READ_DATA, di_raw + value)
        self._pending_reads[di] = chunks[1:]
        return self._reply(CONTROL_READ_DATA, di_raw + chunks[0], followup=True)

    def _read_followup(self, data: bytes) -> Frame:
        if len(data) < 5:
            raise ValueError(f"follow-up request needs DI and sequence, got {len(data)} bytes")
        di_raw, seq = data[:4], data[4]
        di = data_ids.di_from_bytes(di_raw)
        pending = self._pending_reads.get(di)
        if not pending:
            raise KeyError(f"no follow-up data pending for DI {di:08X}")
        chunk = pending.pop(0)
        more = bool(pending)
        if not more:
            del self._pending_reads[di]
        return self._reply(CONTROL_READ_FOLLOWUP, di_raw + chunk + bytes([seq]), followup=more)

    def _set_time(self, frame: Frame) -> None:
        try:
            self.bank.set_time(data_ids.datetime_from_wire(frame.data[:6]))
        except Exception as exc:  # no reply channel for broadcasts: remember it
            self.errors.append(f"broadcast time {frame.data.hex()}: {exc}")

    def _reply(self, fn: int, data: bytes, *, followup: bool = False) -> Frame:
        control = DIR_REPLY | fn | (FOLLOWUP if followup else 0)
        return Frame(self.address, control, data)

    def _abnormal(self, fn: int, error_word: int) -> Frame:
        return Frame(self.address, DIR_REPLY | ABNORMAL | fn, bytes([error_word]))

    # --- byte stream level ----------------------------------------------------------------

    def serve_stream(self, chunk: bytes, parser: FrameParser | None = None) -> bytes:
        """Feed received bytes; return the encoded replies to write back (maybe empty).

        Line faults (bad checksum, garbage) are dropped after logging, as a real meter
        ignores frames it cannot check, and the parser resynchronises on the next 68.
        """
        parser = parser if parser is not None else self.parser
        if self.transcript is not None and chunk:
            self.transcript.add("rx", chunk)
        out = bytearray()
        for frame in parser.feed(chunk):
            reply = self.respond(frame)
            if reply is not None:
                out += encode_frame(reply, self.preamble)
        if parser.faults:
            if self.transcript is not None:
                for fault in parser.faults:
                    self.transcript.add("rx", b"", f"ignored: {fault}")
            parser.faults.clear()
        if out and self.transcript is not None:
            self.transcript.add("tx", bytes(out))
        return bytes(out)
