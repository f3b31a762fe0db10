"""`rig billing …`: the billing centre for operators at a terminal, and its REST server.

Every command opens the database named by ``--db`` (or ``$RIG_BILLING_DB``; default the same
``sqlite:///billing.sqlite`` that :func:`rig.billing.open_billing` uses), calls one service
method and prints the outcome, acting as a named operator (:mod:`rig.cli.acting`). Bad input
prints the reason on stderr and exits 2, a refusal by the centre's rules exits 3, a database
that stayed locked too long (nothing was committed) exits 75 (EX_TEMPFAIL: run the same
command again); ``audit verify`` exits 1 when verification
fails (chain, checkpoints or ledger). Nothing here re-implements a billing rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rig.billing import inputs
from rig.billing.engine import DEFAULT_URL
from rig.billing.hoarding import UNIT_WORDS
from rig.billing.types import Band, Block, OperatorRole, Tax
from rig.cli import table_console
from rig.cli.acting import (
    AsOpt,
    ByOpt,
    OperatorOpt,
    TokenOpt,
    password_setter,
    who_acts,
)
from rig.cli.billing_bank import bank_app
from rig.cli.billing_open import (
    AuditAnchor,
    AuditKeyFile,
    Db,
    ReadbackKeyFile,
    audit_config,
    err,
    fail,
    money,
    open_centre,
    readback_keys,
    server_audit,
    stop_on_sigterm,
)
from rig.cli.billing_print import (
    CodePageOpt,
    PaperOpt,
    PrinterOpt,
    print_receipt,
    station_printer,
)
from rig.cli.billing_report import report_app
from rig.cli.billing_sessions import selling_station, session_app
from rig.cli.billing_sts import (
    BaseOpt,
    DkgaOpt,
    EaOpt,
    KrnOpt,
    KtOpt,
    PanOpt,
    SgcOpt,
    TiOpt,
    sts_app,
    sts_identity_option,
)
from rig.cli.console import (
    CardOptions,
    IdleMinutes,
    InsecureCookies,
    MasterKeyFile,
    MaxHours,
    ProfilesDir,
    Reader,
    TimeZoneOpt,
    card_options,
    console_asgi,
    require_server,
)
from rig.cli.registration import RegistrationError, meter_defaults
from rig.cli.registration import card_serial as checked_card_serial
from rig.errors import RigError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Billing centre: customers, meters, tariffs, vends, readbacks, audit, API.")
customers_app = typer.Typer(no_args_is_help=True, help="Customers: add, list/search.")
meters_app = typer.Typer(no_args_is_help=True,
                         help="Meters: add, list, block/unblock, hoarding limit.")
cards_app = typer.Typer(no_args_is_help=True, help="Cards: issue, status, replace.")
tariffs_app = typer.Typer(no_args_is_help=True, help="Tariffs: add a version, list.")
operators_app = typer.Typer(no_args_is_help=True, help="Operators and stations.")
readback_app = typer.Typer(no_args_is_help=True, help="Readbacks: import from JSON.")
audit_app = typer.Typer(no_args_is_help=True,
                        help="Audit log: verify the keyed chain and the ledger, checkpoints, keys.")
token_app = typer.Typer(no_args_is_help=True, help="REST API tokens: create, list, revoke.")
vends_app = typer.Typer(no_args_is_help=True, help="Vends: list a meter's sales.")
for sub, name in ((vends_app, "vends"), (customers_app, "customers"), (meters_app, "meters"),
                  (cards_app, "cards"),
                  (tariffs_app, "tariffs"), (operators_app, "operators"),
                  (readback_app, "readback"), (audit_app, "audit"), (token_app, "token"),
                  (report_app, "report"), (bank_app, "bank"), (session_app, "session"),
                  (sts_app, "sts")):
    app.add_typer(sub, name=name)

out = table_console()


def price_option(text: str, what: str) -> Decimal:
    return money(text, what, inputs.PRICE_PLACES, 6)


def when(text: str | None, what: str) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{what} {text!r} is not an ISO 8601 date/time (e.g. 2024-01-01T00:00)") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def table(title: str, columns: list[str], rows: Sequence[Sequence[object]]) -> None:
    t = Table(title=title)
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*(str(v) for v in row))
    out.print(t)


# -- customers, meters, cards, operators ---------------------------------------------------------


@customers_app.command("add")
def customers_add(name: str, account_no: str, db: Db = DEFAULT_URL,
                  address: Annotated[str, typer.Option(help="postal address")] = "",
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
                  ) -> None:
    """Register a customer account (administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="registering a customer")
        info = c.register_customer(name, account_no, address, actor=by.name)
    out.print(f"customer {info.account_no} ({info.name}) registered")


@customers_app.command("list")
def customers_list(db: Db = DEFAULT_URL, search: Annotated[
        str | None, typer.Option("--search", "-s", help="name/account/address/meter no")] = None,
) -> None:
    """List customers, or search them."""
    with open_centre(db) as c:
        rows = [[x.account_no, x.name, x.address] for x in c.customers(search)]
    table("customers", ["account", "name", "address"], rows)


@meters_app.command("add")
def meters_add(
    meter_no: str,
    customer: Annotated[str, typer.Option(help="customer account number")],
    tariff: Annotated[str, typer.Option(help="tariff code")],
    profile: Annotated[str, typer.Option(help="meter profile name (`rig profiles`): the unit, "
                                         "key revision and hoarding limit default to its")],
    unit: Annotated[str | None, typer.Option(
        help="credit unit: money_cents | energy_wh (default: the profile's)")] = None,
    key_revision: Annotated[int | None, typer.Option(
        help="meter key revision (default: the profile's card key revision)")] = None,
    commissioning_wh: Annotated[int, typer.Option(help="energy register at commissioning")] = 0,
    commissioned_at: Annotated[str | None, typer.Option(help="ISO time (default now)")] = None,
    hoarding_limit: Annotated[int | None, typer.Option(
        help="most credit the meter may hold, in credit units (cents / Wh); default: the "
             "profile's hoarding limit")
    ] = None,
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
    sts_pan: PanOpt = None, sts_supply_group: SgcOpt = None, sts_tariff_index: TiOpt = None,
    sts_key_revision: KrnOpt = None, sts_key_type: KtOpt = None, sts_dkga: DkgaOpt = None,
    sts_encryption: EaOpt = None, sts_base_date: BaseOpt = None,
) -> None:
    """Register a meter for a customer (administrator); with --sts-pan a keypad meter with
    its STS identity (the rest from the options, else the profile's [sts] section): its
    sales print tokens."""
    at = when(commissioned_at, "--commissioned-at")
    try:
        d = meter_defaults(profile, unit=unit, key_revision=key_revision,
                           hoarding_limit=hoarding_limit)
    except RegistrationError as e:
        raise fail(str(e)) from None
    sts = sts_identity_option(
        d.sts, pan=sts_pan, supply_group=sts_supply_group, tariff_index=sts_tariff_index,
        key_revision=sts_key_revision, key_type=sts_key_type, dkga=sts_dkga,
        encryption=sts_encryption, base_date=sts_base_date)
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="registering a meter")
        info = c.register_meter(meter_no, actor=by.name, customer_account=customer, profile=profile,
                                credit_unit=d.unit, tariff_code=tariff,
                                key_revision=d.key_revision,
                                commissioning_energy_wh=commissioning_wh, commissioned_at=at,
                                hoarding_limit=d.hoarding_limit)
        if sts is not None:
            c.register_sts_meter(meter_no, sts, actor=by.name)
    if sts is not None:
        out.print(f"meter {meter_no}: STS PAN {sts.pan}, supply group {sts.supply_group}, "
                  f"base date {sts.base_date}: its sales print tokens", highlight=False)
    out.print(f"meter {info.meter_no} registered for {info.customer_account} "
              f"(tariff {info.tariff_code}, credit in {info.credit_unit.value}, "
              f"key revision {d.key_revision}, hoarding limit {_limit(info.hoarding_limit)}; "
              f"defaults from {d.source})")


def _limit(value: int | None) -> str:
    return "none" if value is None else str(value)


@meters_app.command("list")
def meters_list(db: Db = DEFAULT_URL, customer: Annotated[
        str | None, typer.Option(help="only this customer's meters")] = None) -> None:
    """List meters with their last issued purchase sequence and status."""
    with open_centre(db) as c:
        rows = [[x.meter_no, x.customer_account, x.profile, x.credit_unit.value, x.tariff_code,
                 x.last_sequence, x.status.value, _limit(x.hoarding_limit)]
                for x in c.meters(customer)]
    table("meters", ["meter", "customer", "profile", "unit", "tariff", "last seq", "status",
                     "hoarding limit"], rows)


@meters_app.command("hoarding-limit")
def meters_hoarding_limit(meter_no: str, limit: Annotated[str, typer.Argument(
        help="credit units (cents / Wh), or 'none' to remove the check")],
        db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Change a meter's hoarding limit (administrator; audited)."""
    if limit.lower() == "none":
        value = None
    elif limit.isascii() and limit.isdigit():
        value = int(limit)
    else:
        raise fail(f"hoarding limit {limit!r} must be a whole number of credit units or 'none'")
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="changing a hoarding limit")
        info = c.set_hoarding_limit(meter_no, value, actor=by.name)
    out.print(f"meter {info.meter_no} hoarding limit {_limit(info.hoarding_limit)}")


@meters_app.command("hoarding")
def meters_hoarding(meter_no: str, db: Db = DEFAULT_URL) -> None:
    """Hoarding limit, estimated credit on the meter and the most that can be vended now."""
    with open_centre(db) as c:
        info = c.meter(meter_no)
        h = c.hoarding(meter_no)
    unit = UNIT_WORDS[info.credit_unit.value]
    out.print(f"meter {meter_no}: hoarding limit {_limit(h.limit)}, estimated credit "
              f"{h.estimate} {unit}, can vend now {'any' if h.room is None else h.room}"
              f"{'' if h.room is None else ' ' + unit}")


@meters_app.command("status")
def meters_status(meter_no: str, status: Annotated[str, typer.Argument(
        help="active | blocked")], db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Block or unblock a meter (administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="blocking or unblocking a meter")
        info = c.set_meter_status(meter_no, status, actor=by.name)
    out.print(f"meter {info.meter_no} is {info.status.value}")


@cards_app.command("issue")
def cards_issue(meter_no: str, card_serial: str, db: Db = DEFAULT_URL,
                card_type: Annotated[str, typer.Option("--type")] = "customer",
                operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Bind a new card to a meter (one active card per meter); the serial is the one the card
    writer personalises (16 hex digits)."""
    try:
        serial = checked_card_serial(card_serial)
    except RegistrationError as e:
        raise fail(str(e)) from None
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="issuing a card")
        info = c.issue_card(meter_no, serial, card_type, actor=by.name)
    out.print(f"card {info.card_serial} issued for meter {info.meter_no}")


@cards_app.command("status")
def cards_status(card_serial: str, status: Annotated[str, typer.Argument(
        help="active | lost | replaced | blocked")], db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Set a card's status (administrator; a lost or blocked card cannot be sold to)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="changing a card's status")
        info = c.set_card_status(card_serial, status, actor=by.name)
    out.print(f"card {info.card_serial} is {info.status.value}")


@cards_app.command("replace")
def cards_replace(meter_no: str, new_card_serial: str,
                  reason: Annotated[str, typer.Option(help="lost | damaged | …")] = "lost",
                  db: Db = DEFAULT_URL, operator: OperatorOpt = None, token: TokenOpt = None,
                  as_: AsOpt = None) -> None:
    """Issue a new card for a meter; its unconfirmed vends move to it with the same
    sequence numbers, to be written again."""
    try:
        new_card_serial = checked_card_serial(new_card_serial)
    except RegistrationError as e:
        raise fail(str(e)) from None
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_,
                      needs=OperatorRole.SUPERVISOR, doing="replacing a card")
        card, moved = c.replace_card(meter_no, new_card_serial, operator=by.name,
                                     reason=reason)
    out.print(f"card {card.card_serial} issued for meter {card.meter_no}; "
              f"vends to write again: {[v.vend_id for v in moved] or 'none'}")


@operators_app.command("add")
def operators_add(name: str, role: Annotated[str, typer.Argument(
        help="cashier | supervisor | administrator")], db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Register an operator with a role (administrator; the first one, on a new centre, is
    registered by set-up and must be an administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="registering an operator")
        if by.how == "set-up" and role != OperatorRole.ADMINISTRATOR.value:
            raise fail("the first operator of a new centre must be an administrator (it "
                       "registers the others)")
        info = c.register_operator(name, role, actor=by.name)
    out.print(f"operator {info.name} registered as {info.role.value}")


@operators_app.command("password")
def operators_password(name: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                       token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Set an operator's password (an administrator, or the operator itself; asked twice on a
    terminal, else one line of stdin; never an argument, so it stays out of shell history and
    process lists). Without --operator/--token/--as it acts as the operator itself, who has
    no password yet, or proves the old one."""
    from rig.billing.passwords import PasswordPolicyError, read_new_password

    with open_centre(db) as c:
        by = password_setter(c, name, operator=operator, token=token, as_=as_)
        try:
            c.set_password(name, read_new_password(), actor=by)
        except (RigError, PasswordPolicyError) as e:
            raise fail(str(e)) from None
    out.print(f"password of {name} set")


@operators_app.command("list")
def operators_list(db: Db = DEFAULT_URL) -> None:
    with open_centre(db) as c:
        rows = [[o.name, o.role.value] for o in c.operators()]
    table("operators", ["name", "role"], rows)


@operators_app.command("station")
def operators_station(code: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                      token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Register a vending station (administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="registering a station")
        info = c.register_station(code, actor=by.name)
    out.print(f"station {info.code} registered")


# -- tariffs ------------------------------------------------------------------------------------


def _parts(spec: str, n: int, option: str, shape: str) -> list[str]:
    parts = spec.split(":")
    if len(parts) != n or not all(parts[1:]):
        raise fail(f"{option} {spec!r} must look like {shape}")
    return parts


def _block(spec: str) -> Block:
    up_to, cost = _parts(spec, 2, "--block", "UP_TO_WH:PRICE (UP_TO_WH empty = no limit)")
    try:
        limit = int(up_to) if up_to else None
        if up_to and not up_to.isascii():
            raise ValueError(up_to)
    except ValueError:
        raise fail(f"--block {spec!r}: {up_to!r} is not a whole number of Wh") from None
    return Block(limit, price_option(cost, f"--block {spec!r} price"))


def _band(spec: str) -> Band:
    name, span, cost = _parts(spec, 3, "--band", "NAME:START-END:PRICE (minutes of the day)")
    try:
        start, end = (int(x) for x in span.split("-"))
    except ValueError:
        raise fail(f"--band {spec!r}: {span!r} must be START-END in minutes, e.g. 420-1320") \
            from None
    return Band(name, start, end, price_option(cost, f"--band {spec!r} price"))


def _tax(spec: str) -> Tax:
    name, rate = _parts(spec, 2, "--tax", "NAME:RATE_PERCENT")
    return Tax(name, money(rate, f"--tax {spec!r} rate", inputs.PRICE_PLACES,
                           inputs.RATE_DIGITS))


@tariffs_app.command("add")
def tariffs_add(
    code: str,
    price: Annotated[str, typer.Option(help="price per kWh (flat; the card's rate otherwise)")],
    effective_from: Annotated[str | None, typer.Option(help="ISO time (default now)")] = None,
    version: Annotated[int | None, typer.Option(help="version (default: next)")] = None,
    kind: Annotated[str, typer.Option(help="flat | block | tou")] = "flat",
    block: Annotated[list[str] | None, typer.Option(help="UP_TO_WH:PRICE, repeatable")] = None,
    band: Annotated[list[str] | None, typer.Option(help="NAME:START-END:PRICE, repeatable")
                    ] = None,
    tax: Annotated[list[str] | None, typer.Option(help="NAME:RATE_PERCENT, repeatable")] = None,
    fixed_monthly: Annotated[str, typer.Option(help="fixed charge per month")] = "0.00",
    utc_offset_minutes: Annotated[int, typer.Option(help="local time offset for TOU")] = 0,
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
) -> None:
    """Add a tariff version (administrator; append-only: a price change is a new version)."""
    price_d = price_option(price, "--price")
    fixed = money(fixed_monthly, "--fixed-monthly")
    at = when(effective_from, "--effective-from")
    blocks = tuple(_block(b) for b in block or [])
    bands = tuple(_band(b) for b in band or [])
    taxes = tuple(_tax(t) for t in tax or [])
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="adding a tariff")
        info = c.create_tariff(code, price_d, at, version, kind=kind, blocks=blocks, bands=bands,
                               utc_offset_minutes=utc_offset_minutes, fixed_monthly=fixed,
                               taxes=taxes, actor=by.name)
    out.print(f"tariff {info.code} version {info.version} ({info.kind}, {info.price_per_kwh}/kWh)"
              f" effective from {info.effective_from:%Y-%m-%d %H:%M} UTC")


@tariffs_app.command("list")
def tariffs_list(db: Db = DEFAULT_URL,
                 code: Annotated[str | None, typer.Option(help="only this code")] = None) -> None:
    with open_centre(db) as c:
        rows = [[t.code, t.version, t.kind, t.price_per_kwh,
                 f"{t.effective_from:%Y-%m-%d %H:%M}", t.fixed_monthly,
                 ", ".join(f"{x.name} {x.rate_percent}%" for x in t.taxes)]
                for t in c.tariffs(code)]
    table("tariffs", ["code", "version", "kind", "price/kWh", "effective (UTC)", "fixed/month",
                      "taxes"], rows)


# -- vending -----------------------------------------------------------------------------------


@app.command()
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


@app.command()
def reverse(vend_id: int,
            reason: Annotated[str, typer.Option(help="why the vend is cancelled")],
            db: Db = DEFAULT_URL, operator: OperatorOpt = None, token: TokenOpt = None,
            as_: AsOpt = None) -> None:
    """Reverse a vend no readback has confirmed (supervisor or administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_,
                      needs=OperatorRole.SUPERVISOR, doing="reversing a vend")
        result = c.reverse_vend(vend_id, operator=by.name, reason=reason)
    out.print(f"vend {result.vend_id} reversed (sequence {result.sequence} of meter "
              f"{result.meter_no} stays used)")


@app.command()
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


# -- readbacks and audit ---------------------------------------------------------------------


@readback_app.command("import")
def readback_import(file: Annotated[Path, typer.Argument(help="JSON: one readback or a list")],
                    db: Db = DEFAULT_URL,
                    readback_key_file: ReadbackKeyFile = None) -> None:
    """Import readbacks (fields as in POST /readbacks, with raw_hex: the centre verifies each
    MAC itself; one without raw_hex, or whose MAC fails, is stored unverified and confirms
    nothing). All are validated before any is stored; each is stored and reconciled in order,
    and a refusal stops the import naming the item."""
    from pydantic import ValidationError

    from rig.billing.api.schemas import ReadbackIn
    from rig.billing.types import ReadbackData

    try:
        doc = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"{file}: cannot read JSON: {e}") from None
    items = doc if isinstance(doc, list) else [doc]
    parsed: list[ReadbackIn] = []
    for i, item in enumerate(items):
        try:
            parsed.append(ReadbackIn.model_validate(item))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(str(p) for p in x['loc']) or 'item'}: {x['msg']}"
                                 for x in e.errors())
            raise fail(f"{file}: readback {i}: {problems} (nothing imported)") from None
    with open_centre(db, keys=readback_keys(readback_key_file)) as c:
        for i, rb in enumerate(parsed):
            raw = bytes.fromhex(rb.raw_hex) if rb.raw_hex is not None else None
            try:
                result = c.ingest_readback(
                    ReadbackData(**rb.model_dump(
                        exclude={"card_serial", "raw_hex", "mac_verified"})),
                    card_serial=rb.card_serial, raw=raw)
            except RigError as e:
                stored = f"readbacks 0..{i - 1} were stored" if i else "nothing was stored"
                raise fail(f"{file}: readback {i} (meter {rb.meter_no}) refused: {e}; "
                           f"{stored}") from None
            failed = ", ".join(ch.name for ch in result.failed)
            colour = "green" if not failed else "red"
            mac = result.evidence.get("mac", {})
            verified = ("MAC verified by the centre" if mac.get("verified_by_centre")
                        else f"UNVERIFIED: {mac.get('reason', 'MAC not verified')}")
            out.print(f"readback {i}: meter {result.meter_no} [{colour}]{result.verdict.value}"
                      f"[/]{f' (failed: {failed})' if failed else ''}; {verified}; confirmed "
                      f"vends {list(result.confirmed_vend_ids)}", highlight=False)


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


# -- tokens and the server ---------------------------------------------------------------------


@token_app.command("create")
def token_create(
    holder: Annotated[str, typer.Argument(metavar="OPERATOR",
                                          help="operator the token acts as")],
    label: Annotated[str, typer.Option(help="what the token is for")] = "",
    station: Annotated[list[str] | None, typer.Option(
        "--station", help="a station the token may sell at (repeat for several; none: the "
                          "token may not sell)")] = None,
    expires_in_days: Annotated[int, typer.Option(
        min=0, max=3660, help="days until the token expires (0: never)")] = 90,
    db: Db = DEFAULT_URL,
    operator: OperatorOpt = None, token: TokenOpt = None, as_: ByOpt = None,
) -> None:
    """Create an API token (administrator); the secret is printed once, alone on stdout."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="creating an API token")
        expires = c.now() + timedelta(days=expires_in_days) if expires_in_days else None
        issued = c.create_api_token(holder, actor=by.name, label=label, stations=station or (),
                                    expires_at=expires)
    info = issued.info
    where = ", ".join(info.stations) or "no station (it may not sell)"
    until = f"until {info.expires_at:%Y-%m-%d %H:%M} UTC" if info.expires_at else "never expires"
    err.print(f"token {info.token_id} for {info.operator} ({info.role.value}), sells at "
              f"{where}, {until}; it is shown once and stored only as a hash",
              highlight=False)
    print(issued.secret)


@token_app.command("list")
def token_list(db: Db = DEFAULT_URL) -> None:
    with open_centre(db) as c:
        now = c.now()
        rows = [[t.token_id, t.operator, t.role.value, t.label, f"{t.created_at:%Y-%m-%d %H:%M}",
                 t.created_by, ", ".join(t.stations),
                 f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never",
                 "revoked" if t.revoked_at else
                 "expired" if t.expires_at and t.expires_at <= now else "live"]
                for t in c.api_tokens()]
    table("API tokens", ["id", "operator", "role", "label", "created", "by", "stations",
                         "expires", "state"], rows)


@token_app.command("revoke")
def token_revoke(token_id: int, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                 token: TokenOpt = None, as_: ByOpt = None) -> None:
    """Revoke an API token (administrator)."""
    with open_centre(db) as c:
        by = who_acts(c, operator=operator, token=token, as_=as_, needs=OperatorRole.ADMINISTRATOR,
                      doing="revoking an API token")
        c.revoke_api_token(token_id, actor=by.name)
    out.print(f"token {token_id} revoked")


@app.command()
def serve(
    db: Db = DEFAULT_URL,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    console_station: Annotated[str | None, typer.Option(
        help="also serve the vending console at /console/ for this vending station")] = None,
    reader: Reader = None,
    master_key_file: MasterKeyFile = None,
    card_option: CardOptions = None,
    profiles_dir: ProfilesDir = None,
    insecure_cookies: InsecureCookies = False,
    audit_key_file: AuditKeyFile = None,
    audit_anchor: AuditAnchor = None,
    readback_key_file: ReadbackKeyFile = None,
    token_lifetime_days: Annotated[int, typer.Option(
        min=0, max=3660,
        help="lifetime of a token POST /tokens makes without expires_in_s (0: never)")] = 90,
    session_idle_minutes: IdleMinutes = 60,
    session_max_hours: MaxHours = 12,
    time_zone: TimeZoneOpt = None,
    console_printer: Annotated[str | None, typer.Option(
        help="the console station's ESC/POS receipt printer: tcp://HOST[:9100], usb://VID:PID "
        "or a serial port (docs/printer.md)")] = None,
    code_page: CodePageOpt = "CP858",
    paper_mm: PaperOpt = 80,
) -> None:
    """Serve the REST API (OpenAPI at /docs and /openapi.json), and the vending console at
    /console/ with --console-station, until Ctrl-C / SIGTERM."""
    require_server("rig billing serve (the REST API and the console)")
    import uvicorn

    from rig.billing.api import create_app

    stop_on_sigterm()
    with open_centre(db, server_audit(audit_key_file, audit_anchor),
                     readback_keys(readback_key_file)) as c:
        app = create_app(c, token_lifetime=timedelta(days=token_lifetime_days)
                         if token_lifetime_days else None)
        if console_station:
            app.mount("/console", console_asgi(
                c, station=console_station, reader=reader, master_key_file=master_key_file,
                insecure_cookies=insecure_cookies, idle_minutes=session_idle_minutes,
                max_hours=session_max_hours, time_zone=time_zone,
                printer=station_printer(c, console_printer, code_page, paper_mm),
                writer_options=card_options(card_option), profiles_dir=profiles_dir))
            err.print(f"vending console on http://{host}:{port}/console/", highlight=False)
        err.print(f"billing centre API on http://{host}:{port} (docs: /docs)", highlight=False)
        with suppress(KeyboardInterrupt):
            uvicorn.run(app, host=host, port=port, log_level=log_level)
    err.print("billing centre API stopped")
