"""DL/T 645-2007 master (client) side: the rig talking to a real or emulated meter.

pyserial is imported only inside ``Dlt645Client.open`` so the emulated meter can import this
package without it; the client itself needs only an object with ``write``, ``read``,
``reset_input_buffer`` and a writable ``timeout`` (a pyserial port, or a scripted fake).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from rig.errors import ProtocolError
from rig.meter.dlt645 import data_ids
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.frame import (
    BROADCAST_ADDRESS,
    CONTROL_BROADCAST_TIME,
    CONTROL_READ_ADDRESS,
    CONTROL_READ_DATA,
    CONTROL_READ_FOLLOWUP,
    CONTROL_RELAY_CONTROL,
    CONTROL_WRITE_DATA,
    WILDCARD_ADDRESS,
    Frame,
    FrameError,
    FrameParser,
    address_from_bytes,
    address_matches,
    decode_error_word,
    encode_frame,
    function_code,
)
from rig.meter.serial_client import POLL_INTERVAL, MeterTimeout, SerialClient, SerialPort
from rig.meter.serial_open import open_serial
from rig.meter.transcript import Transcript

__all__ = ["DEFAULT_OPERATOR", "DEFAULT_PASSWORD", "Dlt645Client", "MeterAbnormalReply",
           "MeterTimeout", "RelayCommand", "SecurityRefused", "SerialPort"]

DEFAULT_PASSWORD = b"\x02\x00\x00\x00"  # PA (level 02) + P0 P1 P2
DEFAULT_OPERATOR = b"\x00\x00\x00\x00"  # C0..C3

class RelayCommand(enum.IntEnum):
    """N1 of the 0x1C relay-control command."""

    TRIP = 0x1A  # open the relay (cut supply)
    CLOSE_ALLOWED = 0x1B  # allow the customer to close (e.g. by key press / card)
    CLOSE_DIRECT = 0x1C  # close at once (State Grid extension)
    ALARM = 0x2A
    ALARM_RELEASE = 0x2B
    KEEP_POWER = 0x3A  # protect supply: ignore trips
    KEEP_POWER_RELEASE = 0x3B


class MeterAbnormalReply(ProtocolError):
    """The meter answered with an abnormal reply (D6 set); carries the decoded error word."""

    def __init__(
        self, message: str, *, error_word: int, control: int, di: int | None, address: str
    ) -> None:
        super().__init__(message)
        self.error_word = error_word
        self.reasons = decode_error_word(error_word)
        self.control = control
        self.di = di
        self.address = address


class SecurityRefused(MeterAbnormalReply):
    """The meter refused a security command (C3H): ``error_word`` is the 2-byte SERR and
    ``reasons`` its bits (identity authentication failed, ESAM verification failed, ...)."""

    def __init__(self, message: str, *, error_word: int, control: int, di: int | None,
                 address: str) -> None:
        super().__init__(message, error_word=error_word, control=control, di=di,
                         address=address)
        self.reasons = sec.decode_serr(error_word)


def _di_text(di: int | None) -> str:
    return "none" if di is None else f"{di:08X}"


def _late_note(ignored: list[Frame]) -> str:
    """For a timeout error: the replies that came but answered something else."""
    if not ignored:
        return ""
    last = ignored[-1]
    echo = last.data[:4][::-1].hex().upper() or "nothing"
    return (f"; ignored {len(ignored)} reply(ies) to another request or from another meter "
            f"(last from meter {last.address}, C={last.control:02X}, echoes DI {echo})")


def _check_4(name: str, value: bytes) -> bytes:
    if len(value) != 4:
        raise ValueError(f"{name} must be 4 bytes, got {len(value)} ({value.hex(' ').upper()})")
    return bytes(value)


class Dlt645Client(SerialClient):
    """One DL/T 645-2007 master on an open serial port."""

    def __init__(
        self,
        port: SerialPort,
        address: str | None = None,
        *,
        timeout: float = 1.0,
        retries: int = 2,
        transcript: Transcript | None = None,
        preamble: int = 4,
    ) -> None:
        super().__init__(port, timeout=timeout, retries=retries, transcript=transcript)
        self.address = Frame(address, 0).address if address is not None else None
        self.preamble = preamble

    @classmethod
    def open(
        cls,
        path_or_url: str,
        *,
        baudrate: int = 2400,
        bytesize: int = 8,
        parity: str = "E",
        stopbits: float = 1,
        **kw: Any,
    ) -> Dlt645Client:
        """Open a device path or pyserial URL (``loop://``, ``socket://``...) at 2400 8E1."""
        client_keys = {"address", "timeout", "retries", "transcript", "preamble"}
        client_kw = {k: kw.pop(k) for k in list(kw) if k in client_keys}
        port = open_serial(path_or_url, baudrate=baudrate, bytesize=bytesize, parity=parity,
                           stopbits=stopbits, timeout=POLL_INTERVAL, what="DL/T 645 port", **kw)
        return cls(port, **client_kw)

    # --- public operations ----------------------------------------------------------------

    def read_address(self) -> str:
        """Ask whoever is on the line for its address (0x13 to AAAAAAAAAAAA)."""
        reply = self._transact(WILDCARD_ADDRESS, CONTROL_READ_ADDRESS, b"", di=None)
        try:
            address = address_from_bytes(reply.data)
        except FrameError as exc:
            raise ProtocolError(f"read-address reply carries no valid address: {exc}") from exc
        if address != reply.address:
            raise ProtocolError(
                f"read-address reply: frame address {reply.address} differs from data {address}"
            )
        if self.address is None:
            self.address = address
        return address

    def read_raw(self, di: int) -> bytes:
        """Plain value bytes of ``di``, following 0x12 follow-up frames as the meter asks."""
        di_raw = data_ids.di_to_bytes(di)
        address = self._target()
        reply = self._transact(address, CONTROL_READ_DATA, di_raw, di=di)
        value = bytearray(self._strip_di(reply, di, di_raw))
        seq = 0
        while reply.has_followup:
            seq = (seq + 1) & 0xFF
            reply = self._transact(address, CONTROL_READ_FOLLOWUP, di_raw + bytes([seq]), di=di)
            body = self._strip_di(reply, di, di_raw)
            if not body or body[-1] != seq:
                raise ProtocolError(
                    f"follow-up reply for DI {di:08X} from {address} has sequence "
                    f"{body[-1] if body else 'none'}, expected {seq}"
                )
            value += body[:-1]
        return bytes(value)

    def read(self, di: int) -> data_ids.Value:
        """Read and decode ``di`` via the data-identifier registry."""
        data_ids.lookup(di)  # fail before touching the line for an unknown DI
        return data_ids.decode_value(di, self.read_raw(di))

    def write(
        self,
        di: int,
        data_or_value: object,
        *,
        password: bytes = DEFAULT_PASSWORD,
        operator: bytes = DEFAULT_OPERATOR,
    ) -> None:
        """Write ``di``: raw ``bytes`` as given, anything else encoded via the registry."""
        if isinstance(data_or_value, bytes | bytearray):
            value = bytes(data_or_value)
        else:
            value = data_ids.encode_value(di, data_or_value)
        payload = (
            data_ids.di_to_bytes(di)
            + _check_4("password", password)
            + _check_4("operator", operator)
            + value
        )
        self._transact(self._target(), CONTROL_WRITE_DATA, payload, di=di)

    def relay_control(
        self,
        command: RelayCommand | int,
        *,
        password: bytes = DEFAULT_PASSWORD,
        operator: bytes = DEFAULT_OPERATOR,
        valid_until: dt.datetime,
    ) -> None:
        """0x1C: PA P0-P2, C0-C3, N1 command, N2 reserved, N3-N8 deadline ssmmhhDDMMYY."""
        payload = (
            _check_4("password", password)
            + _check_4("operator", operator)
            + bytes([int(command), 0x00])
            + data_ids.datetime_to_wire(valid_until)
        )
        self._transact(self._target(), CONTROL_RELAY_CONTROL, payload, di=None)

    # --- security commands (03H, rig.meter.dlt645.security; docs/esam.md) ------------------

    def security(self, di: int, body: bytes = b"", *,
                 operator: bytes = DEFAULT_OPERATOR) -> bytes:
        """One security command: ``body`` sent after the DI and operator code, the reply's
        data after the DI echo returned; SecurityRefused carries the SERR of a refusal."""
        payload = sec.request_data(di, _check_4("operator", operator), body)
        reply = self._transact(self._target(), sec.CONTROL_SECURITY, payload, di=di)
        return self._strip_di(reply, di, payload[:4])

    def identity_authenticate(self, request: sec.IdentityRequest, *,
                              operator: bytes = DEFAULT_OPERATOR) -> sec.IdentityReply:
        """070000FF: open an identity session; the meter's random 2 and ESAM serial."""
        return sec.IdentityReply.decode(
            self.security(sec.DI_IDENTITY, request.encode(), operator=operator))

    def set_identity_validity(self, request: sec.ValidityRequest, *,
                              operator: bytes = DEFAULT_OPERATOR) -> None:
        """070001FF: how many minutes an identity authentication stays valid."""
        self._no_answer(sec.DI_IDENTITY_VALIDITY, request.encode(), operator)

    def end_identity(self, *, operator: bytes = DEFAULT_OPERATOR) -> sec.InvalidationReply:
        """070002FF: end the identity session; the ESAM's customer, remaining, count, keys."""
        return sec.InvalidationReply.decode(
            self.security(sec.DI_IDENTITY_END, operator=operator))

    def open_account(self, request: sec.PurchaseRequest, *,
                     operator: bytes = DEFAULT_OPERATOR) -> None:
        """070101FF: the first purchase, binding the customer number."""
        self._no_answer(sec.DI_OPEN_ACCOUNT, request.encode(), operator)

    def recharge(self, request: sec.PurchaseRequest, *,
                 operator: bytes = DEFAULT_OPERATOR) -> None:
        """070102FF: a purchase for the opened account."""
        self._no_answer(sec.DI_RECHARGE, request.encode(), operator)

    def initialise_wallet(self, request: sec.WalletInitRequest, *,
                          operator: bytes = DEFAULT_OPERATOR) -> None:
        """070103FF: the wallet back to a preset amount and purchase count 0."""
        self._no_answer(sec.DI_WALLET_INIT, request.encode(), operator)

    def update_keys(self, request: sec.KeyUpdateRequest, *,
                    operator: bytes = DEFAULT_OPERATOR) -> None:
        """070301FF: one to four sealed keys and their MAC."""
        self._no_answer(sec.DI_KEY_UPDATE, request.encode(), operator)

    def write_plain(self, request: sec.PlainWriteRequest, *,
                    operator: bytes = DEFAULT_OPERATOR) -> None:
        """070004FF: data into an ESAM file under a MAC (rig: the price file)."""
        self._no_answer(sec.DI_WRITE_PLAIN, request.encode(), operator)

    def read_back(self, target: sec.ReadbackTarget, *,
                  operator: bytes = DEFAULT_OPERATOR) -> sec.ReadbackReply:
        """078001FF: ESAM data with the ESAM's MAC (the caller verifies it)."""
        return sec.ReadbackReply.decode(
            self.security(sec.DI_READBACK, target.encode(), operator=operator))

    def status_query(self, *, operator: bytes = DEFAULT_OPERATOR) -> sec.StatusReply:
        """078102FF: the ESAM's remaining and purchase count (MAC'd), customer, key state."""
        return sec.StatusReply.decode(self.security(sec.DI_STATUS, operator=operator))

    def enciphered_relay_control(self, control: sec.EncipheredControl, *,
                                 password: bytes = DEFAULT_PASSWORD,
                                 operator: bytes = DEFAULT_OPERATOR) -> None:
        """1C at password level 98H: the command enciphered and MAC'd in an identity session."""
        payload = (sec.enciphered_password(_check_4("password", password))
                   + _check_4("operator", operator) + control.encode())
        self._transact(self._target(), CONTROL_RELAY_CONTROL, payload, di=None)

    def _no_answer(self, di: int, body: bytes, operator: bytes) -> None:
        extra = self.security(di, body, operator=operator)
        if extra:
            raise ProtocolError(f"security command {di:08X}: reply carries unexpected data "
                                f"{extra.hex(' ').upper()}")

    def broadcast_time(self, moment: dt.datetime) -> None:
        """0x08 to 999999999999 with ssmmhhDDMMYY; meters do not reply to broadcasts."""
        frame = Frame(BROADCAST_ADDRESS, CONTROL_BROADCAST_TIME, data_ids.datetime_to_wire(moment))
        raw = encode_frame(frame, self.preamble)
        self._port.write(raw)
        self.transcript.add("tx", raw, "broadcast time " + moment.isoformat(sep=" "))

    # --- internals ------------------------------------------------------------------------

    def _target(self) -> str:
        if self.address is None:
            self.read_address()
        assert self.address is not None
        return self.address

    @staticmethod
    def _strip_di(reply: Frame, di: int, di_raw: bytes) -> bytes:
        if reply.data[:4] != di_raw:
            echoed = reply.data[:4][::-1].hex().upper() or "nothing"
            raise ProtocolError(
                f"read reply from {reply.address} echoes DI {echoed}, expected {di:08X}"
            )
        return reply.data[4:]

    def _describe(self, control: int, di: int | None, address: str) -> str:
        return f"request C={control:02X} DI={_di_text(di)} to meter {address}"

    def _transact(self, address: str, control: int, data: bytes, *, di: int | None) -> Frame:
        request = Frame(address, control, data)
        raw = encode_frame(request, self.preamble)
        what = self._describe(control, di, address)
        ignored: list[Frame] = []

        def attempt(n: int) -> Frame:
            self._port.reset_input_buffer()
            self._port.write(raw)
            self.transcript.add("tx", raw, f"C={control:02X} DI={_di_text(di)} try {n}")
            return self._receive(request, ignored)

        def fault(exc: ProtocolError, n: int) -> ProtocolError:
            if isinstance(exc, FrameError):
                return FrameError(f"{what}: {exc} (after {n} attempt(s))", exc.raw)
            return MeterTimeout(f"{what}: no reply within {self.timeout} s after {n} "
                                f"attempt(s){_late_note(ignored)}")

        reply = self.with_retries(attempt, retry_on=(MeterTimeout, FrameError), fault=fault)
        self._check_reply(request, reply, di, what)
        return reply

    @staticmethod
    def _answers(request: Frame, reply: Frame) -> bool:
        """False for a reply that is not the answer to `request`: another function or DI (a
        late reply to an earlier request), or another address.

        On a slow or noisy line a retried request's first reply can arrive after the client
        gave up on it, and line noise can change a reply's address or DI without the checksum
        seeing it; taking either as the answer would be a wrong value. Such replies are
        ignored; if nothing else comes, the timeout error names them.
        """
        if function_code(reply.control) != function_code(request.control):
            return False
        if "A" in request.address:
            if not address_matches(request.address, reply.address) or "A" in reply.address:
                return False
        elif reply.address != request.address:
            return False
        if reply.is_abnormal:  # an abnormal reply carries exactly its error word
            return len(reply.data) == (2 if request.function_code == sec.CONTROL_SECURITY
                                       else 1)
        reads = (CONTROL_READ_DATA, CONTROL_READ_FOLLOWUP, sec.CONTROL_SECURITY)
        if request.function_code in reads:
            return reply.data[:4] == request.data[:4]
        return True

    def _receive(self, request: Frame, ignored: list[Frame]) -> Frame:
        parser = FrameParser()

        def answer(chunk: bytes) -> Frame | None:
            frames = parser.feed(chunk)
            if parser.faults:
                raise parser.faults[0]
            for frame in frames:
                if not frame.is_reply:  # skip an RS-485 echo of our own request
                    continue
                if self._answers(request, frame):
                    return frame
                ignored.append(frame)
            return None

        return self._read_until(answer, "reply", self.timeout)

    def _check_reply(self, request: Frame, reply: Frame, di: int | None, what: str) -> None:
        if function_code(reply.control) != function_code(request.control):
            raise ProtocolError(f"{what}: reply has control code {reply.control:02X}")
        if "A" in request.address:
            if not address_matches(request.address, reply.address) or "A" in reply.address:
                raise ProtocolError(f"{what}: reply from non-matching address {reply.address}")
        elif reply.address != request.address:
            raise ProtocolError(f"{what}: reply from another meter {reply.address}")
        if reply.is_abnormal and request.function_code == sec.CONTROL_SECURITY:
            serr = sec.serr_from(reply.data)
            raise SecurityRefused(
                f"{what}: refused, C={reply.control:02X} SERR {serr:04X} "
                f"({', '.join(sec.decode_serr(serr))})",
                error_word=serr, control=reply.control, di=di, address=request.address)
        if reply.is_abnormal:
            word = reply.data[0] if reply.data else 0
            reasons = ", ".join(decode_error_word(word))
            raise MeterAbnormalReply(
                f"{what}: abnormal reply C={reply.control:02X} error word {word:02X} ({reasons})",
                error_word=word,
                control=reply.control,
                di=di,
                address=request.address,
            )
