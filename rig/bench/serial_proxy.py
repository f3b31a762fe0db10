"""A fault-injecting serial path between the rig and a meter.

The proxy opens the meter's port (a real device or the emulated meter's pty) and offers a new
pseudo-terminal to the rig; every byte crossing it in either direction may be corrupted (one
bit flipped), dropped, duplicated or delayed, at configured rates and from a seeded random
source, so a failing run can be replayed byte for byte.
"""

from __future__ import annotations

import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, field
from typing import Any

from rig.errors import ConfigError
from rig.meter.serial_open import open_serial


@dataclass(frozen=True)
class SerialFaults:
    """Per-byte fault rates (0..1) and a delay added to a fraction of chunks."""

    corrupt: float = 0.0
    drop: float = 0.0
    duplicate: float = 0.0
    delay_rate: float = 0.0
    delay_ms: float = 0.0
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("corrupt", "drop", "duplicate", "delay_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"serial fault rate {name} must be within 0..1, got {value}")
        if self.delay_ms < 0:
            raise ConfigError(f"serial fault delay_ms must be >= 0, got {self.delay_ms}")

    @property
    def active(self) -> bool:
        return any((self.corrupt, self.drop, self.duplicate, self.delay_rate))


@dataclass
class FaultCounts:
    bytes_passed: int = 0
    corrupted: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed_chunks: int = 0
    by_direction: dict[str, int] = field(default_factory=lambda: {"to_meter": 0, "to_rig": 0})


class LineNoise:
    """The fault model of one line: seeded, so a failing run replays byte for byte."""

    def __init__(self, faults: SerialFaults) -> None:
        self.faults = faults
        self.counts = FaultCounts()
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    def mangle(self, data: bytes, direction: str) -> tuple[bytes, float]:
        """`data` after drops, single-bit flips and duplicates; and the delay to add (s)."""
        f = self.faults
        out = bytearray()
        with self._lock:
            for byte in data:
                self.counts.bytes_passed += 1
                if self._rng.random() < f.drop:
                    self.counts.dropped += 1
                    self.counts.by_direction[direction] += 1
                    continue
                if self._rng.random() < f.corrupt:
                    byte ^= 1 << self._rng.randrange(8)
                    self.counts.corrupted += 1
                    self.counts.by_direction[direction] += 1
                out.append(byte)
                if self._rng.random() < f.duplicate:
                    out.append(byte)
                    self.counts.duplicated += 1
                    self.counts.by_direction[direction] += 1
            delay = f.delay_ms / 1000 if self._rng.random() < f.delay_rate else 0.0
            if delay:
                self.counts.delayed_chunks += 1
        return bytes(out), delay


class SerialFaultProxy:
    """Forward bytes between the meter port and a new pty, injecting faults on the way."""

    def __init__(self, meter_port: str, faults: SerialFaults, *, record: bool = False,
                 **serial_settings: Any) -> None:
        self._meter_path = meter_port
        # With `record`, the bytes each side sent and the bytes delivered to the other, per
        # direction: rig.faults.serial_audit finds corrupted frames that passed the checksum.
        self.record = record
        self.sent: dict[str, bytearray] = {"to_meter": bytearray(), "to_rig": bytearray()}
        self.delivered: dict[str, bytearray] = {"to_meter": bytearray(), "to_rig": bytearray()}
        self._settings = serial_settings
        self.faults = faults
        self._noise = LineNoise(faults)
        self._record_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._meter: Any = None
        self._master = self._slave = -1
        self.path = ""

    def start(self) -> str:
        """Open both sides; returns the pty path the rig should open instead of the meter."""
        self._meter = open_serial(self._meter_path, timeout=0.02, what="meter port",
                                  **self._settings)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        for name, target in (("to_meter", self._rig_to_meter), ("to_rig", self._meter_to_rig)):
            t = threading.Thread(target=target, name=f"fault-proxy-{name}", daemon=True)
            t.start()
            self._threads.append(t)
        return self.path

    def _mangle(self, data: bytes, direction: str) -> bytes:
        out, delay = self._noise.mangle(data, direction)
        if self.record:
            with self._record_lock:
                self.sent[direction] += data
                self.delivered[direction] += out
        if delay:
            time.sleep(delay)
        return out

    def _rig_to_meter(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:  # the rig has not opened (or has closed) its side
                time.sleep(0.01)
                continue
            if data:
                self._meter.write(self._mangle(data, "to_meter"))

    def _meter_to_rig(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._meter.read(4096)
            except Exception:  # port closed while stopping
                return
            if data:
                mangled = self._mangle(data, "to_rig")
                if mangled:
                    os.write(self._master, mangled)

    @property
    def counts(self) -> FaultCounts:
        return self._noise.counts

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        if self._meter is not None:
            self._meter.close()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> SerialFaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
