"""Generic electronic-load driver over VISA (pyvisa / pyvisa-py).

One API for every load model; the differences live in `rig.load.dialects`. Every setting command
is followed by one status query so that an instrument error is raised *at the command that
caused it* (a bench log then says which set point the load refused): ``*ESR?`` where the model
has it (one short integer; only when an error bit is set is the error queue read for the
messages), else the error queue itself. Leaving the driver by any path switches the input off
first (house rule: a bench always ends in its safe state).
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Self

from rig.errors import InstrumentError
from rig.load.dialects import Dialect, LoadMode, get_dialect, match_dialect
from rig.load.scpi_codec import (
    ESR_BITS,
    ESR_ERRORS,
    MAX_ERROR_DRAIN,
    Identity,
    Measurement,
    format_number,
    parse_error,
)
from rig.load.visa_import import numpy_hidden

with numpy_hidden():  # pyvisa would import numpy for binary blocks rig never reads
    import pyvisa
    from pyvisa import constants

log = logging.getLogger(__name__)


class LinkError(InstrumentError):
    """The VISA link failed (write refused, no reply, connection lost), not the instrument.

    Distinct from an instrument-reported error because only a link failure is worth a fresh
    session: `ElectronicLoad.safe_state` then reopens the resource once to switch the input off.
    """


class ElectronicLoad:
    """A programmable load on a VISA session, spoken to in one `Dialect`.

    Use `ElectronicLoad.open` as a context manager; ``close()`` switches the input off before the
    session is closed, even after errors.
    """

    def __init__(
        self,
        instrument: Any,
        dialect: Dialect,
        *,
        resource: str,
        resource_manager: Any | None = None,
        idn: str = "",
        timeout_ms: int | None = None,
    ) -> None:
        self._inst = instrument
        self._rm = resource_manager
        self._timeout_ms = timeout_ms if timeout_ms is not None else dialect.timeout_ms
        self.dialect = dialect
        self.resource = resource
        self._idn = idn
        self._closed = False

    # ------------------------------------------------------------------ opening / closing
    @classmethod
    def open(
        cls,
        resource: str,
        *,
        dialect: str | None = None,
        backend: str = "@py",
        timeout_ms: int | None = None,
    ) -> ElectronicLoad:
        """Open ``resource``, identify it, pick the dialect and clear its status.

        Sends ``*IDN?`` (dialect from its match pattern unless ``dialect`` names one), then
        ``*CLS`` (+ its status check) so that stale errors are not blamed on our first command.
        ``timeout_ms=None`` takes the dialect's timeout.
        """
        chosen = get_dialect(dialect) if dialect is not None else None
        termination = chosen.termination if chosen else "\n"
        timeout_from_dialect = timeout_ms is None
        if timeout_ms is None:
            timeout_ms = chosen.timeout_ms if chosen else get_dialect("generic-scpi").timeout_ms
        rm = pyvisa.ResourceManager(backend)
        try:
            inst = rm.open_resource(
                resource,
                read_termination=termination,
                write_termination=termination,
                timeout=timeout_ms,
            )
        except Exception as exc:  # rm stays open: pyvisa shares it with every other session
            raise InstrumentError(f"{resource}: cannot open VISA session: {exc}") from exc
        _set_nodelay(inst, resource)
        load = cls(inst, chosen or get_dialect("generic-scpi"), resource=resource,
                   resource_manager=rm, timeout_ms=timeout_ms)
        try:
            idn = load._query(load.dialect.command("identify"))
            load._idn = idn
            if chosen is None:
                load.dialect = match_dialect(idn, resource=resource)
                inst.read_termination = load.dialect.termination
                inst.write_termination = load.dialect.termination
                if timeout_from_dialect:
                    inst.timeout = load._timeout_ms = load.dialect.timeout_ms
            if "clear_status" in load.dialect.commands:
                load._set(load.dialect.command("clear_status"))
        except BaseException:
            load._close_session()
            raise
        return load

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Switch the input off (best effort), then close the VISA session. Idempotent."""
        if self._closed:
            return
        try:
            self.safe_state()
        finally:
            self._close_session()

    def _close_session(self) -> None:
        """Close our VISA session only: pyvisa hands every caller the same process-wide resource
        manager, and closing it would close every other instrument's session too (another load
        left on). pyvisa closes the manager itself at exit."""
        self._closed = True
        try:
            self._inst.close()
        except Exception as exc:  # closing must never mask the original error
            log.warning("%s: error while closing: %s", self.resource, exc)

    # ------------------------------------------------------------------ low-level I/O
    def _write(self, command: str) -> None:
        if self._closed:
            raise InstrumentError(f"{self.resource}: {command!r} sent on a closed session")
        try:
            self._inst.write(command)
        except Exception as exc:
            raise LinkError(f"{self.resource}: writing {command!r} failed: {exc}") from exc

    def _query(self, command: str) -> str:
        self._write(command)
        try:
            reply = str(self._inst.read()).strip()
        except Exception as exc:
            raise LinkError(f"{self.resource}: no reply to {command!r}: {exc}") from exc
        if not reply:  # an empty line is not an answer to any query we send
            raise LinkError(f"{self.resource}: empty reply to {command!r}")
        return reply

    def _command(self, operation: str, **fields: str) -> str:
        """The dialect's string for ``operation``; InstrumentError naming resource and dialect."""
        if operation not in self.dialect.commands:
            raise InstrumentError(
                f"{self.resource}: dialect {self.dialect.name!r} has no command for "
                f"{operation!r} (the instrument does not offer it)"
            )
        return self.dialect.command(operation, **fields)

    def _query_number(self, command: str) -> Decimal:
        reply = self._query(command)
        try:
            number = Decimal(reply)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite():  # NaN or Infinity is no reading, whatever Decimal accepts
            raise InstrumentError(
                f"{self.resource}: reply {reply!r} to {command!r} is not a number"
            )
        return number

    def _query_register(self, command: str) -> int:
        """An IEEE 488.2 register query (``*ESR?``, ``*STB?``): an integer 0-255."""
        reply = self._query(command)
        try:
            value = int(reply)
        except ValueError:
            value = -1
        if not 0 <= value <= 255:
            raise InstrumentError(f"{self.resource}: reply {reply!r} to {command!r} is not a "
                                  "register value 0-255")
        return value

    def _set(self, command: str) -> None:
        """Send a setting command and raise at once if the instrument reports an error."""
        self._write(command)
        status_query = self.dialect.commands.get("event_status_query")
        events = 0
        if status_query is not None:
            events = self._query_register(status_query)
            if events & 0x80:
                log.warning("%s: the load reports power-on (*ESR? %d): it restarted, its "
                            "settings are its power-on ones", self.resource, events)
            if not events & ESR_ERRORS:
                return
        found = self._drain_errors(after=command)
        if found:
            detail = "; ".join(f"{code},\"{message}\"" for code, message in found)
            raise InstrumentError(f"{self.resource}: command {command!r} failed: {detail}")
        if events & ESR_ERRORS:
            named = ", ".join(ESR_BITS[b] for b in range(8) if events & ESR_ERRORS & (1 << b))
            raise InstrumentError(f"{self.resource}: command {command!r} failed: *ESR? "
                                  f"{events} ({named}), error queue empty")

    def _drain_errors(self, *, after: str | None = None) -> list[tuple[int, str]]:
        query = self.dialect.command("error_query")
        found: list[tuple[int, str]] = []
        for _ in range(MAX_ERROR_DRAIN):
            reply = self._query(query)
            try:
                code, message = parse_error(reply)
            except ValueError:
                context = f" after {after!r}" if after else ""
                raise InstrumentError(
                    f"{self.resource}: malformed {query!r} reply {reply!r}{context}"
                ) from None
            if code == self.dialect.no_error_code:
                break
            found.append((code, message))
        return found

    # ------------------------------------------------------------------ public API
    @property
    def idn(self) -> str:
        """The raw ``*IDN?`` reply read at open."""
        return self._idn

    def identify(self) -> Identity:
        """Ask ``*IDN?`` again (proves the session is alive) and split it into its fields."""
        self._idn = self._query(self._command("identify"))
        return Identity.parse(self._idn)

    def reset(self) -> None:
        """Instrument reset (``*RST``): input off, factory set points."""
        self._set(self._command("reset"))

    def set_mode(self, mode: LoadMode) -> None:
        """Select the regulation mode; InstrumentError if this model does not offer it."""
        try:
            token = self.dialect.modes[LoadMode(mode)]
        except (KeyError, ValueError):
            offered = ", ".join(m.value for m in self.dialect.modes)
            raise InstrumentError(
                f"{self.resource}: mode {mode!s} not offered by dialect {self.dialect.name!r} "
                f"(offers {offered})"
            ) from None
        self._set(self._command("set_mode", mode=token))

    def set_power(self, watts: Decimal) -> None:
        """Constant-power set point in W."""
        self._set(self._command("set_power", value=format_number(watts)))

    def set_current(self, amps: Decimal) -> None:
        """Constant-current set point in A (RMS on AC loads)."""
        self._set(self._command("set_current", value=format_number(amps)))

    def set_resistance(self, ohms: Decimal) -> None:
        """Constant-resistance set point in Ω."""
        self._set(self._command("set_resistance", value=format_number(ohms)))

    def input_on(self) -> None:
        """Start drawing current."""
        self._set(self._command("input_on"))

    def input_off(self) -> None:
        """Stop drawing current."""
        self._set(self._command("input_off"))

    def input_state(self) -> bool:
        """True if the input is on."""
        reply = self._query(self._command("input_query"))
        return reply.strip().upper() in self.dialect.on_replies

    def measure(self) -> Measurement:
        """Read voltage (V), current (A) and power (W) as Decimals."""
        return Measurement(
            voltage=self._query_number(self._command("measure_voltage")),
            current=self._query_number(self._command("measure_current")),
            power=self._query_number(self._command("measure_power")),
        )

    def measure_power(self) -> Decimal:
        """Read the power (W) alone: one query, for loops that log power only (`measure` asks
        for voltage and current too)."""
        return self._query_number(self._command("measure_power"))

    def measure_power_factor(self) -> Decimal:
        """Power factor at the input (AC loads); InstrumentError if the dialect lacks it."""
        return self._query_number(self._command("measure_pf"))

    def energy_wh(self) -> Decimal:
        """Energy the load has drawn (Wh, as the instrument accumulates it).

        InstrumentError naming the dialect if the model keeps no energy register.
        """
        return self._query_number(self._command("measure_energy"))

    def event_status(self) -> int:
        """``*ESR?``: the standard event status register (reading clears it)."""
        return self._query_register(self._command("event_status_query"))

    def status_byte(self) -> int:
        """``*STB?``: the status byte (bit 2 error queue not empty, 5 event summary, 6 MSS)."""
        return self._query_register(self._command("status_byte_query"))

    def next_error(self) -> tuple[int, str]:
        """One entry of the error queue (``(0, "No error")`` when empty)."""
        query = self._command("error_query")
        reply = self._query(query)
        try:
            return parse_error(reply)
        except ValueError:
            raise InstrumentError(f"{self.resource}: malformed {query!r} reply {reply!r}") from None

    def errors(self) -> list[tuple[int, str]]:
        """Drain the instrument's error queue: ``[(code, message), ...]``, empty if none."""
        return self._drain_errors()

    def safe_state(self) -> bool:
        """Switch the input off, tolerating failures (used on every exit path).

        Returns True if the load confirmed the command; failures are logged, not raised, so a
        broken link cannot mask the error that brought us here.
        """
        if self._closed:
            return False
        try:
            self.input_off()
        except LinkError as exc:
            log.warning("%s: could not switch the load input off: %s", self.resource, exc)
            return self._input_off_on_fresh_session()
        except Exception as exc:
            log.warning("%s: could not switch the load input off: %s", self.resource, exc)
            return False
        return True

    def _input_off_on_fresh_session(self) -> bool:
        """After a link failure, reopen the resource once and send the input-off command.

        A LAN instrument that dropped our socket usually accepts a new one; a hung one does not,
        and then we log and give up (bounded by one timeout).
        """
        if self._rm is None:
            return False
        command = self._command("input_off")
        term = self.dialect.termination
        try:
            fresh = self._rm.open_resource(self.resource, read_termination=term,
                                           write_termination=term, timeout=self._timeout_ms)
        except Exception as exc:
            log.warning("%s: cannot reopen to switch the input off: %s", self.resource, exc)
            return False
        try:
            fresh.write(command)
            reply = str(fresh.query(self._command("error_query"))).strip()
            code, message = parse_error(reply)
        except Exception as exc:
            log.warning("%s: %r on a fresh session failed: %s", self.resource, command, exc)
            return False
        finally:
            try:
                fresh.close()
            except Exception as exc:  # pragma: no cover - closing a dead socket
                log.debug("%s: closing the fresh session: %s", self.resource, exc)
        if code != self.dialect.no_error_code:
            log.warning("%s: %r on a fresh session answered %s,%r", self.resource, command,
                        code, message)
            return False
        log.info("%s: input switched off on a fresh session", self.resource)
        return True


def _set_nodelay(inst: Any, resource: str) -> None:
    """Request/response traffic: never let Nagle hold a command back (if the backend allows)."""
    if resource.upper().endswith("::SOCKET"):
        try:
            inst.set_visa_attribute(constants.VI_ATTR_TCPIP_NODELAY, constants.VI_TRUE)
        except Exception:  # pyvisa-py 0.8 has no setter for SOCKET sessions
            log.debug("%s: TCP_NODELAY not settable", resource)
