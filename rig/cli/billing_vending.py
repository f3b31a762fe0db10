"""`rig billing vend|reverse|reprint` and `rig billing vends list`: a sale at the terminal with
its receipt, its reversal, a reprint, and a meter's sales."""

from __future__ import annotations

from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.billing.types import OperatorRole
from rig.cli.acting import AsOpt, OperatorOpt, TokenOpt, acting_on, who_acts
from rig.cli.billing_open import Db, err, money, open_centre, out, table
from rig.cli.billing_print import CodePageOpt, PaperOpt, PrinterOpt, print_receipt, station_printer
from rig.cli.billing_sessions import selling_station
from rig.cli.console import TimeZoneOpt

vends_app = typer.Typer(no_args_is_help=True, help="Vends: list a meter's sales.")


def vend(
    meter_no: str,
    amount: Annotated[str, typer.Argument(help="money paid, e.g. 20.00")],
    station: Annotated[str | None, typer.Option(
        help="vending station (default: the one of your open cashier session)")] = None,
    back_office: Annotated[bool, typer.Option(
        help="sell in your back-office session (station BACK-OFFICE, opened on first use) "
             "instead of a counter's session")] = False,
    request_id: Annotated[str | None, typer.Option(
        help="client request id (a retry with the same id returns the same vend)")] = None,
    time_zone: TimeZoneOpt = None,
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
    printer: PrinterOpt = None,
    code_page: CodePageOpt = "CP858",
    paper_mm: PaperOpt = 80,
) -> None:
    """Sell credit to a meter in your cashier session and print the receipt (the sale counts
    in that session's cash-up; on an ESC/POS printer too with --printer)."""
    import uuid

    from rig.billing.currency import centre_display
    from rig.billing.receipts import receipt_text

    paid = money(amount, "amount")
    rid = request_id or f"cli-{uuid.uuid4().hex}"
    with open_centre(db) as c:
        receipts = station_printer(c, printer, code_page, paper_mm)  # issue 29, or None
        display = centre_display(c, time_zone=time_zone)
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.CASHIER,
                      doing="selling credit")
        where = selling_station(c, by, station, back_office)
        result = c.vend(meter_no, paid, request_id=rid, station=where, operator=by.name,
                        require_session=True)
        if receipts is not None:  # the sale stands whatever the printer does
            print_receipt(receipts, result, operator=by.name, display=display)
    out.print(receipt_text(result, display), highlight=False, markup=False, end="")
    if result.token is not None:
        err.print(f"vend {result.vend_id} (request id {rid}): the customer types the token "
                  f"on meter {result.meter_no}'s keypad", highlight=False)
    else:
        err.print(f"vend {result.vend_id} (request id {rid}): write it to card "
                  f"{result.card_serial}", highlight=False)


def reverse(vend_id: int,
            reason: Annotated[str, typer.Option(help="why the vend is cancelled")],
            db: Db = DEFAULT_URL, operator: OperatorOpt = None, token: TokenOpt = None,
            as_: AsOpt = None) -> None:
    """Reverse a vend no readback has confirmed (supervisor or administrator)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="reversing a vend") as (c, by):
        result = c.reverse_vend(vend_id, operator=by.name, reason=reason)
    out.print(f"vend {result.vend_id} reversed (sequence {result.sequence} of meter "
              f"{result.meter_no} stays used)")


def reprint(vend_id: int, db: Db = DEFAULT_URL, time_zone: TimeZoneOpt = None,
            operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
            printer: PrinterOpt = None, code_page: CodePageOpt = "CP858",
            paper_mm: PaperOpt = 80) -> None:
    """Print a vend's receipt again (marked and counted as a reprint), in the centre's
    currency and the station's time zone, exactly as the first print (on an ESC/POS printer
    too with --printer)."""
    from rig.billing.currency import centre_display

    with open_centre(db) as c:
        receipts = station_printer(c, printer, code_page, paper_mm)  # issue 29, or None
        by = who_acts(c, operator=operator, token=token, as_=as_,
                      needs=OperatorRole.CASHIER, doing="reprinting a receipt")
        display = centre_display(c, time_zone=time_zone)
        text = c.reprint(vend_id, operator=by.name, display=display)
        if receipts is not None:
            print_receipt(receipts, c.vend_by_id(vend_id), operator=by.name, display=display)
    out.print(text, highlight=False, markup=False, end="")



@vends_app.command("list")
def vends_list(meter_no: Annotated[str, typer.Argument(help="the meter's 12-digit number")],
               db: Db = DEFAULT_URL) -> None:
    """A meter's vends, oldest first: sequence, time, amount, credit, status, who sold it."""
    with open_centre(db) as c:
        rows = [[v.vend_id, v.sequence, f"{v.created_at:%Y-%m-%d %H:%M:%S}", str(v.amount),
                 f"{v.credit} {v.credit_unit.value}", v.status.value, v.kind, v.tender,
                 v.station, v.operator] for v in c.vends_for_meter(meter_no)]
    table(f"vends of meter {meter_no}", ["id", "seq", "at (UTC)", "amount", "credit", "status",
                                          "kind", "tender", "station", "operator"], rows)
