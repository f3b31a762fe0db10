"""`rig billing session …` and where a terminal sale belongs: every sale is in a cashier session.

A sale made at a terminal is cash taken by a named operator, so it belongs to that operator's
open cashier session, and the cash-up report counts it like a sale at the console. An operator
without a counter (an office clerk, a script) sells with ``--back-office``: the sale goes into
their session at the station ``BACK-OFFICE`` (registered and opened on first use, zero float),
which the cash-up report lists like any other session and which is closed, with its counted
cash, by ``rig billing session close``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from rig.billing.centre.facade import BillingCentre
from rig.billing.engine import DEFAULT_URL
from rig.billing.types import CashierSessionInfo, OperatorRole
from rig.cli import table_console
from rig.cli.acting import Acting, AsOpt, OperatorOpt, TokenOpt, acting_on, check_station
from rig.cli.billing_open import EXIT_REFUSED, Db, fail, money, open_centre

BACK_OFFICE = "BACK-OFFICE"

session_app = typer.Typer(no_args_is_help=True,
                          help="Cashier sessions at a terminal: open, close, show.")
out = table_console()


def selling_station(centre: BillingCentre, by: Acting, station: str | None,
                    back_office: bool) -> str:
    """The station of the session ``by``'s sale belongs to (opening the back-office one when
    asked); a refusal that says how to open one when there is none."""
    current = centre.open_session_of(by.name)
    if back_office:
        if station not in (None, BACK_OFFICE):
            raise fail("--back-office sells at the BACK-OFFICE station; leave out --station")
        if current is not None and current.station != BACK_OFFICE:
            raise fail(f"{by.name} has session {current.session_id} open at {current.station}: "
                       "sell there (without --back-office) or close it first", EXIT_REFUSED)
        if current is None:
            if BACK_OFFICE not in {s.code for s in centre.stations()}:
                centre.register_station(BACK_OFFICE, actor=by.name)
            current = centre.open_session(by.name, BACK_OFFICE)
            _say_opened(current)
        return BACK_OFFICE
    if current is None:
        where = station or "STATION"
        raise fail(f"{by.name} has no open cashier session, so the sale would reach no "
                   f"cash-up: open one with `rig billing session open --station {where}`, "
                   "or sell with --back-office", EXIT_REFUSED)
    if station is not None and station != current.station:
        raise fail(f"{by.name}'s open session {current.session_id} is at {current.station}, "
                   f"not {station}", EXIT_REFUSED)
    check_station(by, current.station)
    return current.station


def _say_opened(info: CashierSessionInfo) -> None:
    out.print(f"session {info.session_id} opened for {info.operator} at {info.station} "
              f"(float {info.opening_float})", highlight=False)


@session_app.command("open")
def session_open(
    station: Annotated[str, typer.Option(help="the vending station (counter) of the shift")],
    opening_float: Annotated[str, typer.Option("--float", help="cash in the drawer at the "
                                               "start, e.g. 100.00")] = "0.00",
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
) -> None:
    """Open your cashier shift at a station: your sales belong to it until it is closed."""
    amount = money(opening_float, "--float")
    with acting_on(db, operator, token, as_, needs=OperatorRole.CASHIER,
                   doing="opening a cashier session") as (c, by):
        check_station(by, station)
        _say_opened(c.open_session(by.name, station, amount))


@session_app.command("close")
def session_close(
    session_id: int,
    counted: Annotated[str, typer.Option(help="cash counted in the drawer, e.g. 250.00")],
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
) -> None:
    """Close a shift with the cash counted (yours; a supervisor may close anyone's)."""
    amount = money(counted, "--counted")
    with acting_on(db, operator, token, as_, needs=OperatorRole.CASHIER,
                   doing="closing a cashier session") as (c, by):
        info = c.close_session(session_id, operator=by.name, counted_cash=amount)
    out.print(f"session {info.session_id} of {info.operator} at {info.station} closed with "
              f"{info.counted_cash} counted (see `rig billing report cash-up`)", highlight=False)


@session_app.command("show")
def session_show(operator_name: Annotated[str, typer.Argument(metavar="OPERATOR")],
                 db: Db = DEFAULT_URL) -> None:
    """The operator's open session, if any."""
    with open_centre(db) as c:
        info = c.open_session_of(operator_name)
    if info is None:
        out.print(f"{operator_name} has no open session", highlight=False)
        return
    out.print(f"session {info.session_id} of {info.operator} at {info.station}, open since "
              f"{info.opened_at:%Y-%m-%d %H:%M %Z} (float {info.opening_float})",
              highlight=False)
