"""IEC 62056-21 mode C master (client): the rig reading a meter through an optical probe.

Every exchange starts at the sign-on rate (300 Bd), switches to the rate agreed in the
identification/option select and returns to the sign-on rate when the meter does. Timeouts,
BCC and parity errors are retried (a readout from the sign-on, a programming command by
resending it after the meter's NAK); errors name the step, the meter and the fault.
The P1 password is never written to the transcript: its characters are logged as '*'.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rig.errors import ProtocolError
from rig.meter.iec62056 import frames as f
from rig.meter.serial_client import POLL_INTERVAL, MeterTimeout, SerialClient, SerialPort
from rig.meter.serial_open import is_pseudo_terminal, open_serial
from rig.meter.transcript import Transcript

log = logging.getLogger(__name__)

T = TypeVar("T")


class MeterErrorReply(ProtocolError):
    """The meter answered a programming command with an error message `(TEXT)`."""

    def __init__(self, message: str, text: str) -> None:
        super().__init__(message)
        self.text = text


class _Nak(ProtocolError):
    """The meter answered NAK (or a repeat failed too): send the command again."""


class Iec62056Client(SerialClient):
    """One mode C master on an open serial port."""

    def __init__(
        self,
        port: SerialPort,
        address: str = "",
        *,
        password: str | None = None,
        initial_baudrate: int = 300,
        max_baudrate: int = 19200,
        timeout: float = 1.5,
        retries: int = 2,
        transcript: Transcript | None = None,
        software_parity: bool = False,
    ) -> None:
        super().__init__(port, timeout=timeout, retries=retries, transcript=transcript)
        self.address = address
        self._password = password
        self.initial_baudrate = initial_baudrate
        self.max_baudrate = max_baudrate
        self.software_parity = software_parity
        self.identification: f.Identification | None = None
        self.in_programming = False

    @classmethod
    def open(
        cls,
        path_or_url: str,
        *,
        baudrate: int = 300,
        bytesize: int = 7,
        parity: str = "E",
        stopbits: float = 1,
        **kw: Any,
    ) -> Iec62056Client:
        """Open at the sign-on rate, 7E1 as the standard asks.

        `parity="N"` opens 8N1 with software parity (the 7E1 parity bit in bit 7). A
        pseudo-terminal cannot carry a parity bit (it stays 8N1 whatever is asked, and refuses
        a change of parity alone with EINVAL, so every later rate or timeout change of a port
        opened 7E1 could fail): there the client opens 8N1 and sends bare 7-bit characters,
        which is what a standard 7E1 client ends up sending on a pty. The emulated meter
        answers each session in the form its sign-on came in.
        """
        software = parity == "N"
        if not software and is_pseudo_terminal(path_or_url):
            log.info("%s is a pseudo-terminal (no parity bit): 8N1 with bare 7-bit characters, "
                     "as a standard 7E1 client is left there", path_or_url)
            bytesize, parity = 8, "N"
        port = open_serial(path_or_url, baudrate=baudrate, bytesize=8 if software else bytesize,
                           parity="N" if software else parity, stopbits=stopbits,
                           timeout=POLL_INTERVAL, what="IEC 62056-21 port")
        return cls(port, initial_baudrate=baudrate, software_parity=software, **kw)

    def close(self) -> None:
        if self.in_programming:
            with contextlib.suppress(ProtocolError):
                self.break_()
        super().close()

    # -- public operations ---------------------------------------------------------------------
    def readout(self) -> dict[str, f.DataSet]:
        """Sign on and take a mode C data readout; data sets by address (first wins)."""
        what = f"readout of meter {self.address or '(any)'}"

        def attempt(_: int) -> dict[str, f.DataSet]:
            rate = self._sign_on(f.MODE_READOUT)
            msg = self._receive(f"{what} at {rate} Bd", timeout=self._readout_timeout(rate))
            self._set_baudrate(self.initial_baudrate)
            if not msg.startswith(f.STX):
                raise f.Iec62056Error("expected STX data block", msg)
            sets = f.parse_datasets(f.ascii_text(msg[1:-2]).rstrip("!\r\n"))
            return {ds.address: ds for ds in reversed(sets)}

        return self._session(attempt, what)

    def open_programming(self) -> str:
        """Sign on into programming mode and send the P1 password; returns the P0 data."""
        what = f"programming mode of meter {self.address or '(any)'}"

        def attempt(_: int) -> bytes:
            self._sign_on(f.MODE_PROGRAMMING)
            p0 = self._receive(f"{what}: P0")
            if not p0.startswith(f.SOH + b"P0"):
                raise f.Iec62056Error("expected the P0 operand message", p0)
            return p0

        p0 = self._session(attempt, what)
        self.in_programming = True
        if self._password is not None:
            self._command(f.command("P", "1", f"({self._password})"), "P1 password",
                          secret=self._password)
        return f.block_text(p0)

    def read(self, address: str) -> f.DataSet:
        """R1 in programming mode: one data set."""
        reply = self._command(f.command("R", "1", f"{address}()"), f"R1 {address}")
        sets = f.parse_datasets(f.block_text(reply))
        if len(sets) != 1:
            raise ProtocolError(f"R1 {address}: meter answered {len(sets)} data sets, "
                                f"expected 1: {f.show(reply)}")
        [ds] = sets
        if ds.address != address:
            raise ProtocolError(f"R1 {address}: meter answered {ds}")
        return ds

    def write(self, address: str, value: str) -> None:
        """W1 in programming mode; the meter acknowledges with ACK."""
        self._command(f.command("W", "1", f"{address}({value})"), f"W1 {address}")

    def break_(self) -> None:
        """B0: leave programming mode; the meter answers nothing and returns to 300 Bd."""
        self._write(f.command("B", "0"), "B0 break")
        self.in_programming = False
        self._set_baudrate(self.initial_baudrate)

    # -- internals -------------------------------------------------------------------------------
    def _readout_timeout(self, rate: int) -> float:
        return self.timeout + 4096 * 10 / rate  # room for a long readout at the slow rate

    def _sign_on(self, mode: str) -> int:
        self._set_baudrate(self.initial_baudrate)
        self._port.reset_input_buffer()
        self._write(f.request(self.address), "sign-on")
        line = self._receive(f"sign-on of meter {self.address or '(any)'}")
        ident = f.parse_identification(line)
        self.identification = ident
        rate = min(ident.baudrate, self.max_baudrate)
        self._write(f.ack_option(rate, mode), f"option select {rate} Bd mode {mode}")
        flush = getattr(self._port, "flush", None)
        if flush is not None:
            flush()  # the ACK leaves at the old rate before the switch
        self._set_baudrate(rate)
        return rate

    def _session(self, attempt: Callable[[int], T], what: str) -> T:
        """A sign-on and what follows it, retried from the sign-on rate on a timeout or a
        corrupted message."""
        def fault(exc: ProtocolError, n: int) -> ProtocolError:
            return type(exc)(f"{what}: {exc} (attempt {n} of {self.attempts})")

        return self.with_retries(attempt, retry_on=(MeterTimeout, f.Iec62056Error), fault=fault,
                                 recover=lambda: self._set_baudrate(self.initial_baudrate))

    def _command(self, raw: bytes, what: str, *, secret: str | None = None) -> bytes:
        full = f"{what} to meter {self.address or '(any)'}"
        if not self.in_programming:
            raise ProtocolError(f"{full}: not in programming mode (call open_programming)")

        def attempt(n: int) -> bytes:
            self._write(raw, f"{what} try {n}", secret=secret)
            try:
                reply = self._receive(full)
            except f.Iec62056Error as e:  # corrupted reply: ask for a repeat
                self._write(f.NAK, f"NAK after {e}")
                try:
                    reply = self._receive(full)
                except (f.Iec62056Error, MeterTimeout) as again:
                    raise _Nak(str(again)) from again
            if reply == f.NAK:
                raise _Nak("the meter did not understand")  # send again
            if reply.startswith(f.STX) and reply[1:2] == b"(":
                text = f.block_text(reply).strip("()")
                raise MeterErrorReply(f"{full}: meter answered error {text!r}", text)
            return reply

        def fault(_: ProtocolError, n: int) -> ProtocolError:
            return MeterTimeout(f"{full}: no valid reply after {n} attempt(s)")

        return self.with_retries(attempt, retry_on=(MeterTimeout, _Nak), fault=fault)

    def _set_baudrate(self, rate: int) -> None:
        if getattr(self._port, "baudrate", rate) != rate:
            self._port.baudrate = rate  # type: ignore[attr-defined]

    def _write(self, data: bytes, note: str, *, secret: str | None = None) -> None:
        wire = f.with_even_parity(data) if self.software_parity else data
        self._port.write(wire)
        logged = data
        if secret:
            logged = data.replace(secret.encode("ascii"), b"*" * len(secret))
            note += " (password redacted)"
        self.transcript.add("tx", logged, note)

    def _receive(self, what: str, timeout: float | None = None) -> bytes:
        reader = f.MessageReader(ack_starts_line=False)

        def message(chunk: bytes) -> bytes | None:
            data = f.strip_even_parity(chunk) if self.software_parity else chunk
            messages = reader.feed(data)
            return messages[0] if messages else None

        return self._read_until(message, what, self.timeout if timeout is None else timeout)
