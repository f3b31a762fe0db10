"""`rig billing token …`: REST API tokens — created (the secret shown once), listed, revoked."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from rig.billing.engine import DEFAULT_URL
from rig.billing.types import OperatorRole
from rig.cli.acting import ByOpt, OperatorOpt, TokenOpt, acting_on
from rig.cli.billing_open import Db, err, open_centre, out, table

token_app = typer.Typer(no_args_is_help=True, help="REST API tokens: create, list, revoke.")


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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="creating an API token") as (c, by):
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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="revoking an API token") as (c, by):
        c.revoke_api_token(token_id, actor=by.name)
    out.print(f"token {token_id} revoked")
