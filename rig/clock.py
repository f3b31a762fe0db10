"""One clock for a bench: wall time on a real bench, accelerated time on the emulated one.

Both sides of an emulated bench (the simulated world and the rig driving it) compute the
same bench time from a few numbers — the bench epoch, the bench seconds and wall instant the
current span starts at, and the time scale — so no process has to ask another one what time
it is. A span is changed only by `rescale`, on the emulated bench's side, and adopted by the
rig's side from the bench's reply (`adopt`): bench time runs on without a jump, only slower
or faster (a step that must end before a bench time runs slowed, whatever the machine's load).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class BenchClock:
    """Bench time = epoch + offset + (wall time - wall_t0) x scale.

    `offset` is the bench seconds at `wall_t0`: 0 until the clock is first rescaled. The
    span (offset, wall_t0, scale) is replaced as one tuple, so a reader never mixes two."""

    __slots__ = ("_span", "epoch")

    def __init__(self, epoch: datetime, wall_t0: float, scale: float = 1.0,
                 offset: float = 0.0) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.epoch = epoch
        self._span = (offset, wall_t0, scale)

    def __repr__(self) -> str:
        offset, wall_t0, scale = self._span
        return (f"BenchClock(epoch={self.epoch.isoformat()}, wall_t0={wall_t0}, "
                f"scale={scale:g}, offset={offset})")

    @property
    def wall_t0(self) -> float:
        return self._span[1]

    @property
    def scale(self) -> float:
        return self._span[2]

    @property
    def offset(self) -> float:
        return self._span[0]

    @classmethod
    def start(cls, scale: float = 1.0, epoch: datetime | None = None) -> BenchClock:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(epoch=epoch or now, wall_t0=time.time(), scale=scale)

    @classmethod
    def real(cls) -> BenchClock:
        return cls.start(scale=1.0)

    def elapsed(self) -> float:
        """Bench seconds since the epoch."""
        offset, wall_t0, scale = self._span
        return offset + (time.time() - wall_t0) * scale

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.elapsed())

    def at(self, bench_seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=bench_seconds)

    def sleep(self, bench_seconds: float) -> None:
        """Sleep for a span of bench time."""
        time.sleep(max(0.0, bench_seconds / self.scale))

    def rescale(self, scale: float) -> None:
        """Run on at `scale` from now: bench time goes on from where it is, without a jump."""
        if not scale > 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        offset, wall_t0, old = self._span
        now = time.time()
        self._span = (offset + (now - wall_t0) * old, now, float(scale))

    def adopt(self, d: dict[str, object]) -> None:
        """Take the span of the same bench's clock as `to_dict` gave it (after a rescale)."""
        other = BenchClock.from_dict(d)
        if other.epoch != self.epoch:
            raise ValueError(f"a clock with epoch {other.epoch} is not this bench's "
                             f"({self.epoch})")
        self._span = other._span

    def to_dict(self) -> dict[str, object]:
        offset, wall_t0, scale = self._span
        return {"epoch": self.epoch.isoformat(), "wall_t0": wall_t0, "scale": scale,
                "offset": offset}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> BenchClock:
        return cls(
            epoch=datetime.fromisoformat(str(d["epoch"])),
            wall_t0=float(d["wall_t0"]),  # type: ignore[arg-type]
            scale=float(d["scale"]),  # type: ignore[arg-type]
            offset=float(d.get("offset", 0.0)),  # type: ignore[arg-type]
        )
