"""A Bench: a config turned into open instruments, with one safe state for every exit path.

Whatever ends a run — a failed assertion, an instrument error, Ctrl-C, SIGTERM — closing the
bench switches the load input off, powers the card down, closes the serial port and stops an
emulated bench it started. Nothing here knows whether the parts are real or emulated beyond
where their addresses come from.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rig.bench.config import BenchConfig
from rig.bench.control import ControlClient
from rig.bench.courier import CardCourier, CommandCourier, EmulatedCourier, PromptCourier
from rig.bench.master_key import bench_master_key
from rig.bench.safe_report import SafeStateReport
from rig.bench.scpi_log import ScpiLog, record_scpi
from rig.bench.serial_proxy import SerialFaultProxy, SerialFaults
from rig.card.keys import MasterKey
from rig.card.pcsc import PcscConnection, PcscReader
from rig.card.trace import ApduTrace
from rig.card_formats.registry import card_format, check_options
from rig.clock import BenchClock
from rig.errors import ConfigError
from rig.load.driver import ElectronicLoad
from rig.meter.client import MeterClient, open_meter
from rig.meter.transcript import Transcript
from rig.printer.settings import PrinterSettings
from rig.profile import MeterProfile, load_profile, with_address
from rig.report.provenance import file_sha256

if TYPE_CHECKING:
    from rig.card.relay import RelayConnection, RelayReader

log = logging.getLogger(__name__)


def _record_note(profile: MeterProfile) -> str:
    """What a card format says every record of its runs must carry (esam-cpu: SM4 in place
    of SM1), after the meter model."""
    note = getattr(card_format(profile.card.format), "record_note", "")
    return f" ({note})" if note else ""


@dataclass
class Bench:
    """Open instruments of one bench and the identity stamped on every record."""

    config: BenchConfig
    profile: MeterProfile  # the DUT's model, at this unit's meter address
    clock: BenchClock
    meter: MeterClient
    load: ElectronicLoad
    reader: PcscReader | RelayReader  # a relayed reader: a lab place's card writer
    courier: CardCourier
    master_key: MasterKey
    meter_transcript: Transcript
    apdu_trace: ApduTrace
    parts: dict[str, str] = field(default_factory=dict)
    sim: ControlClient | None = None  # the emulated bench's control channel; None on a real one
    scpi_log: ScpiLog | None = None  # every command to the load and its reply
    serial_faults: SerialFaultProxy | None = None
    meter_port: str = ""  # the serial port rig talks to the meter on
    meter_line: Mapping[str, object] = field(default_factory=dict)  # baud, parity, bits, stop
    card_atr: str = ""  # the card's ATR (hex) as the writer last saw it
    safe_report: SafeStateReport = field(default_factory=SafeStateReport)
    _card_sessions: int = field(default=0, init=False, repr=False)  # powered card sessions

    @property
    def card_options(self) -> dict[str, str]:
        """The card format's options on this bench: the profile's, then the writer's (on an
        emulated bench, issue_reader is the reader the bench made for the issuing writer)."""
        options = {**self.profile.card.options, **self.config.card.writer_options()}
        if options.get("issue_reader") and self.parts.get("issue_reader"):
            options["issue_reader"] = self.parts["issue_reader"]
        return options

    @property
    def instruments(self) -> dict[str, dict[str, object]]:
        """What measured: the load as it names itself (*IDN?), the card reader and the ATR
        of the card it held, the meter's serial port and line settings."""
        return {
            "load": {"idn": self.load.idn, "resource": self.load_resource},
            "card_reader": {"name": self.reader.name, "atr": self.card_atr},
            "meter_port": {"port": self.meter_port, **self.meter_line,
                           "protocol": self.profile.protocol.kind},
        }

    @property
    def printer(self) -> PrinterSettings | None:
        """The station's receipt printer: the bench file's [printer], on an emulated bench
        at the emulated printer's TCP port unless the file names another; None: no printer."""
        url = self.parts.get("printer")
        settings = self.config.printer
        if settings is not None and settings.url:
            return settings
        if url:
            return (settings or PrinterSettings()).at(url)
        return None

    @property
    def load_resource(self) -> str:
        return self.parts.get("load_resource") or self.config.load.resource or ""

    @property
    def identity(self) -> dict[str, str]:
        """DUT and station identity, as every record and report carries it."""
        p = self.profile
        return {
            "station_id": self.config.station_id,
            "bench_kind": self.config.kind,
            "dut_serial": self.config.dut.serial,
            "dut_firmware": self.config.dut.firmware or p.identity.firmware,
            "meter_model": f"{p.identity.maker} {p.identity.model}" + _record_note(p),
            "meter_profile": p.name,
            "profile_sha256": file_sha256(p.source),
            "meter_address": p.protocol.address,
            "time_scale": f"{self.clock.scale:g}",
            "master_key": self.master_key.label,
            "rig_version": _rig_version(),
        }

    @contextlib.contextmanager
    def card_at_writer(self) -> Iterator[PcscConnection | RelayConnection]:
        """The card in the writer, powered for one session, powered down on any exit."""
        with self.reader.wait_for_card(self.config.card.insert_timeout_s) as conn:
            self.card_atr = conn.atr.hex().upper()
            self._card_sessions += 1
            try:
                yield conn
            finally:
                self._card_sessions -= 1

    @contextlib.contextmanager
    def clock_slowed(self, scale: float = 1.0) -> Iterator[None]:
        """The bench clock at `scale` inside the block, at its own scale again after it.

        A step that must be over before some bench time (a vend before a tariff's effective
        date) runs slowed instead of counting on an idle machine: at scale 1 a bench hour
        lasts an hour of real time, whatever the load. Bench time never jumps (the emulated
        bench rescales its clock and this side adopts the same span); a real bench, or one
        already at or below `scale`, is left as it is."""
        if self.sim is None or self.clock.scale <= scale:
            yield
            return
        before = self.clock.scale
        self.clock.adopt(self.sim.call("clock_scale", scale=scale)["clock"])
        try:
            yield
        finally:
            self.clock.adopt(self.sim.call("clock_scale", scale=before)["clock"])

    def safe_state(self) -> None:
        """Load input off (the card is powered only inside card_at_writer)."""
        self.load.safe_state()

    def leave(self) -> None:
        """The safe state of a bench being closed, read back into `safe_report`: the load's
        input off and what it reads after, the meter's relay, whether a card is still powered.
        Never raises: a failed read-back is reported, not allowed to hide why we are leaving."""
        report = self.safe_report
        report.load_off_confirmed = self.load.safe_state()
        try:
            report.load_reads_on = self.load.input_state()
            report.load_power_w = self.load.measure_power()
        except Exception as e:  # reported in the statement, never raised from here
            report.load_problem = str(e) or type(e).__name__
        try:
            report.relay_open = self.meter.status().relay_open
        except Exception as e:
            log.warning("meter state unreadable while leaving the bench: %s", e)
        report.card_session_open = self._card_sessions > 0

    def now(self) -> datetime:
        return self.clock.now()


def _card_reader(name: str, stack: contextlib.ExitStack) -> PcscReader | RelayReader:
    """The card writer: a local PC/SC reader, or one relayed from a bench host."""
    from rig.card.relay import SCHEME

    if not name.startswith(SCHEME):
        return PcscReader(name)
    from rig.card.relay import RelayReader

    reader = RelayReader(name)
    stack.callback(reader.close)
    return reader


def _rig_version() -> str:
    from rig import __version__

    return __version__


@contextlib.contextmanager
def open_bench(config: BenchConfig, *, profile: MeterProfile | None = None) -> Iterator[Bench]:
    """Open every instrument of `config` (starting an emulated bench when asked)."""
    master_key = bench_master_key(config)  # refused before any instrument is touched
    profile = profile or load_profile(config.profile, config.profiles_dir)
    check_options(card_format(profile.card.format), config.card.writer_options(),
                  where="bench config [card] options")
    report = SafeStateReport()
    apdu_trace = ApduTrace()  # the writer's exchanges, and an in-process meter slot's
    with contextlib.ExitStack() as stack:
        parts: dict[str, str] = {}
        if config.kind == "emulated":
            if config.sim_control:
                control_url = config.sim_control
            else:
                from rig.sim.emulated_bench import EmulatedBench

                sim = EmulatedBench(profile, time_scale=config.time_scale, epoch=config.epoch,
                                    address=config.meter.address, master_key=master_key,
                                    defect=config.defect,
                                    card_options=config.card.writer_options(),
                                    apdu_trace=apdu_trace)
                control_url = sim.start().control
                stack.callback(report.closed.append, "emulated bench stopped")
                stack.callback(sim.stop)
            control = ControlClient(control_url)
            stack.callback(control.close)
            # A lab place's sim starts a fresh bench on this clock (a plain `rig sim` keeps
            # its own and says which in its reply).
            hello = control.call("hello", time_scale=config.time_scale,
                                 epoch=config.epoch.isoformat() if config.epoch else None)
            parts = {k: str(v) for k, v in hello["parts"].items()}
            if parts["profile"] != profile.name:
                raise ConfigError(f"the emulated bench at {control_url} runs profile "
                                  f"{parts['profile']!r}, not {profile.name!r}")
            address = parts.get("meter_address") or profile.protocol.address
            if config.meter.address and config.meter.address != address:
                raise ConfigError(f"the emulated bench at {control_url} has meter address "
                                  f"{address}, not meter.address {config.meter.address}")
            profile = with_address(profile, address)
            clock = BenchClock.from_dict(hello["clock"])
            courier: CardCourier = EmulatedCourier(control)
            sim_link: ControlClient | None = control
            # A lab place reaches the parts of a `rig sim` on its bench host through the
            # addresses its exporter gives (rfc2217://, the host's VISA resource, rigcard://).
            meter_port = config.meter.port or parts["meter_port"]
            resource = config.load.resource or parts["load_resource"]
            reader_name = config.card.reader or parts["card_reader"]
        else:
            clock = BenchClock.real()
            sim_link = None
            meter_port = config.meter.port or ""
            resource = config.load.resource or ""
            reader_name = config.card.reader or ""
            if config.meter.address:
                profile = with_address(profile, config.meter.address)
            if config.card.courier == "command":
                courier = CommandCourier(config.card.courier_command or "")
            else:
                courier = PromptCourier()
        transcript = Transcript()
        serial = profile.protocol.serial
        # A pseudo-terminal carries no parity bit (Linux ptys refuse PARENB): 8N1 there, and
        # a 7E1 protocol (IEC 62056-21) puts its parity bit in software.
        parity = "N" if config.kind == "emulated" else serial.parity
        line = {"baudrate": serial.baudrate, "parity": parity,
                "bytesize": 8 if parity == "N" else serial.bytesize,
                "stopbits": serial.stopbits}
        proxy: SerialFaultProxy | None = None
        if config.meter.faults is not None:
            proxy = SerialFaultProxy(meter_port, SerialFaults(**config.meter.faults.model_dump()),
                                     **line)
            meter_port = proxy.start()
            stack.callback(proxy.stop)
        stack.callback(report.closed.append, f"meter port {meter_port} closed")
        meter = stack.enter_context(open_meter(
            profile, meter_port, transcript=transcript, parity=parity,
            timeout_s=config.meter.timeout_s, retries=config.meter.retries,
            tz=clock.epoch.tzinfo))
        stack.callback(report.closed.append, f"load session {resource} closed")
        load = stack.enter_context(ElectronicLoad.open(
            resource, dialect=config.load.dialect, backend=config.load.backend))
        scpi_log = ScpiLog(clock.now)
        record_scpi(load, scpi_log)
        bench = Bench(
            config=config, profile=profile, clock=clock, meter=meter, load=load,
            reader=_card_reader(reader_name, stack), courier=courier,
            master_key=master_key, meter_transcript=transcript,
            apdu_trace=apdu_trace, parts=parts, sim=sim_link, scpi_log=scpi_log,
            serial_faults=proxy, meter_port=meter_port, meter_line=line, safe_report=report,
        )
        log.info("bench %s open at %s", config.station_id, datetime.now(UTC).isoformat())
        try:
            yield bench
        finally:
            bench.leave()
