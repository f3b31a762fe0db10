"""Request and reply schemas of API tokens, cashier sessions and the audit chain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field

from rig.billing.api.schemas.fields import MoneyIn, MoneyOut, Name, _In, _Out


class TokenIn(_In):
    operator: Name
    label: Annotated[str, Field(max_length=100)] = ""
    stations: Annotated[list[Name], Field(
        max_length=100,
        description="registered stations the token may sell at (none: it may not sell)",
    )] = []  # noqa: RUF012 (pydantic copies it)
    expires_in_s: Annotated[int | None, Field(
        ge=60, le=10 * 366 * 86400,
        description="lifetime in seconds; omitted: the server's default token lifetime")] = None


class TokenOut(_Out):
    token_id: int
    operator: str
    role: str
    label: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    expires_at: datetime | None
    stations: list[str]


class IssuedTokenOut(BaseModel):
    token: str = Field(description="the bearer secret; shown once, stored only as a hash")
    info: TokenOut


class SessionOpenIn(_In):
    station: Name
    opening_float: MoneyIn = Decimal("0.00")


class SessionCloseIn(_In):
    counted_cash: MoneyIn


class SessionOut(_Out):
    session_id: int
    operator: str
    station: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    opening_float: MoneyOut
    counted_cash: MoneyOut | None


class ChainOut(_Out):
    """Audit verification: the chain, its checkpoints and the ledger (docs/billing.md)."""

    ok: bool
    events: int
    broken_seq: int | None
    problem: str
    keyed: int = Field(description="events verified with the audit key")
    legacy: int = Field(description="unkeyed (SHA-256) events before the first keyed one")
    checkpoints: int = Field(description="checkpoints in the anchor that the chain holds")
    problems: list[str] = Field(description="every problem: chain, checkpoints, ledger rows")
    notes: list[str] = Field(description="what this verification could not prove")
    totals: dict[str, str] = Field(description="ledger totals re-derived from the events")
