"""One clock for a bench: wall time on a real bench, accelerated time on the emulated one.

Both sides of an emulated bench (the simulated world and the rig driving it) compute the
same bench time from three numbers — the bench epoch, the wall instant it corresponds to and
the time scale — so no process has to ask another one what time it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class BenchClock:
    """Bench time = epoch + (wall time - wall_t0) x scale."""

    epoch: datetime
    wall_t0: float
    scale: float = 1.0

    @classmethod
    def start(cls, scale: float = 1.0, epoch: datetime | None = None) -> BenchClock:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(epoch=epoch or now, wall_t0=time.time(), scale=scale)

    @classmethod
    def real(cls) -> BenchClock:
        return cls.start(scale=1.0)

    def elapsed(self) -> float:
        """Bench seconds since the epoch."""
        return (time.time() - self.wall_t0) * self.scale

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.elapsed())

    def at(self, bench_seconds: float) -> datetime:
        return self.epoch + timedelta(seconds=bench_seconds)

    def sleep(self, bench_seconds: float) -> None:
        """Sleep for a span of bench time."""
        time.sleep(max(0.0, bench_seconds / self.scale))

    def to_dict(self) -> dict[str, object]:
        return {"epoch": self.epoch.isoformat(), "wall_t0": self.wall_t0, "scale": self.scale}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> BenchClock:
        return cls(
            epoch=datetime.fromisoformat(str(d["epoch"])),
            wall_t0=float(d["wall_t0"]),  # type: ignore[arg-type]
            scale=float(d["scale"]),  # type: ignore[arg-type]
        )
