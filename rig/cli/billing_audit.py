"""`rig billing audit …`: the audit log, verifying the keyed chain and the ledger against it,
checkpoints of its head, and a new audit key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.cli.billing_open import (
    AuditAnchor,
    AuditKeyFile,
    Db,
    audit_config,
    err,
    fail,
    open_centre,
    out,
    table,
)
from rig.errors import RigError

audit_app = typer.Typer(no_args_is_help=True,
                        help="Audit log: verify the keyed chain and the ledger, checkpoints, keys.")


@audit_app.command("list")
def audit_list(db: Db = DEFAULT_URL, entity: Annotated[str | None, typer.Option(
        help="only events about this kind of record (vend, meter, tariff, bank_payment, …)")
        ] = None, last: Annotated[int, typer.Option(
        min=1, max=100_000, help="how many of the newest events")] = 50) -> None:
    """The newest audit events: who did what to which record, when (oldest of them first)."""
    with open_centre(db) as c:
        events = c.audit_log(entity)[-last:]
    table("audit events", ["seq", "at (UTC)", "actor", "action", "record"],
          [[e.seq, f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action,
            f"{e.entity} {e.entity_id}"] for e in events])


@audit_app.command("verify")
def audit_verify(db: Db = DEFAULT_URL, audit_key_file: AuditKeyFile = None,
                 audit_anchor: AuditAnchor = None) -> None:
    """Verify the audit chain with its key, against the anchor's checkpoints, and the ledger
    tables against the events; lists every problem (exit 1 if any)."""
    with open_centre(db, audit_config(audit_key_file, audit_anchor)) as c:
        report = c.verify_audit_chain()
    kinds = f"{report.keyed} keyed, {report.legacy} legacy"
    if report.key_id:
        kinds += f"; audit key {report.key_id}"
    for name, value in report.totals.items():
        out.print(f"  {name}: {value}", highlight=False)
    for note in report.notes:
        out.print(f"note: {note}", highlight=False)
    if report.ok:
        out.print(f"audit chain intact: {report.events} events ({kinds}), "
                  f"{report.checkpoints} checkpoints hold, ledger agrees", highlight=False)
        return
    if report.broken_seq is not None:
        raise fail(f"audit chain broken at event {report.broken_seq}: {report.problem} "
                   f"({report.events} events before it verify)", code=1)
    for problem in report.problems:
        err.print(f"problem: {problem}", highlight=False)
    raise fail(f"audit verification failed: {len(report.problems)} problem(s); chain of "
               f"{report.events} events ({kinds}) holds by itself", code=1)


@audit_app.command("checkpoint")
def audit_checkpoint(db: Db = DEFAULT_URL, audit_key_file: AuditKeyFile = None,
                     audit_anchor: AuditAnchor = None) -> None:
    """Verify the chain and write a signed checkpoint of its head to the anchor (for a timer;
    centres also write them as they go)."""
    with open_centre(db, audit_config(audit_key_file, audit_anchor)) as c:
        report = c.audit_checkpoint()
    if not report.ok:
        raise fail(f"no checkpoint written: {report.problem}", code=1)
    head = report.head[0] if report.head else 0
    out.print(f"checkpoint of event {head} written to {c.audit_config.anchor}")


@audit_app.command("keygen")
def audit_keygen(path: Path) -> None:
    """Write a new random audit key to PATH (mode 0600; refuses to overwrite) and print its id."""
    from rig.billing.audit_key import AuditKey

    key = AuditKey.generate()
    try:
        key.write(path)
    except RigError as e:
        raise fail(str(e)) from None
    out.print(f"audit key {key.key_id} written to {path}")
