"""Who acts at the terminal: every `rig billing` command that changes the ledger names an
operator, who proves it or is recorded as not having proved it.

Three ways, one per command line:

- ``--operator NAME`` (or ``$RIG_BILLING_OPERATOR``) with the operator's console password,
  asked without echo on a terminal or read from ``$RIG_BILLING_PASSWORD`` (a script);
- ``--token SECRET`` (or ``$RIG_BILLING_TOKEN``): an API token (``rig billing token create``),
  which names its operator and may bind it to stations;
- ``--as NAME``: act as a registered operator without authenticating; the audit log records an
  ``operator.unauthenticated`` event naming what was done, the OS user and the host.

Before any operator is registered the centre is being set up, and commands act as ``system``.
The role a command needs is the one the REST API asks for the same operation
(:mod:`rig.billing.roles`).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer

from rig.billing.centre.facade import BillingCentre
from rig.billing.roles import may, needs_words
from rig.billing.types import OperatorRole
from rig.billing.unauthenticated import record_unauthenticated
from rig.cli.billing_open import EXIT_REFUSED, EXIT_USAGE, err, fail, open_centre

OPERATOR_ENV = "RIG_BILLING_OPERATOR"
PASSWORD_ENV = "RIG_BILLING_PASSWORD"
TOKEN_ENV = "RIG_BILLING_TOKEN"

OperatorOpt = Annotated[str | None, typer.Option(
    "--operator", "-o", envvar=OPERATOR_ENV, show_envvar=True,
    help="the operator acting, authenticated by password (asked on a terminal, or "
         f"${PASSWORD_ENV})")]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", envvar=TOKEN_ENV, show_envvar=True, show_default=False,
    help="an API token of the operator acting (rig billing token create)")]
AS_HELP = "act as this operator WITHOUT authenticating; the audit log records it so"
AsOpt = Annotated[str | None, typer.Option("--as", help=AS_HELP)]
ByOpt = Annotated[str | None, typer.Option("--as", "--by", help=AS_HELP)]  # tokens: --by ADMIN


@dataclass(frozen=True)
class Acting:
    """The operator a command acts as, and how that was established."""

    name: str
    role: OperatorRole
    how: str  # "password", "token", "unauthenticated (--as)", "set-up"
    stations: tuple[str, ...] = ()  # a token's stations (empty: any)


SETUP = Acting("system", OperatorRole.ADMINISTRATOR, "set-up")


@contextmanager
def acting_on(db: str, operator: str | None, token: str | None, as_: str | None, *,
              needs: OperatorRole, doing: str) -> Iterator[tuple[BillingCentre, Acting]]:
    """The centre at ``db`` and the operator acting in it for ``doing`` (see :func:`who_acts`):
    how every command that changes the ledger starts."""
    with open_centre(db) as c:
        yield c, who_acts(c, operator=operator, token=token, as_=as_, needs=needs, doing=doing)


def who_acts(centre: BillingCentre, *, operator: str | None, token: str | None,
             as_: str | None, needs: OperatorRole, doing: str) -> Acting:
    """The operator acting for ``doing``, authenticated, with the role ``needs``; a usage
    error (exit 2) or a refusal (exit 3) that says what to do otherwise."""
    if as_ is not None and (operator is not None or token is not None) and \
            not _only_from_env(operator, token):
        raise fail("give one of --operator, --token and --as, not several", EXIT_USAGE)
    if as_ is not None:
        acting = _unauthenticated(centre, as_, doing)
    elif token is not None:
        acting = _by_token(centre, token, operator)
    elif operator is not None:
        acting = _by_password(centre, operator)
    elif not centre.operators():
        return SETUP
    else:
        raise fail(f"{doing} needs an operator: --operator NAME (password asked, or "
                   f"${PASSWORD_ENV}), --token SECRET (or ${TOKEN_ENV}), or --as NAME "
                   "(recorded in the audit log as unauthenticated)", EXIT_USAGE)
    if not may(acting.role, needs):
        raise fail(f"operator {acting.name!r} is a {acting.role.value}; {doing} needs "
                   f"{needs_words(needs)}", EXIT_REFUSED)
    if acting.how.startswith("unauthenticated"):
        record_unauthenticated(centre, acting.name, f"rig billing --as {acting.name}: {doing}")
        err.print(f"acting as {acting.name} without authentication (recorded in the audit "
                  "log)", highlight=False)
    return acting


def _only_from_env(operator: str | None, token: str | None) -> bool:
    """``--as`` beside an operator or token that only came from the environment: --as wins."""
    return (operator is None or operator == os.environ.get(OPERATOR_ENV)) and \
        (token is None or token == os.environ.get(TOKEN_ENV))


def _registered(centre: BillingCentre, name: str) -> OperatorRole:
    for o in centre.operators():
        if o.name == name:
            return o.role
    raise fail(f"operator {name!r} is not registered (rig billing operators list)",
               EXIT_REFUSED)


def _unauthenticated(centre: BillingCentre, name: str, doing: str) -> Acting:
    return Acting(name, _registered(centre, name), "unauthenticated (--as)")


def _by_token(centre: BillingCentre, secret: str, operator: str | None) -> Acting:
    holder = centre.token_holder(secret)
    if holder is None:
        raise fail("the API token (--token / $RIG_BILLING_TOKEN) is unknown, revoked or "
                   "expired", EXIT_REFUSED)
    if operator is not None and operator != holder.operator.name and \
            operator != os.environ.get(OPERATOR_ENV):
        raise fail(f"the token is {holder.operator.name!r}'s, not {operator!r}'s", EXIT_USAGE)
    return Acting(holder.operator.name, holder.operator.role, "token", holder.stations)


def _by_password(centre: BillingCentre, name: str) -> Acting:
    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise fail(f"operator {name!r} must authenticate: set ${PASSWORD_ENV}, run on a "
                       f"terminal to be asked, use a token (--token / ${TOKEN_ENV}), or act "
                       f"with --as {name} (recorded as unauthenticated)", EXIT_USAGE)
        password = getpass.getpass(f"password for {name}: ")
    info = centre.authenticate(name, password)
    if info is None:
        raise fail(f"operator {name!r}: wrong password, or no console password set (an "
                   f"administrator sets it with `rig billing operators password {name}`)",
                   EXIT_REFUSED)
    return Acting(info.name, info.role, "password")


def password_setter(centre: BillingCentre, name: str, *, operator: str | None,
                    token: str | None, as_: str | None) -> str:
    """Who sets ``name``'s password: the operator acting, if one is named (an administrator,
    or ``name`` itself: the centre checks); else ``name`` itself, proving the old password, or,
    for a first password, recorded as unauthenticated."""
    if operator is None and token is None and as_ is None:
        if centre.password_stamp(name) is None:
            as_ = name
        else:
            operator = name
    return who_acts(centre, operator=operator, token=token, as_=as_,
                    needs=OperatorRole.CASHIER, doing="setting a password").name


def check_station(acting: Acting, station: str) -> None:
    """A token bound to stations sells only there (as over the REST API)."""
    if acting.stations and station not in acting.stations:
        raise fail(f"{acting.name}'s token may sell only at {', '.join(acting.stations)}, not "
                   f"at {station}", EXIT_REFUSED)
