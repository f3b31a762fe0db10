"""IEC 62056-21 mode C meter (server) side, reused by the emulated meter firmware.

Pure protocol: a state machine from sign-on through identification and ACK/option select to
a data readout or programming mode (P0 → P1 password → R1/W1 → B0). Register access goes to
a `DataBank` owned by the meter model.

Character form (see frames.py): on a UART the port makes the parity and bytes are 7-bit; on a
pty a client sends either bare 7-bit characters (a standard 7E1 client, which the pty leaves at
8N1) or 7E1 characters with the parity in bit 7 (rig's client with software parity). By default
the responder takes the form from each sign-on's '/' and answers the session in that form.

Repeats (IEC 62056-21:2002 6.3.6 repeat-request message, Annex A): in programming mode a NAK
asks for the last message the meter sent, whatever it was — a data message, an ACK, the P0, or
the meter's own NAK. After the meter NAKed a command it did not understand, a NAK from the
client gets that NAK again (the command is still wanted), never an older data message that
the client would take for the answer to its new command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from rig.meter.iec62056 import frames as f
from rig.meter.transcript import Transcript


class DataBank(Protocol):
    """What a meter model offers to the protocol layer."""

    def readout(self) -> list[f.DataSet]:
        """The data sets of a mode C readout, in order."""
        ...

    def read(self, address: str) -> f.DataSet:
        """One data set (R1); KeyError if the meter has no such address."""
        ...

    def write(self, address: str, value: str) -> None:
        """Store a value (W1); KeyError unknown, PermissionError read-only, ValueError bad."""
        ...


class Iec62056Responder:
    """Answers one optical-port session at a time for one device address."""

    def __init__(
        self,
        device_address: str,
        bank: DataBank,
        *,
        manufacturer: str,
        ident: str,
        password: str,
        initial_baudrate: int = 300,
        max_baudrate: int = 9600,
        software_parity: bool | None = None,
        on_baudrate: Callable[[int], None] | None = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.device_address = device_address
        self.bank = bank
        self.manufacturer = manufacturer
        self.ident = ident
        self._password = password
        self.initial_baudrate = initial_baudrate
        self.max_baudrate = max_baudrate
        #: True: parity in bit 7, False: bare 7-bit characters, None: as each sign-on came
        self.software_parity = software_parity
        #: the form of the current session (fixed, or detected from the last sign-on)
        self.parity_bit = bool(software_parity)
        self._on_baudrate = on_baudrate
        self.transcript = transcript
        self.reader = f.MessageReader(ack_starts_line=True)
        self.state = "idle"  # idle | identified | programming
        self.authorised = False
        self.baudrate = initial_baudrate
        self.faults: list[str] = []  # line faults and refused commands, for tests and logs
        self._last_reply = b""

    # -- byte stream ------------------------------------------------------------------------
    def serve_stream(self, chunk: bytes) -> bytes:
        """Feed received bytes; return the bytes to send back (maybe empty)."""
        if self.transcript is not None and chunk:
            self.transcript.add("rx", chunk)
        if self.software_parity is None and chunk[:1] and chunk[0] in (
                f.SIGN_ON_7BIT, f.SIGN_ON_PARITY_BIT):
            if self.reader.drop_partial_line():
                self.faults.append("unfinished line dropped: a sign-on began")
            if self.reader.idle:  # a sign-on: its '/' says how this client sends characters
                self.parity_bit = chunk[0] == f.SIGN_ON_PARITY_BIT
        try:
            data = f.strip_even_parity(chunk) if self.parity_bit else f.check_seven_bit(chunk)
            messages = self.reader.feed(data)
        except f.Iec62056Error as e:
            self.faults.append(str(e))
            self.reader.clear()
            if self.state != "programming":
                return b""  # readout: stay silent
            self._last_reply = f.NAK
            return self._send(f.NAK)
        out = bytearray()
        for msg in messages:
            out += self.respond(msg)
        return self._send(bytes(out))

    def _send(self, out: bytes) -> bytes:
        if not out:
            return b""
        if self.transcript is not None:
            self.transcript.add("tx", out)
        return f.with_even_parity(out) if self.parity_bit else out

    def _baud(self, rate: int) -> None:
        self.baudrate = rate
        if self._on_baudrate is not None:
            self._on_baudrate(rate)

    def reset(self) -> None:
        self.state, self.authorised = "idle", False
        self._last_reply = b""
        self._baud(self.initial_baudrate)

    # -- messages -----------------------------------------------------------------------------
    def respond(self, msg: bytes) -> bytes:
        """The reply to one complete message (b"" for none)."""
        if msg.startswith(b"/?") and msg.endswith(b"!" + f.CRLF):
            return self._sign_on(msg[2:-3].decode("ascii", "replace"))
        if self.state == "identified" and msg.startswith(f.ACK):
            return self._option_select(msg)
        if self.state == "programming":
            return self._programming(msg)
        self.faults.append(f"ignored in state {self.state}: {f.show(msg)}")
        return b""

    def _sign_on(self, address: str) -> bytes:
        self.reset()
        if address and address.lstrip("0") != self.device_address.lstrip("0"):
            return b""  # another meter on the bus
        self.state = "identified"
        return f.identification(self.manufacturer, self.max_baudrate, self.ident)

    def _option_select(self, msg: bytes) -> bytes:
        text = msg[1:].rstrip(b"\r\n").decode("ascii", "replace")
        if len(text) != 3 or text[1] not in f.BAUD_OF_CHAR or text[2] not in "01":
            self.faults.append(f"bad option select: {f.show(msg)}")
            self.reset()
            return b""
        rate = f.BAUD_OF_CHAR[text[1]]
        if rate > self.max_baudrate:
            self.faults.append(f"option select asks {rate} Bd, above {self.max_baudrate}")
            self.reset()
            return b""
        self._baud(rate)
        if text[2] == f.MODE_READOUT:
            lines = [str(ds) for ds in self.bank.readout()]
            self.state = "idle"
            return f.readout(lines)  # the meter goes back to the initial rate afterwards
        self.state = "programming"
        self._last_reply = f.command("P", "0", f"({self.device_address})")
        return self._last_reply

    def _programming(self, msg: bytes) -> bytes:
        if msg == f.NAK:
            return self._last_reply
        if not msg.startswith(f.SOH) or len(msg) < 5:
            self.faults.append(f"not a command: {f.show(msg)}")
            self._last_reply = f.NAK
            return f.NAK
        cmd = msg[1:3].decode("ascii", "replace")
        body = f.block_text(msg)
        if cmd == "B0":
            self.reset()
            return b""
        reply = self._command(cmd, body)
        self._last_reply = reply
        return reply

    def _command(self, cmd: str, body: str) -> bytes:
        if cmd == "P1":
            if body == f"({self._password})":
                self.authorised = True
                return f.ACK
            self.faults.append("P1 password refused")
            return f.data_message("(PASSWORD ERROR)")
        if cmd not in ("R1", "W1"):
            self.faults.append(f"command {cmd} not supported")
            return f.data_message("(COMMAND ERROR)")
        if not self.authorised:
            self.faults.append(f"{cmd} before the P1 password")
            return f.data_message("(ACCESS DENIED)")
        try:
            [ds] = f.parse_datasets(body)
        except (f.Iec62056Error, ValueError):
            self.faults.append(f"{cmd} data set {body!r} malformed")
            return f.data_message("(SYNTAX ERROR)")
        try:
            if cmd == "R1":
                return f.data_message(str(self.bank.read(ds.address)))
            self.bank.write(ds.address, ds.value)
            return f.ACK
        except KeyError:
            self.faults.append(f"{cmd} {ds.address}: no such data")
            return f.data_message("(ADDRESS ERROR)")
        except PermissionError as e:
            self.faults.append(f"{cmd} {ds.address}: {e}")
            return f.data_message("(READ ONLY)")
        except ValueError as e:
            self.faults.append(f"{cmd} {ds.address}: {e}")
            return f.data_message("(VALUE ERROR)")
