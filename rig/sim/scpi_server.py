"""Raw-socket SCPI server for the emulated load (what a LAN instrument offers on port 5025).

The rig reaches it exactly like real hardware: pyvisa-py with ``TCPIP0::host::port::SOCKET``.
Newline-terminated program messages, several commands per line separated by ``;``, short and
long header forms, case-insensitive, and one instrument-wide SCPI error queue. The command tree
is the one of the load's dialect (a Chroma answers ``LOAD ON``, a generic SCPI load ``INP ON``;
each refuses the other's with -113), and a test can inject instrument faults (`Fault`).
The IEEE 488.2 common commands and status model (`*ESR?`, `*STB?`, `*ESE`, `*SRE`, `*TST?`,
`*OPC`, `*WAI`; see scpi_status.py) are the same for every dialect: 488.2 makes them mandatory.
Here: the connections, faults, error queue and the dispatch of a program message; the
dialects' command trees are scpi_commands.py's, header and number parsing scpi_parsing.py's,
the instrument itself emulated_load.py.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections import deque
from enum import StrEnum

from rig.sim.emulated_load import EmulatedLoad, ScpiError
from rig.sim.scpi_commands import TABLES
from rig.sim.scpi_parsing import Handler, compile_header, no_arg, register_setter
from rig.sim.scpi_status import OPC, StatusRegisters, event_of_error
from rig.sim.tcp_listener import TcpListener

log = logging.getLogger(__name__)

ERROR_QUEUE_LENGTH = 10
#: Distinct query texts remembered with their handler (bounds the cache against odd spellings)
QUERY_CACHE_SIZE = 256
_NO_ERROR = '0,"No error"'
#: SCPI version the command tree follows (SYSTem:VERSion?, SCPI-1999 Vol. 2, 21.21)
SCPI_VERSION = "1999.0"


class Fault(StrEnum):
    """Instrument faults a test can inject (`ScpiServer.inject_fault`)."""

    DROP = "drop"  #: close the client's connection on its next program message
    SILENT = "silent"  #: hung firmware: read and ignore everything, never answer
    ERROR = "error"  #: refuse the next setting commands with an error instead of executing them


class ScpiServer:
    """TCP SCPI front end of an `EmulatedLoad`; one thread per client connection.

    ``dialect`` (default: the load's) selects the command tree the instrument understands.
    """

    def __init__(
        self,
        load: EmulatedLoad,
        *,
        dialect: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.load = load
        self.dialect = dialect or load.dialect
        if self.dialect not in TABLES:
            raise ValueError(f"no SCPI command tree for dialect {self.dialect!r}; "
                             f"known: {', '.join(TABLES)}")
        self._fault: Fault | None = None
        self._fault_count = 0
        self._fault_error = (-300, "Device-specific error")
        self.host = host
        self._requested_port = port
        self.port = 0
        self._listener: TcpListener | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._errors: deque[str] = deque()
        self.status = StatusRegisters()  # powers on with PON set in the event register
        self._message = threading.local()  # .pending: replies of this program message so far
        self._takes_parameter: set[Handler] = set()  # queries such as POW? MAX
        self._commands: list[tuple[re.Pattern[str], bool, Handler]] = []
        self._resolved: dict[tuple[str, bool], Handler] = {}
        self._queries: dict[str, Handler] = {}  # "MEAS:POW?" as sent -> handler
        self._build_table()

    # ------------------------------------------------------------------ lifecycle
    @property
    def resource(self) -> str:
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def start(self) -> ScpiServer:
        """Bind and listen; returns once clients can connect."""
        self._stop.clear()
        self._listener = TcpListener(self._serve, self.host, self._requested_port,
                                     name="scpi")
        self.port = self._listener.port
        self._listener.start()
        return self

    def stop(self) -> None:
        """Close the listener and every client connection, then join all threads."""
        self._stop.set()
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def __enter__(self) -> ScpiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        quickack = getattr(socket, "TCP_QUICKACK", None)
        buffer = b""
        try:
            while not self._stop.is_set():
                chunk = conn.recv(4096)
                if not chunk:
                    return
                if quickack is not None:  # Linux resets it after every ACK decision
                    try:  # (a plain try: this runs once per message, on every round trip)
                        conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                    except OSError:
                        quickack = None
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    fault = self._take_fault(line)
                    if fault is Fault.DROP:
                        return
                    if fault is Fault.SILENT:
                        continue
                    reply = self.execute(line.decode("ascii", "replace"))
                    if reply is not None:
                        conn.sendall(reply.encode("ascii") + b"\n")
        except OSError:
            return

    # ------------------------------------------------------------------ faults
    def inject_fault(
        self,
        fault: Fault,
        *,
        count: int = 1,
        code: int = -300,
        message: str = "Device-specific error",
    ) -> None:
        """Arm a fault for the next ``count`` program messages (DROP / ERROR) or until cleared.

        SILENT lasts until `clear_fault`; ERROR refuses the next ``count`` setting commands with
        ``code,"message"`` in the error queue (queries are still answered).
        """
        with self._lock:
            self._fault = Fault(fault)
            self._fault_count = count
            self._fault_error = (code, message)

    def clear_fault(self) -> None:
        with self._lock:
            self._fault = None

    def _take_fault(self, line: bytes) -> Fault | None:
        """The transport-level fault for this message (DROP, SILENT), consuming one DROP."""
        if self._fault is None:  # the common case, without the lock (an atomic read)
            return None
        with self._lock:
            fault = self._fault
            if fault is Fault.DROP:
                self._fault_count -= 1
                if self._fault_count <= 0:
                    self._fault = None
            return fault if fault in (Fault.DROP, Fault.SILENT) else None

    def _take_error_fault(self) -> tuple[int, str] | None:
        if self._fault is None:
            return None
        with self._lock:
            if self._fault is not Fault.ERROR:
                return None
            self._fault_count -= 1
            if self._fault_count <= 0:
                self._fault = None
            return self._fault_error

    # ------------------------------------------------------------------ error queue
    def push_error(self, code: int, message: str) -> None:
        """Queue an error and set its class's bit in the standard event status register."""
        with self._lock:
            if len(self._errors) >= ERROR_QUEUE_LENGTH:
                self._errors[-1] = '-350,"Queue overflow"'
                code = -350
            else:
                self._errors.append(f'{code},"{message}"')
        self.status.event(event_of_error(code))

    def _pop_error(self) -> str:
        with self._lock:
            return self._errors.popleft() if self._errors else _NO_ERROR

    def _clear_status(self) -> None:
        """*CLS: the error queue and the event status register."""
        with self._lock:
            self._errors.clear()
        self.status.clear()

    def _error_count(self) -> str:
        with self._lock:
            return str(len(self._errors))

    def _status_byte(self) -> str:
        with self._lock:
            queued = bool(self._errors)
        pending = getattr(self._message, "pending", False)
        return str(self.status.status_byte(queue_not_empty=queued, message_available=pending))

    # ------------------------------------------------------------------ parser
    def execute(self, line: str) -> str | None:
        """Run one program message; returns the response message or None."""
        if ";" not in line:  # one command per message: what a bench loop sends
            unit = line.strip()
            if not unit:
                return None
            try:
                return self._execute_one(unit)
            except ScpiError as err:
                self.push_error(err.code, err.message)
                return None
        replies: list[str] = []
        try:
            for unit in line.strip().split(";"):
                unit = unit.strip()
                if not unit:
                    continue
                self._message.pending = bool(replies)  # MAV for a *STB? in this message
                try:
                    reply = self._execute_one(unit)
                except ScpiError as err:
                    self.push_error(err.code, err.message)
                    continue
                if reply is not None:
                    replies.append(reply)
        finally:
            self._message.pending = False
        return ";".join(replies) if replies else None

    def _execute_one(self, unit: str) -> str | None:
        handler = self._queries.get(unit)
        if handler is not None:  # a query seen before, as sent: no parsing on the hot path
            return handler(None)
        header, _, arg = unit.partition(" ")
        header = header.lstrip(":")
        if not header.startswith("*"):
            header = ":" + header  # table patterns are rooted at ':'
        query = header.endswith("?")
        if query:
            header = header[:-1]
        argument = arg.strip() or None
        key = (header.upper(), query)
        if not query and not header.startswith("*"):
            refused = self._take_error_fault()
            if refused is not None:
                raise ScpiError(*refused)
        handler = self._resolved.get(key)
        if handler is None:
            for pattern, is_query, candidate in self._commands:
                if is_query == query and pattern.match(header):
                    handler = self._resolved[key] = candidate  # bench loops repeat headers
                    break
            else:
                raise ScpiError(-113, "Undefined header")
        if query and argument is not None and handler not in self._takes_parameter:
            raise ScpiError(-108, "Parameter not allowed")
        if query and argument is None and len(self._queries) < QUERY_CACHE_SIZE:
            self._queries[unit] = handler
        return handler(argument)

    def _build_table(self) -> None:
        def add(spec: str, handler: Handler, *, query: bool, parameter: bool = False) -> None:
            """`parameter`: a query that takes one (``POW? MAX``); others refuse it (-108)."""
            self._commands.append((compile_header(spec), query, handler))
            if query and parameter:
                self._takes_parameter.add(handler)

        status = self.status
        add("*IDN", lambda _: self.load.idn, query=True)
        add("*RST", no_arg(self.load.reset), query=False)  # status registers are kept (10.32)
        add("*CLS", no_arg(self._clear_status), query=False)
        add("*OPC", no_arg(lambda: status.event(OPC)), query=False)  # all commands finish at once
        add("*OPC", lambda _: "1", query=True)
        add("*WAI", no_arg(lambda: None), query=False)  # nothing overlapped to wait for
        add("*TST", lambda _: "0", query=True)  # self-test passed
        add("*ESR", lambda _: str(status.read_esr()), query=True)
        add("*ESE", register_setter(lambda v: setattr(status, "ese", v)), query=False)
        add("*ESE", lambda _: str(status.ese), query=True)
        add("*SRE", register_setter(lambda v: setattr(status, "sre", v & ~0x40)), query=False)
        add("*SRE", lambda _: str(status.sre), query=True)
        add("*STB", lambda _: self._status_byte(), query=True)
        add("SYSTem:ERRor[:NEXT]", lambda _: self._pop_error(), query=True)
        add("SYSTem:ERRor:COUNt", lambda _: self._error_count(), query=True)
        add("SYSTem:VERSion", lambda _: SCPI_VERSION, query=True)
        TABLES[self.dialect](self.load, add)
