"""`rig billing tariffs …`: add a tariff version (flat, block or time-of-use, with taxes and a
fixed monthly charge) and list them."""

from __future__ import annotations

from typing import Annotated

import typer

from rig.billing import inputs
from rig.billing.engine import DEFAULT_URL
from rig.billing.types import Band, Block, OperatorRole, Tax
from rig.cli.acting import AsOpt, OperatorOpt, TokenOpt, acting_on
from rig.cli.billing_open import Db, fail, money, open_centre, out, price_option, table, when

tariffs_app = typer.Typer(no_args_is_help=True, help="Tariffs: add a version, list.")


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
    with acting_on(db, operator, token, as_, needs=OperatorRole.ADMINISTRATOR,
                   doing="adding a tariff") as (c, by):
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
