"""An emulated bench served as a lab place: a fresh meter for every job, at fixed addresses.

A real bench keeps its meter; an emulated place hands each job (each connection to its
control channel, i.e. each `open_bench`) a new emulated meter at a new random address, so the
lab's one billing centre never sees two jobs sell to "the same" meter and every test starts
from a commissioned, empty meter as on an in-process bench. Everything a labgrid exporter
exports stays where it was: the meter's pty behind a stable symlink under /dev/shm (ser2net
opens it per connection), the load's SCPI port, the vpcd reader slot (held across renewals,
so no other bench on the host takes it) and its card relay.
"""

from __future__ import annotations

import os
import secrets
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from rig.card.jsonlines import JsonLineServer
from rig.card.relay import CardRelay
from rig.profile import MeterProfile
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.vpcd import VpcdSlot, claim_free_slot

PTY_LINKS = Path("/dev/shm")  # labgrid's exporter serves only ports under /dev


class _HeldSlot(VpcdSlot):
    """A vpcd slot the place keeps while its benches come and go."""

    @classmethod
    def take(cls, claimed: VpcdSlot) -> _HeldSlot:
        """The slot `claimed` holds, with its lock moved over (never free in between)."""
        held = cls(claimed.index)
        held._fd, claimed._fd = claimed._fd, None
        return held

    def release(self) -> None:  # a bench stopping keeps the place's slot
        pass

    def free(self) -> None:
        super().release()


def fresh_address() -> str:
    """A random 12-digit meter address (never starting 99, the another-meter scenario's)."""
    return f"{secrets.choice('12345678')}{secrets.randbelow(10**11):011d}"


class EmulatedPlace:
    """One place's emulated bench, renewed for each client of its control channel."""

    def __init__(self, name: str, profile: MeterProfile, *, host: str, time_scale: float,
                 link_dir: Path = PTY_LINKS) -> None:
        self.name = name
        self.profile = profile
        self.host = host
        self.time_scale = time_scale
        self.pty_link = link_dir / f"rig-lab-{os.getpid()}-{name}"
        self._lock = threading.Lock()
        self._slot: _HeldSlot | None = None
        self._bench: EmulatedBench | None = None
        self._scpi_port = 0
        self._relay: CardRelay | None = None
        self._control = JsonLineServer(self._session, host, name=f"place-{name}")

    @property
    def bench(self) -> EmulatedBench:
        if self._bench is None:
            raise RuntimeError(f"place {self.name} is not started")
        return self._bench

    def start(self) -> EmulatedPlace:
        self._slot = _HeldSlot.take(claim_free_slot(wait_s=60.0))
        try:
            self.renew()
            self._relay = CardRelay(self._slot.reader_name, self.host).start()
            self._control.start()
        except BaseException:
            self.stop()
            raise
        return self

    def renew(self, address: str | None = None, *, epoch: datetime | None = None,
              time_scale: float | None = None) -> EmulatedBench:
        """Replace the bench by a new one: a new meter at `address` (default: random), its
        clock at `epoch` (default: now) running `time_scale` (default: the place's)."""
        assert self._slot is not None
        with self._lock:
            if self._bench is not None:
                self._bench.stop()
            bench = EmulatedBench(self.profile, time_scale=time_scale or self.time_scale,
                                  slot=self._slot, address=address or fresh_address(),
                                  host=self.host, scpi_port=self._scpi_port, epoch=epoch)
            parts = bench.start()
            self._bench = bench
            self._scpi_port = int(parts.load_resource.split("::")[2])
            tmp = self.pty_link.with_name(self.pty_link.name + ".new")
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(parts.meter_port)
            tmp.replace(self.pty_link)
            return bench

    def _session(self) -> _ControlSession:
        return _ControlSession(self)

    def resources(self) -> dict[str, dict[str, Any]]:
        """The exporter group of this place (labgrid resource classes and their params)."""
        assert self._relay is not None
        parts = self.bench.parts
        assert parts is not None
        host, port = self._control.address
        return {
            "meter": {"cls": "RawSerialPort", "port": str(self.pty_link),
                      "speed": self.profile.protocol.serial.baudrate},
            "load": {"cls": "RigVisaLoad", "resource": parts.load_resource},
            "card": {"cls": "RigCardRelay", "url": self._relay.url},
            "sim": {"cls": "RigSimControl", "url": f"tcp://{host}:{port}"},
            "bench": {"cls": "RigBench", "kind": "emulated", "profile": self.profile.name,
                      "time_scale": self.time_scale},
        }

    def stop(self) -> None:
        for part in (self._control, self._relay):
            if part is not None:
                part.stop()
        if self._bench is not None:
            self._bench.stop()
            self._bench = None
        if self._slot is not None:
            self._slot.free()
            self._slot = None
        self.pty_link.unlink(missing_ok=True)


class _ControlSession:
    """A job's control channel: its first request (open_bench's hello, carrying the job's
    clock) brings a fresh bench; every request is the sim's own control op on it."""

    def __init__(self, place: EmulatedPlace) -> None:
        self.place = place
        self.bench: EmulatedBench | None = None

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.bench is None:
            epoch = request.get("epoch")
            scale = request.get("time_scale")
            self.bench = self.place.renew(
                epoch=datetime.fromisoformat(epoch) if epoch else None,
                time_scale=float(scale) if scale else None)
        return self.bench._on_control(request)

    def close(self) -> None:
        pass
