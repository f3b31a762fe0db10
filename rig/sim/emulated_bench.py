"""The emulated bench: a prepaid meter on a pty, a SCPI load on TCP, a card on a PC/SC reader.

Each part is reachable only through the OS interface a real part would use, so the rig and
any other program (minicom, pyvisa-shell, pcsc_scan) see an ordinary bench. The two sim-only
channels — the card courier and the clock — are served on the control channel.
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from rig.card.keys import DEFAULT_KEY_ENV, MasterKey, lab_test_key
from rig.card.session import ApduTransport, DirectTransport
from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats.interface import InsertionOutcome, meter_slot
from rig.card_formats.registry import card_format
from rig.clock import BenchClock
from rig.errors import ConfigError
from rig.profile import MeterProfile, with_address
from rig.sim.control import ControlServer
from rig.sim.emulated_printer import EmulatedPrinter, printer_control
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.scpi_server import ScpiServer
from rig.sim.sts_keypad import StsMeterSetup, keypad_reply, lab_setup
from rig.sim.supply_cut import cut_moment
from rig.sim.virtual_card import VirtualCard, VpcdLink
from rig.sim.vpcd import VpcdSlot, claim_free_slot
from rig.sim.world import BenchWorld

CardPlace = Literal["writer", "meter", "hand"]
# The lab test readback master (package data beside the lab test key) belongs to the centre's
# key service: rig.card.keys.lab_readback_key().


@dataclass(frozen=True)
class BenchParts:
    """Where the parts of a running emulated bench are (printed by `rig sim --json`)."""

    meter_port: str
    load_resource: str
    card_reader: str
    control: str
    profile: str
    meter_address: str
    time_scale: float
    printer: str = ""  # the receipt printer's raw TCP port (ESC/POS), tcp://host:port
    printer_port: str = ""  # the same printer on a pty (a serial receipt printer)
    issue_reader: str = ""  # the issuing writer's PC/SC reader ([card] issue_reader asked)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lab_master_key() -> MasterKey:
    """The key the emulated meters are 'manufactured' with: $RIG_MASTER_KEY if set (a
    malformed value is an error naming the variable, never a silent fallback), else rig's
    public lab test key."""
    if os.environ.get(DEFAULT_KEY_ENV, "").strip():
        return MasterKey.from_env()
    return lab_test_key()


class EmulatedBench:
    """Start, serve and stop every part of one emulated bench."""

    def __init__(
        self,
        profile: MeterProfile,
        *,
        time_scale: float = 3600.0,
        master_key: MasterKey | None = None,
        readback_master: MasterKey | None = None,
        slot: VpcdSlot | None = None,
        noise: bool = True,
        seed: int | None = None,
        wire_pacing: bool = False,
        epoch: datetime | None = None,
        address: str | None = None,
        sts: StsMeterSetup | None = None,
        defect: str | None = None,
        host: str = "127.0.0.1",
        scpi_port: int = 0,
        card_options: dict[str, str] | None = None,
        apdu_trace: ApduTrace | None = None,
    ) -> None:
        # Several emulated meters of one model on one billing centre need their own numbers.
        if address is not None:
            profile = with_address(profile, address)
        self.profile = profile
        self.clock = BenchClock.start(scale=time_scale, epoch=epoch)
        self.world = BenchWorld(profile, self.clock, noise=noise, seed=seed)
        self.meter = EmulatedMeter(self.world, master_key or lab_master_key(),
                                   readback_master=readback_master, wire_pacing=wire_pacing)
        sts = sts or lab_setup(profile)  # a profile with [sts]: a keypad meter
        self.keypad = sts.keypad_for(self.world.engine) if sts else None
        self.meter.keypad = self.keypad
        # A blank card of the meter's format; its options: the profile's, then the bench's
        # writer options (a memory card answers the chosen reader dialect).
        card = profile.card
        fmt = card_format(card.format, where=f"meter profile {profile.name}: [card] format")
        self.card_options = {**card.options, **(card_options or {})}
        self.apdu_trace = apdu_trace  # the meter slot's exchanges go here too, if given
        self.meter.esam_trace = apdu_trace  # and its ESAM's dialogue in remote prepayment
        self.card = VirtualCard(fmt.blank_card(self.card_options), format_name=card.format)
        # [card] issue_reader: a second vpcd reader, the issuing writer, holding the same card
        # (answering the issuing dialect) whenever the card is at the writers' desk.
        self._issue_card = (self._issuing_view(fmt.name)
                            if self.card_options.get("issue_reader") else None)
        self._slot = slot
        self._link: VpcdLink | None = None
        self._issue_slot: VpcdSlot | None = None
        self._issue_link: VpcdLink | None = None
        self._pty = PtySerialEndpoint(self.meter.on_serial_bytes)
        # `host`: where the load and the control channel listen (a lab's bench host serves
        # them to the network; the meter's pty and the card's reader stay on this machine).
        self._scpi = ScpiServer(self.world.load, host=host, port=scpi_port)
        self._control = ControlServer(self._on_control, host=host)
        self.printer = EmulatedPrinter()  # the vending station's receipt printer
        if defect is not None:  # a mutant meter (rig.sim.defects): one known defect
            from rig.sim.defects import install

            install(self.meter, defect, self.printer)
        self.defect = defect
        self._card_place: CardPlace = "hand"
        self._card_lock = threading.Lock()
        self.last_insertion: InsertionOutcome | None = None
        self.parts: BenchParts | None = None

    def _issuing_view(self, format_name: str) -> VirtualCard:
        """The card as the issuing writer's reader sees it: the same chip, the issuing dialect."""
        in_reader = getattr(self.card.app, "in_reader", None)
        dialect = self.card_options.get("issue_dialect")
        if not callable(in_reader) or dialect is None:
            raise ConfigError(f"[card] issue_reader: card format {format_name!r} with these "
                              "options has no issuing writer (issue_dialect names its dialect)")
        return VirtualCard(in_reader(dialect), format_name=format_name)

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> BenchParts:
        try:
            slot = self._slot or claim_free_slot(wait_s=60.0)
            if self._slot is not None:
                slot.claim()
            self._slot = slot
            self._link = VpcdLink(self.card, slot)
            if self._issue_card is not None:
                self._issue_slot = claim_free_slot(wait_s=60.0)
                self._issue_link = VpcdLink(self._issue_card, self._issue_slot)
            meter_port = self._pty.start()
            self._scpi.start()
            printer_url, printer_port = self.printer.start()
            self.world.start()
            self._control.start()
            self.move_card("writer")
        except BaseException:
            self.stop()
            raise
        self.parts = BenchParts(
            meter_port=meter_port,
            load_resource=self._scpi.resource,
            card_reader=slot.reader_name,
            control=self._control.url,
            profile=self.profile.name,
            meter_address=self.meter.meter_no,
            time_scale=self.clock.scale,
            printer=printer_url,
            printer_port=printer_port,
            issue_reader=self._issue_slot.reader_name if self._issue_slot else "",
        )
        return self.parts

    def stop(self) -> None:
        """Stop every part that started; safe to call twice and after a failed start."""
        for stop in (
            self._control.stop,
            self._unplug_card_at_stop,
            self.world.stop,
            self._scpi.stop,
            self._pty.stop,
            self.printer.stop,
        ):
            with contextlib.suppress(Exception):
                stop()
        for held in (self._slot, self._issue_slot):
            if held is not None:
                held.release()
        self._slot = self._issue_slot = None

    def __enter__(self) -> EmulatedBench:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the card courier --------------------------------------------------------------
    def _unplug_card(self, *, until_seen: bool = True) -> None:
        for link in (self._link, self._issue_link):
            if link is not None and link.inserted:
                link.remove(until_seen=until_seen)

    def _unplug_card_at_stop(self) -> None:
        self._unplug_card(until_seen=False)

    def move_card(self, to: CardPlace) -> InsertionOutcome | None:
        """Move the card; an insertion into the meter runs the meter's card session."""
        with self._card_lock:
            if to not in ("writer", "meter", "hand"):
                raise ValueError(f"unknown card place {to!r} (writer, meter or hand)")
            self._unplug_card()
            self._card_place = to
            if to == "writer":
                assert self._link is not None
                self._link.insert()
                if self._issue_link is not None:  # the issuing writer beside it
                    self._issue_link.insert()
                return None
            if to == "meter":
                self.card.power()
                slot: ApduTransport = (meter_slot(self.card.app)
                                       or DirectTransport(self.card.app, "meter"))
                if self.apdu_trace is not None:
                    slot = TracedTransport(slot, self.apdu_trace, "meter")
                self.last_insertion = self.meter.insert_card(slot)
                return self.last_insertion
            return None

    # -- the control channel -------------------------------------------------------------
    def _on_control(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "hello":
            return {"ok": True, "parts": self.parts.to_dict() if self.parts else None,
                    "clock": self.clock.to_dict()}
        if op == "clock":
            return {"ok": True, "clock": self.clock.to_dict()}
        if op == "clock_scale":  # the rig slows the bench around a step bounded in bench time
            self.rescale_clock(float(request.get("scale", 0)))
            return {"ok": True, "clock": self.clock.to_dict()}
        if op == "move_card":
            outcome = self.move_card(request.get("to", ""))
            return {"ok": True, "place": self._card_place,
                    "meter": outcome.to_dict() if outcome else None}
        if op == "meter_power":  # supply to the meter: a grid outage and its end
            if request.get("on", True):
                self.meter.power_up()
            elif request.get("during") is not None:  # at a moment of the next card session
                self.meter.armed_cut = cut_moment(request["during"])
                return {"ok": True, "powered": self.meter.powered,
                        "armed": self.meter.armed_cut}
            else:
                self.meter.power_down()
            return {"ok": True, "powered": self.meter.powered}
        if op == "meter_cover":  # the terminal cover: opening it is a tamper event
            if request.get("open", False):
                self.meter.open_cover()
            else:
                self.meter.close_cover()
            return {"ok": True, "cover_open": self.meter.log.cover_open_since is not None,
                    "tamper_count": self.meter.engine.events.tamper_count}
        if op == "keypad":  # an STS token typed on the meter's keypad (docs/sts.md)
            return keypad_reply(self.keypad, self.world, self.clock.now, request)
        if op == "meter_key":
            return {"ok": True, "granted": self.press_key(str(request.get("key", "")))}
        if isinstance(op, str) and op.startswith("printer_"):  # paper, cover, what printed
            return printer_control(self.printer, op, request)
        return {"ok": False, "error": f"unknown op {op!r}"}

    # -- the clock ---------------------------------------------------------------------
    def rescale_clock(self, scale: float) -> None:
        """Run the bench clock at `scale` from now on; the world is brought up to now first,
        so what it integrated so far counts at the old rate and bench time does not jump."""
        if not scale > 0:
            raise ValueError(f"time scale must be positive, got {scale:g}")
        with self.world.lock:
            self.world.advance()
            self.clock.rescale(scale)

    # -- the meter's keypad (the customer at the meter) -------------------------------------
    def press_key(self, key: str) -> bool:
        """A key press on the meter; True if the meter granted what it asks for."""
        if key not in ("emergency_credit", "acknowledge"):
            raise ValueError(f"unknown meter key {key!r} (emergency_credit, acknowledge)")
        with self.world.lock:
            self.world.advance()
            if key == "acknowledge":  # a keypad meter's customer clears an alarm-2 trip on
                # its keypad, as a card insertion does on a card meter
                return self.world.engine.card_inserted(self.clock.now())
            return self.world.engine.request_emergency_credit(self.clock.now())
