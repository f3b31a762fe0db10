"""`rig billing bank …`: import bank statements, list payments, manage auto-payment mandates,
export the direct-debit request file.

Mounted by ``rig/cli/billing.py`` as ``bank``; ``--db``/``$RIG_BILLING_DB`` as there. A
malformed statement, or one in a currency other than the centre's (``bank currency``), prints
file:line and the element and exits 2 with nothing imported.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rig.billing.bank import (
    RETURN_RECOVERY_PERCENT,
    Creditor,
    assign_payment,
    export_debits,
    import_statement,
    payments,
    register_mandate,
)
from rig.billing.currency import centre_currency, set_centre_currency
from rig.billing.engine import DEFAULT_URL
from rig.billing.types import OperatorRole
from rig.cli import table_console
from rig.cli.acting import AsOpt, OperatorOpt, TokenOpt, acting_on, who_acts
from rig.cli.billing_open import Db, fail, open_centre
from rig.cli.billing_report import parse_day

bank_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Bank link: statements in (camt.053, CSV), direct debits out "
                            "(pain.008).")
out = table_console()
STATUSES = ("pending", "vended", "unmatched", "returned", "applied")


@bank_app.command("currency")
def currency(
    code: Annotated[str | None, typer.Argument(help="ISO 4217 code to set, e.g. CNY")] = None,
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
) -> None:
    """Show, or set once (administrator), the currency the centre bills in (statements must be
    in it; receipts and the console show it)."""
    with open_centre(db) as c:
        if code is None:
            now = centre_currency(c)
            out.print(now or "not set (rig billing bank currency CODE)")
            return
        by = who_acts(c, operator=operator, token=token, as_=as_,
                      needs=OperatorRole.ADMINISTRATOR, doing="setting the centre's currency")
        out.print(f"the centre bills in {set_centre_currency(c, code, actor=by.name)}")


@bank_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="camt.053 XML or CSV statement")],
    recovery_percent: Annotated[str, typer.Option(
        "--recovery-percent", help="share of each later purchase that repays a returned, "
        "already vended payment")] = str(RETURN_RECOVERY_PERCENT),
    db: Db = DEFAULT_URL,
) -> None:
    """Import a statement in the centre's currency: matched payments become pending credit for
    the meter's next card presentation; unmatched ones are listed with the reason; returns and
    reversals cancel the payment they undo (a vended one becomes a debt). Re-importing changes
    nothing."""
    try:
        percent = Decimal(recovery_percent)
    except InvalidOperation:
        percent = Decimal(-1)
    if not percent.is_finite() or not 0 < percent <= 100:
        raise fail(f"--recovery-percent {recovery_percent!r} must be a number in (0, 100]")
    with open_centre(db) as c:
        r = import_statement(c, file, recovery_percent=percent)
    if r.already_imported:
        out.print(f"{file}: already imported; nothing changed")
        return
    if r.not_booked:
        out.print(f"not booked yet (left for a later statement): {', '.join(r.not_booked)}")
    out.print(f"{file} ({r.format}): {len(r.matched)} pending, {len(r.unmatched)} unmatched, "
              f"{len(r.returns)} return(s)/reversal(s), {len(r.duplicates)} already known")
    table = Table("entry", "amount", "account", "meter", "status / reason")
    for p in (*r.matched, *r.unmatched, *r.returns):
        table.add_row(p.entry_ref, f"{p.amount} {p.currency}", p.account_no or "",
                      p.meter_no or "", p.reason or p.status)
    out.print(table)


@bank_app.command("payments")
def list_payments(
    status: Annotated[str | None, typer.Option(
        help="pending | vended | unmatched | returned | applied")] = None,
    db: Db = DEFAULT_URL,
) -> None:
    """Bank entries in import order (``returned``: cancelled by a return; ``applied``: a return
    that cancelled one)."""
    if status not in (None, *STATUSES):
        raise fail(f"--status {status!r} is not one of {', '.join(STATUSES)}")
    with open_centre(db) as c:
        rows = payments(c, status)
    table = Table("entry", "booked", "amount", "account", "meter", "status", "vend", "reason")
    for p in rows:
        table.add_row(p.entry_ref, f"{p.booked_on:%Y-%m-%d}", f"{p.amount} {p.currency}",
                      p.account_no or "", p.meter_no or "", p.status,
                      str(p.vend_id or ""), p.reason or "")
    out.print(table)


@bank_app.command("assign")
def assign(
    entry_ref: str,
    meter_no: str,
    note: Annotated[str, typer.Option("--note", help="why this meter")],
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
) -> None:
    """Make an unmatched payment pending credit for a meter (supervisor)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="assigning a bank payment") as (c, by):
        p = assign_payment(c, entry_ref, meter_no, operator=by.name, note=note)
    out.print(f"{p.entry_ref}: {p.amount} {p.currency} pending for meter {p.meter_no}")


@bank_app.command("mandate")
def mandate(
    account_no: str,
    ref: Annotated[str, typer.Option("--ref", help="mandate reference (max 35)")],
    iban: Annotated[str, typer.Option("--iban")],
    amount: Annotated[str, typer.Option("--amount", help="collected per run, e.g. 25.00")],
    signed_on: Annotated[str, typer.Option("--signed-on", help="YYYY-MM-DD")],
    bic: Annotated[str | None, typer.Option("--bic")] = None,
    db: Db = DEFAULT_URL,
) -> None:
    """Put a customer on auto-payment (SEPA core direct-debit mandate)."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise fail(f"--amount {amount!r} is not a number") from None
    with open_centre(db) as c:
        m = register_mandate(c, account_no, mandate_ref=ref, iban=iban, bic=bic, amount=value,
                             signed_on=parse_day(signed_on, "--signed-on"))
    out.print(f"mandate {m.mandate_ref}: {m.account_no} pays {m.amount} from {m.iban}")


@bank_app.command("export-debits")
def export(
    out_file: Annotated[Path, typer.Argument(metavar="OUT", help="pain.008 file to write")],
    collection_date: Annotated[str, typer.Option("--collection-date", help="YYYY-MM-DD")],
    creditor_name: Annotated[str, typer.Option("--creditor-name")],
    creditor_iban: Annotated[str, typer.Option("--creditor-iban")],
    creditor_bic: Annotated[str, typer.Option("--creditor-bic")],
    creditor_id: Annotated[str, typer.Option("--creditor-id", help="SEPA creditor identifier")],
    db: Db = DEFAULT_URL,
) -> None:
    """Write the pain.008.001.02 direct-debit request for every customer on auto-payment."""
    day: date = parse_day(collection_date, "--collection-date")
    creditor = Creditor(creditor_name, creditor_iban, creditor_bic, creditor_id)
    with open_centre(db) as c:
        result = export_debits(c, out_file, creditor=creditor, collection_date=day)
    out.print(f"wrote {result.path}: {len(result.collections)} collection(s), control sum "
              f"{result.control_sum} EUR, message {result.msg_id}")
