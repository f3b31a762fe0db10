"""Billing faults: vending stations SIGKILLed at random points, then restarted.

The campaign's ``vends`` steps are dealt out to ``stations`` station processes (station *k*
runs the steps ``≡ k mod stations``), all vending at once for the same few meters on one
database. Each step is one card presentation for meter ``step mod meters``: a readback upload
when the card carries an unconfirmed purchase (another station's, often), pending bank
payments vended if any, else a cash sale, then ``mark_written``. Every tenth step is paid by
a bank payment imported just before it from its own one-line statement; any station
presenting that meter's card may vend it. Request ids are ``K-<step>``, so a restarted station
retries the step it was killed in, as a real one would, and the centre's idempotency decides
what already happened.

Each run of a station is a fresh process (forked from a server that has imported the billing
centre, so a restart is cheap), reporting what the centre answered down a pipe. Kill points
are chosen by the seed, per station: the worker counts every SQL statement, every
COMMIT about to be sent and every commit completed, and SIGKILLs itself at the chosen count —
inside a transaction, right before or right after its commit, while the other stations hold or
wait for the same meters' locks. The campaign then checks that every step produced exactly one
complete vend, every vend a station was told about is the one in the ledger, each meter's
sequence is contiguous, each bank payment went into exactly one vend, and the audit chain
still verifies. With ``stations=1`` it is the single vending process of the original campaign.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing.busy import BillingBusy
from rig.billing.centre.facade import BillingCentre
from rig.billing.centre.opening import open_billing
from rig.billing.centre.sales import direct
from rig.errors import BillingError
from rig.station import loadgen

METERS = 8  # a single station spreads over more meters; concurrent ones share fewer
BANK_EVERY = 10
MEAN_EVENTS_BETWEEN_KILLS = 250  # a kill every 3-4 steps of a lone station (~70 events a step)
WORKER_TIMEOUT_S = 900  # one worker run (a few hundred statements at most) never takes this
_FORKS = multiprocessing.get_context("forkserver")
_REAPING = threading.Lock()  # see _reap


def station_code(k: int) -> str:
    return f"KILL-{k + 1}"


def _is_bank(step: int) -> bool:
    return step % BANK_EVERY == BANK_EVERY // 2


def _statement(folder: Path, step: int, meter_no: str, seed: int) -> Path:
    f = folder / f"pay-{step}.csv"
    if not f.exists():
        amount = loadgen.amount_for(step, seed + 1)
        tmp = f.with_suffix(".tmp")
        tmp.write_text("entry_ref,booking_date,amount,currency,reference\n"
                       f"PAY-{step},2024-01-02,{amount},EUR,{meter_no}\n")
        os.replace(tmp, f)
    return f


def _arm(engine: Engine, kill_at: int) -> None:
    """SIGKILL this process at the ``kill_at``-th statement / pre-commit / post-commit."""
    count = [0]

    def tick(*_: object) -> None:
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(engine, "after_cursor_execute", tick)
    event.listen(engine, "commit", tick)
    event.listen(Session, "after_commit", tick)
    direct.observe(engine, tick)  # the sale's statements, which bypass those events


def worker(report: Callable[[tuple[object, ...]], None], db_url: str, station: int,
           stations: int, start: int, vends: int, meters: int, kill_at: int, folder: str,
           seed: int) -> None:
    """Run station ``station``'s steps from ``start``: report ``("ack", step, vend id,
    sequence)`` when the centre answers a step, ``("done", step)`` once it is marked written."""
    from rig.billing.bank import import_statement

    centre = open_billing(db_url)
    _arm(centre.engine, kill_at)
    numbers = loadgen.meter_numbers(meters)
    code = station_code(station)
    for step in range(start, vends, stations):
        no = numbers[step % meters]
        if _is_bank(step):
            statement = _statement(Path(folder), step, no, seed)
            _retry_busy(import_statement, centre, statement)
        v = loadgen.present(centre, no, request_id=f"K-{step}",
                            amount=loadgen.amount_for(step, seed), station=code,
                            attempts=100)
        if v is None:
            raise BillingError(f"step {step}: meter {no} could not be served by {code}")
        report(("ack", step, v.vend_id, v.sequence))
        _retry_busy(centre.mark_written, v.vend_id)
        report(("done", step))
    centre.close()


def _retry_busy(call: Callable[..., object], *args: object) -> None:
    """``call(*args)``, again while the centre answers busy, as a station would: nothing was
    written (the worker's own time limit bounds the retries)."""
    while True:
        try:
            call(*args)
            return
        except BillingBusy:
            time.sleep(0.05)


def _station_process(out: Connection, *args: Any) -> None:
    """A station process's body: the worker, reporting down a pipe (what was written there
    before a SIGKILL stays readable), and its traceback if it fails."""
    try:
        worker(out.send, *args)
    except BaseException:
        out.send(("error", traceback.format_exc()))
        raise


def _run_worker(args: tuple[object, ...]) -> tuple[int | None, list[tuple[Any, ...]]]:
    """Start one station process with ``args``, collect its reports until it ends (killed or
    finished), and return its exit code (``-SIGKILL`` when killed) with the reports.

    A fresh process each time, forked from a server that has already imported the billing
    centre: a restart skips the ~0.8 s Python start-up that was most of a campaign's time."""
    recv, send = _FORKS.Pipe(duplex=False)
    proc = _FORKS.Process(target=_station_process, args=(send, *args), daemon=True)
    with _REAPING:
        proc.start()
    send.close()
    reports: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + WORKER_TIMEOUT_S
    with recv:
        while True:
            if not recv.poll(max(0.0, deadline - time.monotonic())):
                proc.kill()
                _reap(proc)
                raise BillingError(f"kill-campaign station {station_code(int(args[1]))} hung "
                                   f"for {WORKER_TIMEOUT_S} s from step {args[3]}")
            try:
                reports.append(recv.recv())
            except EOFError:
                break
    return _reap(proc), reports


def _reap(proc: BaseProcess) -> int | None:
    """Wait for ``proc`` to end and return its exit code.

    ``Process.start`` polls every other child of this process; a forkserver child's exit code
    is read off a pipe once, so a start in one station's thread racing with the ``join`` in
    another's left one of them with exit code 255 (seen in the 4-station PostgreSQL run).
    Both therefore happen under ``_REAPING``, the join only once the code is there to read.
    """
    wait([proc.sentinel])
    with _REAPING:
        proc.join()
        return proc.exitcode


@dataclass
class _StationLog:
    """What one station's runs reported: kills, restarts, and every answer it was given."""

    kills: int = 0
    restarts: int = 0
    acks: dict[int, set[tuple[int, int]]] = field(default_factory=lambda: defaultdict(set))


def _run_station(db_url: str, k: int, stations: int, vends: int, meters: int, folder: str,
                 seed: int, kill_every: int, stop: threading.Event) -> _StationLog:
    """Run station ``k`` to its last step, restarting it after every SIGKILL."""
    rng = random.Random(f"{seed}-{k}")
    log = _StationLog()
    start = k
    while start < vends and not stop.is_set():
        kill_at = rng.randint(1, 2 * kill_every)
        code, reports = _run_worker((db_url, k, stations, start, vends, meters, kill_at,
                                     folder, seed))
        done = [start - stations]
        failure = ""
        for word, *values in reports:
            if word == "ack":
                step, vend_id, sequence = values
                log.acks[step].add((vend_id, sequence))
            elif word == "done":
                done.append(values[0])
            else:
                failure = values[0]
        if code == -signal.SIGKILL:
            log.kills += 1
        elif code != 0:
            stop.set()
            raise BillingError(f"kill-campaign station {station_code(k)} failed "
                               f"(exit {code}) from step {start}:\n{failure[-3000:]}")
        log.restarts += 1
        start = max(done) + stations
    return log


def run_kill_campaign(vends: int, db_url: str, seed: int, *, stations: int = 1,
                      meters: int | None = None,
                      kill_every: int = MEAN_EVENTS_BETWEEN_KILLS) -> dict[str, int]:
    """Run ``vends`` steps on ``stations`` concurrent station processes under random SIGKILLs;
    return the campaign's counts (see module). ``meters`` defaults to 8 for one station and
    to one fewer than the stations (at least 2) otherwise, so stations always meet. Each
    station is killed after a uniformly random 1 … 2×``kill_every`` database events."""
    if stations < 1:
        raise BillingError(f"a kill campaign needs at least one station, not {stations}")
    meters = meters or (METERS if stations == 1 else max(2, stations - 1))
    with open_billing(db_url) as centre:
        loadgen.prepare(centre, meters=loadgen.meter_numbers(meters),
                        stations=[station_code(k) for k in range(stations)])
    _FORKS.set_forkserver_preload([__name__, "rig.billing.bank"])
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="billing-kill-") as folder, \
            ThreadPoolExecutor(stations) as pool:
        futures = [pool.submit(_run_station, db_url, k, stations, vends, meters, folder, seed,
                               kill_every, stop) for k in range(stations)]
        logs = [f.result() for f in futures]
    acks: dict[int, set[tuple[int, int]]] = {}
    for log in logs:
        acks.update(log.acks)
    with open_billing(db_url) as centre:
        figures = _check(centre, vends, acks)
        figures["audit_intact"] = int(centre.verify_audit_chain().ok)
    return {"stations": stations, "cases": sum(x.kills for x in logs),
            "stations_killed": sum(1 for x in logs if x.kills),
            "restarts": sum(x.restarts for x in logs), **figures}


def _check(centre: BillingCentre, vends: int,
           acks: dict[int, set[tuple[int, int]]]) -> dict[str, int]:
    """Count lost, duplicated, partial vends, answers that disagree with the ledger, sequence
    gaps and double-applied payments. ``acks`` maps a step to the (vend id, sequence) answers
    its station received."""
    with centre.uow.reading("check the ledger after the campaign") as s:
        rows = s.execute(select(m.Vend.id, m.Vend.request_id, m.Vend.meter_id, m.Vend.sequence,
                                m.Vend.status, m.Vend.tender, m.Vend.amount)).all()
        audited = set(s.scalars(select(m.AuditEvent.entity_id).where(
            m.AuditEvent.action == "vend.create")))
        written = set(s.scalars(select(m.AuditEvent.entity_id).where(
            m.AuditEvent.action == "vend.written")))
        last_seq = dict(s.execute(select(m.Meter.id, m.Meter.last_sequence)).all())
        paid = s.execute(select(m.BankPayment.entry_ref, m.BankPayment.status,
                                m.BankPayment.vend_id, m.BankPayment.amount)).all()
    by_rid = Counter(r.request_id for r in rows)
    row_of = {r.request_id: r for r in rows}
    steps = {f"K-{i}" for i in range(vends)}
    lost = sum(1 for rid in steps if rid not in by_rid)
    lost += sum(1 for i in acks if f"K-{i}" not in by_rid)
    duplicated = sum(n - 1 for n in by_rid.values() if n > 1)
    duplicated += sum(1 for rid in by_rid if rid not in steps)
    duplicated += sum(n - 1 for n in Counter((r.meter_id, r.sequence) for r in rows).values()
                      if n > 1)
    ack_mismatch = sum(1 for i, answers in acks.items() if f"K-{i}" in row_of and answers != {
        (row_of[f"K-{i}"].id, row_of[f"K-{i}"].sequence)})
    gaps = 0
    for meter_id, last in last_seq.items():
        seqs = {r.sequence for r in rows if r.meter_id == meter_id}
        gaps += len(set(range(1, last + 1)) - seqs) + len(seqs - set(range(1, last + 1)))
    partial = sum(1 for r in rows if str(r.id) not in audited or r.status == "created"
                  or (str(r.id) not in written and r.status != "confirmed"))
    return {"vends": len(rows), "lost": lost, "duplicated": duplicated,
            "ack_mismatch": ack_mismatch, "gaps": gaps, "partial": partial,
            "bank_payments": len(paid), "bank_double_applied": _bank_double(rows, paid, vends)}


def _bank_double(rows: Sequence[Any], paid: Sequence[Any], vends: int) -> int:
    """Payments not vended exactly once: missing, still pending, or not adding up to the bank
    vend they went into (a vend takes every payment pending for its meter)."""
    into: dict[int | None, Decimal] = defaultdict(Decimal)
    for p in paid:
        into[p.vend_id] += p.amount
    bank_vends = {r.id: r.amount for r in rows if r.tender == "bank"}
    bad = sum(1 for p in paid if p.status != "vended" or p.vend_id not in bank_vends)
    bad += sum(1 for vid, amount in bank_vends.items() if into.get(vid) != amount)
    bad += len({f"PAY-{i}" for i in range(vends) if _is_bank(i)} - {p.entry_ref for p in paid})
    return bad

