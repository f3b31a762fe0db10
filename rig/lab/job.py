"""A job on a lab place: reserve, wait in the queue, acquire, make safe, run, make safe, release.

labgrid serves reservations by priority, then age; while the job waits it says where it is in
the queue and who holds the place. Once it has the place it switches the load off before
anything else (whoever had the place last may have died with the load on) and again when it
gives it back, and it releases the place on every way out — except a death, which no
`finally` survives: `rig lab recover PLACE` (docs/lab.md) takes such a place back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rig.bench.config import BenchConfig
from rig.lab.coordinator import LabClient, LabError
from rig.lab.place_bench import bench_config_for, make_safe

Say = Callable[[str], None]
_TAGS = re.compile(r"^[a-z][a-z0-9_]*=[^,=\s]+(,[a-z][a-z0-9_]*=[^,=\s]+)*$")


def place_filter(spec: str) -> dict[str, str]:
    """`bench-01` (one place by name) or `profile=dlt645-1p-money,bench=emulated` (any place
    with those tags) as the tags a reservation asks for."""
    spec = spec.strip()
    if "=" not in spec:
        if not spec:
            raise LabError("--place needs a place name or tags KEY=VALUE[,KEY=VALUE]")
        return {"rig_place": spec}
    if not _TAGS.match(spec):
        raise LabError(f"--place {spec!r}: give a place name or tags KEY=VALUE[,KEY=VALUE] "
                       "(keys: lower-case letters, digits, _)")
    return dict(pair.split("=", 1) for pair in spec.split(","))


@dataclass(frozen=True)
class PlacedBench:
    place: str
    config: BenchConfig  # the job's config on the place's parts
    user: str  # who holds the place (host/user)


def wait_for_place(lab: LabClient, token: str, say: Say, *, timeout_s: float | None,
                   poll_s: float = 1.0) -> str:
    """Poll reservation `token` until a place is allocated; say the queue position when it
    changes. LabError when `timeout_s` passes (the reservation is then cancelled by the
    caller)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    shown = None
    while True:
        state, place = lab.poll(token)
        if place is not None and state in ("allocated", "acquired"):
            return place
        if state in ("expired", "invalid"):
            raise LabError(f"reservation {token} is {state}")
        queue = lab.queue(token)
        seen = (queue.position, queue.waiting, queue.holders)
        if seen != shown:
            held = f"; held by {', '.join(queue.holders)}" if queue.holders else ""
            say(f"waiting for a place: position {queue.position} of {queue.waiting} in the "
                f"queue{held}")
            shown = seen
        if deadline is not None and time.monotonic() > deadline:
            raise LabError(f"no place within {timeout_s:g} s (position {queue.position} of "
                           f"{queue.waiting} in the queue)")
        time.sleep(poll_s)


@contextmanager
def placed_bench(spec: str, base: BenchConfig, *, coordinator: str | None = None,
                 say: Say = print, timeout_s: float | None = None,
                 poll_s: float = 1.0) -> Iterator[PlacedBench]:
    """A place matching `spec`, held for the block, with `base` turned into its bench."""
    tags = place_filter(spec)
    with LabClient(coordinator) as lab:
        token = lab.reserve(tags)
        try:
            place = wait_for_place(lab, token, say, timeout_s=timeout_s, poll_s=poll_s)
            lab.acquire(place)
            config: BenchConfig | None = None
            try:
                config = bench_config_for(place, lab.resources(place), base)
                if not make_safe(place, config):
                    raise LabError(f"place {place}: the load at {config.load.resource} does "
                                   "not confirm its input off; the bench is not used")
                say(f"place {place} acquired by {lab.user}; load input off")
                yield PlacedBench(place, config, lab.user)
            finally:
                _give_back(lab, place, config, say)
        finally:
            lab.cancel(token)


def _give_back(lab: LabClient, place: str, config: BenchConfig | None, say: Say) -> None:
    """Load off (read back), then release; a failure is said, never raised over the job's
    own error."""
    left = ""
    if config is not None:
        left = "; load input off" if make_safe(place, config) else \
            "; load input NOT confirmed off: check the bench"
    try:
        lab.release(place)
    except LabError as e:
        say(f"place {place} NOT released ({e}){left}; `rig lab recover {place}` takes it back")
        return
    say(f"place {place} released{left}")
