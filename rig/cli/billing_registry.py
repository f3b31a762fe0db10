"""`rig billing customers|meters|cards|operators …`: who and what the centre knows — customer
accounts, meters (with a keypad meter's STS identity), the cards bound to them, operators and
vending stations."""

from __future__ import annotations

from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.billing.hoarding import UNIT_WORDS
from rig.billing.types import OperatorRole
from rig.cli.acting import AsOpt, OperatorOpt, TokenOpt, acting_on, password_setter
from rig.cli.billing_open import Db, fail, open_centre, out, table, when
from rig.cli.billing_sts import (
    BaseOpt,
    DkgaOpt,
    EaOpt,
    KrnOpt,
    KtOpt,
    PanOpt,
    SgcOpt,
    StepOpt,
    TiOpt,
    sts_identity_option,
)
from rig.cli.registration import RegistrationError, meter_defaults
from rig.cli.registration import card_serial as checked_card_serial
from rig.errors import RigError

customers_app = typer.Typer(no_args_is_help=True, help="Customers: add, list/search.")
meters_app = typer.Typer(no_args_is_help=True,
                         help="Meters: add, list, block/unblock, hoarding limit.")
cards_app = typer.Typer(no_args_is_help=True, help="Cards: issue, status, replace.")
operators_app = typer.Typer(no_args_is_help=True, help="Operators and stations.")


@customers_app.command("add")
def customers_add(name: str, account_no: str, db: Db = DEFAULT_URL,
                  address: Annotated[str, typer.Option(help="postal address")] = "",
    operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None,
                  ) -> None:
    """Register a customer account (administrator)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="registering a customer") as (c, by):
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
    sts_currency_step: StepOpt = None,
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
        encryption=sts_encryption, base_date=sts_base_date, currency_step=sts_currency_step)
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="registering a meter") as (c, by):
        info = c.register_meter(meter_no, actor=by.name, customer_account=customer, profile=profile,
                                credit_unit=d.unit, tariff_code=tariff,
                                key_revision=d.key_revision,
                                commissioning_energy_wh=commissioning_wh, commissioned_at=at,
                                hoarding_limit=d.hoarding_limit, sts=sts)
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="changing a hoarding limit") as (c, by):
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
    if h.basis:
        out.print(f"  basis: {h.basis}", highlight=False)


@meters_app.command("status")
def meters_status(meter_no: str, status: Annotated[str, typer.Argument(
        help="active | blocked")], db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Block or unblock a meter (administrator)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="blocking or unblocking a meter") as (c, by):
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="issuing a card") as (c, by):
        info = c.issue_card(meter_no, serial, card_type, actor=by.name)
    out.print(f"card {info.card_serial} issued for meter {info.meter_no}")


@cards_app.command("status")
def cards_status(card_serial: str, status: Annotated[str, typer.Argument(
        help="active | lost | replaced | blocked")], db: Db = DEFAULT_URL,
        operator: OperatorOpt = None, token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Set a card's status (administrator; a lost or blocked card cannot be sold to)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="changing a card's status") as (c, by):
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="replacing a card") as (c, by):
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="registering an operator") as (c, by):
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="registering a station") as (c, by):
        info = c.register_station(code, actor=by.name)
    out.print(f"station {info.code} registered")
