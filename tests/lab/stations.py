"""Vending stations over HTTP: each a RemoteBillingCentre of its own (its own connection and
its own cashier's token, bound to the station), presenting cards the way `rig.station.loadgen`
does on a local centre."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, cast

from rig.billing.remote import RemoteBillingCentre
from rig.station import loadgen

if TYPE_CHECKING:
    from rig.billing.centre.facade import BillingCentre

Vend = tuple[str, int, str]  # meter, sequence, request id


def http_station(url: str, token: str, station: str, meters: list[str], steps: int,
                 seed: int, start: Callable[[], object] = lambda: None,
                 run: str = "") -> list[Vend]:
    """`steps` card presentations over `meters` in turn (request ids unique per `run`);
    every vend it made."""
    made: list[Vend] = []
    with RemoteBillingCentre(url, token) as centre:
        local = cast("BillingCentre", centre)  # the subset loadgen calls, over HTTP
        start()
        for step in range(steps):
            meter = meters[(step + seed) % len(meters)]
            request_id = f"{run}{station}-{step}"
            vend = loadgen.present(local, meter, request_id=request_id, station=station,
                                   amount=loadgen.amount_for(step, seed), bank=False,
                                   operator=centre.operator.name)
            if vend is not None:
                made.append((vend.meter_no, vend.sequence, vend.request_id))
    return made


def run_stations(url: str, tokens: list[str], stations: list[str],
                 meters_of: Callable[[int], list[str]], steps: int,
                 run: str = "") -> tuple[list[Vend], float]:
    """All stations at once, connected first and then released together; every vend any of
    them made and the seconds from the release to the last one's end. ``tokens[i]`` is the
    token of station ``stations[i]``'s cashier (tests.lab.service.station_cashiers)."""
    released: list[float] = []
    ready = threading.Barrier(len(stations), action=lambda: released.append(time.perf_counter()))
    with ThreadPoolExecutor(len(stations)) as pool:
        futures = [pool.submit(http_station, url, tokens[i], st, meters_of(i), steps, i,
                               ready.wait, run) for i, st in enumerate(stations)]
        made = [v for f in futures for v in f.result()]
    return made, time.perf_counter() - released[0]
