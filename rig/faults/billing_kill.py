"""Billing faults: the vending process SIGKILLed at random points, then restarted.

A worker process runs steps ``start…vends-1``; each step is one card presentation for meter
``step mod METERS`` (readback upload when the card carries an unconfirmed purchase, then a
vend), every tenth step paid by a bank payment imported just before it from its own one-line
statement, and ``mark_written``. Request ids are ``K-<step>``, so a restarted worker retries
the step it was killed in and the centre's idempotency decides what already happened.

Kill points are chosen by the seed: the worker counts every SQL statement, every COMMIT about
to be sent and every commit completed, and SIGKILLs itself at the chosen count — inside a
transaction, right before or right after its commit. The campaign then checks that every step
produced exactly one complete vend, sequences are contiguous, each bank payment went into
exactly one vend, and the audit chain still verifies.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from rig.billing import loadgen
from rig.billing import models as m
from rig.billing.db import open_billing
from rig.errors import BillingError

METERS = 8
STATION = "KILL-1"
BANK_EVERY = 10
MEAN_EVENTS_BETWEEN_KILLS = 250  # roughly ten steps


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


def _arm(engine: object, kill_at: int) -> None:
    """SIGKILL this process at the ``kill_at``-th statement / pre-commit / post-commit."""
    count = [0]

    def tick(*_: object) -> None:
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(engine, "after_cursor_execute", tick)
    event.listen(engine, "commit", tick)
    event.listen(Session, "after_commit", tick)


def worker(db_url: str, start: int, vends: int, kill_at: int, folder: str, seed: int) -> None:
    """Run steps from ``start``; print ``done <step>`` after each completes."""
    from rig.billing.bank import import_statement

    centre = open_billing(db_url)
    _arm(centre.engine, kill_at)
    meters = loadgen.meter_numbers(METERS)
    for step in range(start, vends):
        no = meters[step % METERS]
        if _is_bank(step):
            import_statement(centre, _statement(Path(folder), step, no, seed))
        v = loadgen.present(centre, no, request_id=f"K-{step}",
                            amount=loadgen.amount_for(step, seed), station=STATION,
                            bank=_is_bank(step))
        if v is None:
            raise BillingError(f"step {step}: meter {no} could not be served")
        centre.mark_written(v.vend_id)
        print(f"done {step}", flush=True)
    centre.close()


def run_kill_campaign(vends: int, db_url: str, seed: int) -> dict[str, int]:
    """Run ``vends`` steps under random SIGKILLs; return the campaign's counts (see module)."""
    rng = random.Random(seed)
    with open_billing(db_url) as centre:
        loadgen.prepare(centre, meters=loadgen.meter_numbers(METERS), stations=[STATION])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    start, cases, restarts = 0, 0, 0
    reported: set[int] = set()
    with tempfile.TemporaryDirectory(prefix="billing-kill-") as folder:
        while start < vends:
            kill_at = rng.randint(1, 2 * MEAN_EVENTS_BETWEEN_KILLS)
            proc = subprocess.run(
                [sys.executable, "-m", "rig.faults.billing_kill", db_url, str(start),
                 str(vends), str(kill_at), folder, str(seed)],
                capture_output=True, text=True, env=env, check=False)
            done = [int(line.split()[1]) for line in proc.stdout.splitlines()
                    if line.startswith("done ")]
            reported.update(done)
            if proc.returncode == -signal.SIGKILL:
                cases += 1
            elif proc.returncode != 0:
                raise BillingError(f"kill-campaign worker failed (exit {proc.returncode}):\n"
                                   f"{proc.stderr[-3000:]}")
            restarts += 1
            start = max(done) + 1 if done else start
    with open_billing(db_url) as centre:
        figures = _check(centre, vends, reported)
        figures["audit_intact"] = int(centre.verify_audit_chain().ok)
    return {"cases": cases, "restarts": restarts, **figures}


def _check(centre: object, vends: int, reported: set[int]) -> dict[str, int]:
    """Count lost, duplicated, partial vends, sequence gaps and double-applied payments."""
    with centre._tx() as s:  # type: ignore[attr-defined]
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
    steps = {f"K-{i}" for i in range(vends)}
    lost = sum(1 for rid in steps if rid not in by_rid)
    lost += sum(1 for i in reported if f"K-{i}" not in by_rid)
    duplicated = sum(n - 1 for n in by_rid.values() if n > 1)
    duplicated += sum(1 for rid in by_rid if rid not in steps)
    duplicated += sum(n - 1 for n in Counter((r.meter_id, r.sequence) for r in rows).values()
                      if n > 1)
    gaps = 0
    for meter_id, last in last_seq.items():
        seqs = {r.sequence for r in rows if r.meter_id == meter_id}
        gaps += len(set(range(1, last + 1)) - seqs) + len(seqs - set(range(1, last + 1)))
    partial = sum(1 for r in rows if str(r.id) not in audited or r.status == "created"
                  or (str(r.id) not in written and r.status != "confirmed"))
    bank_steps = {f"PAY-{i}" for i in range(vends) if _is_bank(i)}
    vend_amount = {r.id: (r.tender, r.amount) for r in rows}
    double = sum(1 for ref, status, vid, amount in paid
                 if status != "vended" or vend_amount.get(vid) != ("bank", amount))
    double += len(bank_steps - {p.entry_ref for p in paid})
    return {"vends": len(rows), "lost": lost, "duplicated": duplicated, "gaps": gaps,
            "partial": partial, "bank_payments": len(paid), "bank_double_applied": double}


if __name__ == "__main__":
    url, first, total, kill, where, sd = sys.argv[1:7]
    worker(url, int(first), int(total), int(kill), where, int(sd))
