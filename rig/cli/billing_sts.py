"""`rig billing sts …`: a keypad meter's STS identity and the management tokens a supervisor
issues (power limit, clear credit, clear tamper, key change sets, a supply group's TID
roll-over). Every token is audited without its digits or any key; the digits are printed here
in groups of 4, to be typed on the meter. The vending keys come from ``$RIG_STS_KEY_FILE``
(else the public STS test keys, said on stderr)."""

from __future__ import annotations

from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.billing.types import OperatorRole, StsTokenInfo
from rig.cli import table_console
from rig.cli.acting import AsOpt, OperatorOpt, TokenOpt, acting_on
from rig.cli.billing_open import Db, err, fail, open_centre
from rig.errors import RigError
from rig.sts.identity import StsSection, identity_of
from rig.sts.token import grouped

sts_app = typer.Typer(no_args_is_help=True,
                      help="STS keypad meters: identity, management and key change tokens.")
out = table_console()

PanOpt = Annotated[str | None, typer.Option(
    "--sts-pan", help="STS MeterPAN (18 digits, Luhn check digit last): the meter takes "
    "tokens, not cards")]
SgcOpt = Annotated[str | None, typer.Option("--sts-supply-group", help="STS supply group code")]
TiOpt = Annotated[str | None, typer.Option("--sts-tariff-index", help="STS tariff index (2)")]
KrnOpt = Annotated[int | None, typer.Option("--sts-key-revision", help="STS KRN, 1-9")]
KtOpt = Annotated[int | None, typer.Option("--sts-key-type", help="STS key type, 0-3")]
DkgaOpt = Annotated[str | None, typer.Option("--sts-dkga", help="dkga02 | dkga04")]
EaOpt = Annotated[str | None, typer.Option("--sts-encryption", help="sta | dea | misty1")]
BaseOpt = Annotated[int | None, typer.Option("--sts-base-date", help="1993 | 2014 | 2035")]
StepOpt = Annotated[str | None, typer.Option(
    "--sts-currency-step", help="a money meter's currency token step in its currency "
    "(0.00001 by default; a whole number of cents, e.g. 0.01, to be sold to)")]


def sts_identity_option(profile: StsSection | None, *, pan: str | None, **given: object) \
        -> StsSection | None:
    """The identity `meters add` registers: None without --sts-pan; the options given win,
    the rest come from the profile's [sts] section (or the standard's defaults). A bad value
    ends the command (exit 2) before anything is registered."""
    if pan is None:
        if any(v is not None for v in given.values()):
            raise fail("the --sts-… options need --sts-pan (the meter's STS identity)")
        return None
    values: dict[str, object] = profile.model_dump(exclude={"tid_memory"}) if profile else {}
    values |= {"pan": pan} | {k: v for k, v in given.items() if v is not None}
    try:
        return identity_of(values, "--sts-…")
    except RigError as e:
        raise fail(str(e)) from None


def _print_tokens(made: list[StsTokenInfo]) -> None:
    for t in made:
        what = t.kind.replace("_", " ") + (f" {t.value}" if t.value else "")
        tid = f"TID {t.tid}" if t.tid is not None else f"section {t.position} of {len(made)}"
        out.print(f"{grouped(t.digits)}   {what} ({tid}, meter {t.meter_no})", highlight=False)


@sts_app.command("identity")
def identity(meter_no: str, db: Db = DEFAULT_URL) -> None:
    """A meter's STS identity (never its key)."""
    with open_centre(db) as c:
        ident = c.sts_identity(meter_no)
    if ident is None:
        raise fail(f"meter {meter_no} has no STS identity (it takes cards)", 3)
    out.print(f"meter {meter_no}: PAN {ident.pan}, supply group {ident.supply_group}, tariff "
              f"index {ident.tariff_index}, KRN {ident.key_revision}, KT {ident.key_type}, "
              f"{ident.dkga.upper()} + {ident.encryption.value.upper()}, base date "
              f"{ident.base_date}, currency token step {ident.currency_step}", highlight=False)


@sts_app.command("tokens")
def tokens_list(meter_no: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                token: TokenOpt = None, as_: AsOpt = None) -> None:
    """Every token issued to the meter (supervisor: they are bearer credentials for it)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="listing a meter's STS tokens") as (c, _):
        made = c.sts_tokens(meter_no)
    _print_tokens(made)


@sts_app.command("power-limit")
def power_limit(meter_no: str, watts: Annotated[int, typer.Argument(help="W (0 lifts it)")],
                db: Db = DEFAULT_URL, operator: OperatorOpt = None, token: TokenOpt = None,
                as_: AsOpt = None) -> None:
    """A SetMaximumPowerLimit token (supervisor; audited)."""
    _management(db, meter_no, "power_limit", watts, operator, token, as_)


@sts_app.command("clear-credit")
def clear_credit(meter_no: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                 token: TokenOpt = None, as_: AsOpt = None) -> None:
    """A ClearCredit token (supervisor; audited)."""
    _management(db, meter_no, "clear_credit", 0, operator, token, as_)


@sts_app.command("clear-tamper")
def clear_tamper(meter_no: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
                 token: TokenOpt = None, as_: AsOpt = None) -> None:
    """A ClearTamperCondition token (supervisor; audited)."""
    _management(db, meter_no, "clear_tamper", 0, operator, token, as_)


def _management(db: str, meter_no: str, kind: str, value: int, operator: str | None,
                token: str | None, as_: str | None) -> None:
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing=f"issuing an STS {kind} token") as (c, by):
        made = c.sts_management_token(meter_no, kind, value, operator=by.name)
    _print_tokens([made])


@sts_app.command("key-change")
def key_change(
    meter_no: str,
    key_revision: Annotated[int | None, typer.Option(help="the new KRN, 1-9")] = None,
    tariff_index: Annotated[str | None, typer.Option(help="the new TI")] = None,
    key_type: Annotated[int | None, typer.Option(help="the new KT, 0-3")] = None,
    supply_group: Annotated[str | None, typer.Option(help="the new SGC")] = None,
    rollover: Annotated[bool, typer.Option(help="the new key starts the next base date")] = False,
    db: Db = DEFAULT_URL, operator: OperatorOpt = None, token: TokenOpt = None,
    as_: AsOpt = None,
) -> None:
    """The decoder key change set (2 or 4 tokens, typed in order), under the meter's key; the
    centre sells under the new key from now on (supervisor; audited, no key shown)."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="issuing STS key change tokens") as (c, by):
        made = c.sts_key_change(meter_no, operator=by.name, key_revision=key_revision,
                                tariff_index=tariff_index, key_type=key_type,
                                supply_group=supply_group, rollover=rollover)
    _print_tokens(made)


@sts_app.command("rollover")
def rollover(supply_group: str, db: Db = DEFAULT_URL, operator: OperatorOpt = None,
             token: TokenOpt = None, as_: AsOpt = None) -> None:
    """The TID roll-over for a whole supply group: a key change set with the roll-over flag
    (and the next KRN) for every meter of the group on an older base date."""
    with acting_on(db, operator, token, as_, needs=OperatorRole.SUPERVISOR,
                   doing="rolling a supply group over") as (c, by):
        made = c.sts_rollover(supply_group, operator=by.name)
    for tokens in made.values():
        _print_tokens(tokens)
    err.print(f"{len(made)} meter(s) of supply group {supply_group} to roll over",
              highlight=False)
