"""Raw-socket SCPI server for the emulated load (what a LAN instrument offers on port 5025).

The rig reaches it exactly like real hardware: pyvisa-py with ``TCPIP0::host::port::SOCKET``.
Newline-terminated program messages, several commands per line separated by ``;``, short and
long header forms, case-insensitive, and one instrument-wide SCPI error queue.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from rig.load.dialects import LoadMode
from rig.sim.emulated_load import EmulatedLoad, ScpiError

log = logging.getLogger(__name__)

ERROR_QUEUE_LENGTH = 10
_NO_ERROR = '0,"No error"'

_Handler = Callable[[str | None], str | None]


def _compile_header(spec: str) -> re.Pattern[str]:
    """``[SOURce:]POWer[:LEVel]`` → regex accepting short/long forms of each node.

    Upper-case letters of a node are its short form; brackets mark optional nodes.
    """
    parts: list[str] = []
    for optional, node in re.findall(r"(\[?):?([*A-Za-z]+)\]?", spec):
        short = "".join(c for c in node if not c.islower())
        alt = re.escape(short) if short == node else f"(?:{re.escape(node)}|{re.escape(short)})"
        sep = "" if node.startswith("*") else ":"
        piece = f"{sep}{alt}"
        parts.append(f"(?:{piece})?" if optional else piece)
    pattern = "".join(parts)
    return re.compile(f"^{pattern}$", re.IGNORECASE)


def _parse_bool(arg: str) -> bool:
    token = arg.strip().upper()
    if token in ("ON", "1"):
        return True
    if token in ("OFF", "0"):
        return False
    raise ScpiError(-224, "Illegal parameter value")


_MODE_TOKENS = {
    "POW": LoadMode.CP, "POWER": LoadMode.CP, "CP": LoadMode.CP,
    "CURR": LoadMode.CC, "CURRENT": LoadMode.CC, "CC": LoadMode.CC,
    "RES": LoadMode.CR, "RESISTANCE": LoadMode.CR, "CR": LoadMode.CR,
}
_MODE_REPLY = {LoadMode.CP: "POW", LoadMode.CC: "CURR", LoadMode.CR: "RES"}


class ScpiServer:
    """TCP SCPI front end of an `EmulatedLoad`; one thread per client connection."""

    def __init__(self, load: EmulatedLoad, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.load = load
        self.host = host
        self._requested_port = port
        self.port = 0
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._errors: deque[str] = deque()
        self._commands: list[tuple[re.Pattern[str], bool, _Handler]] = []
        self._resolved: dict[tuple[str, bool], _Handler] = {}
        self._build_table()

    # ------------------------------------------------------------------ lifecycle
    @property
    def resource(self) -> str:
        return f"TCPIP0::{self.host}::{self.port}::SOCKET"

    def start(self) -> ScpiServer:
        """Bind and listen; returns once clients can connect."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self._requested_port))
        listener.listen(8)
        listener.settimeout(0.05)  # lets the accept loop notice stop() promptly
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._stop.clear()
        self._spawn(self._accept_loop, "scpi-accept")
        return self

    def stop(self) -> None:
        """Close the listener and every client connection, then join all threads."""
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for conn in clients:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        current = threading.current_thread()
        for thread in list(self._threads):
            if thread is not current:
                thread.join(timeout=5)
        self._threads.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> ScpiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.add(conn)
            self._spawn(self._serve, f"scpi-client-{peer[1]}", conn)

    def _serve(self, conn: socket.socket) -> None:
        quickack = getattr(socket, "TCP_QUICKACK", None)
        buffer = b""
        try:
            while not self._stop.is_set():
                chunk = conn.recv(4096)
                if not chunk:
                    return
                if quickack is not None:  # Linux resets it after every ACK decision
                    with contextlib.suppress(OSError):
                        conn.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    reply = self.execute(line.decode("ascii", "replace"))
                    if reply is not None:
                        conn.sendall(reply.encode("ascii") + b"\n")
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(conn)
            conn.close()

    # ------------------------------------------------------------------ error queue
    def push_error(self, code: int, message: str) -> None:
        with self._lock:
            if len(self._errors) >= ERROR_QUEUE_LENGTH:
                self._errors[-1] = '-350,"Queue overflow"'
            else:
                self._errors.append(f'{code},"{message}"')

    def _pop_error(self) -> str:
        with self._lock:
            return self._errors.popleft() if self._errors else _NO_ERROR

    def _clear_errors(self) -> None:
        with self._lock:
            self._errors.clear()

    # ------------------------------------------------------------------ parser
    def execute(self, line: str) -> str | None:
        """Run one program message; returns the response message or None."""
        replies: list[str] = []
        for unit in line.strip().split(";"):
            unit = unit.strip()
            if not unit:
                continue
            try:
                reply = self._execute_one(unit)
            except ScpiError as err:
                self.push_error(err.code, err.message)
                continue
            if reply is not None:
                replies.append(reply)
        return ";".join(replies) if replies else None

    def _execute_one(self, unit: str) -> str | None:
        header, _, arg = unit.partition(" ")
        header = header.lstrip(":")
        if not header.startswith("*"):
            header = ":" + header  # table patterns are rooted at ':'
        query = header.endswith("?")
        if query:
            header = header[:-1]
        argument = arg.strip() or None
        key = (header.upper(), query)
        handler = self._resolved.get(key)
        if handler is None:
            for pattern, is_query, candidate in self._commands:
                if is_query == query and pattern.match(header):
                    handler = self._resolved[key] = candidate  # bench loops repeat headers
                    break
            else:
                raise ScpiError(-113, "Undefined header")
        return handler(argument)

    def _build_table(self) -> None:
        load = self.load

        def add(spec: str, handler: _Handler, *, query: bool) -> None:
            self._commands.append((_compile_header(spec), query, handler))

        def number(arg: str | None, maximum: Decimal) -> Decimal:
            if arg is None:
                raise ScpiError(-109, "Missing parameter")
            token = arg.upper()
            if token in ("MIN", "MINIMUM"):
                return Decimal(0)
            if token in ("MAX", "MAXIMUM"):
                return maximum
            try:
                return Decimal(arg)
            except InvalidOperation:
                raise ScpiError(-104, "Data type error") from None

        def needs(arg: str | None) -> str:
            if arg is None:
                raise ScpiError(-109, "Missing parameter")
            return arg

        def no_arg(action: Callable[[], object]) -> _Handler:
            def handler(arg: str | None) -> None:
                if arg is not None:
                    raise ScpiError(-108, "Parameter not allowed")
                action()
            return handler

        def set_mode(arg: str | None) -> None:
            mode = _MODE_TOKENS.get(needs(arg).upper())
            if mode is None:
                raise ScpiError(-224, "Illegal parameter value")
            load.set_mode(mode)

        lim = load.limits
        add("*IDN", lambda _: load.idn, query=True)
        add("*RST", no_arg(load.reset), query=False)
        add("*CLS", no_arg(self._clear_errors), query=False)
        add("*OPC", lambda _: "1", query=True)
        add("SYSTem:ERRor[:NEXT]", lambda _: self._pop_error(), query=True)
        add("INPut[:STATe]", lambda a: load.set_input(_parse_bool(needs(a))), query=False)
        add("INPut[:STATe]", lambda _: "1" if load.input_on else "0", query=True)
        for spec in ("[SOURce:]FUNCtion[:MODE]", "[SOURce:]MODE"):
            add(spec, set_mode, query=False)
            add(spec, lambda _: _MODE_REPLY[load.mode], query=True)
        level = "[:LEVel][:IMMediate][:AMPLitude]"
        add(f"[SOURce:]POWer{level}",
            lambda a: load.set_power(number(a, lim.max_power)), query=False)
        add(f"[SOURce:]POWer{level}", lambda _: str(load.power_setpoint), query=True)
        add(f"[SOURce:]CURRent{level}",
            lambda a: load.set_current(number(a, lim.max_current)), query=False)
        add(f"[SOURce:]CURRent{level}", lambda _: str(load.current_setpoint), query=True)
        add(f"[SOURce:]RESistance{level}",
            lambda a: load.set_resistance(number(a, lim.max_resistance)), query=False)
        add(f"[SOURce:]RESistance{level}", lambda _: str(load.resistance_setpoint), query=True)
        add("MEASure[:SCALar]:VOLTage[:AC]", lambda _: str(load.measure()[0]), query=True)
        add("MEASure[:SCALar]:CURRent[:AC]", lambda _: str(load.measure()[1]), query=True)
        add("MEASure[:SCALar]:POWer[:AC]", lambda _: str(load.measure()[2]), query=True)
