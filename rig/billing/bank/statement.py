"""A bank statement as the billing centre needs it, whatever file it came from.

Parsers (camt053.py, csvfile.py; read.py picks one by content) turn a camt.053 or CSV file
into a :class:`Statement` or raise :class:`StatementError` naming the file, the line and the
element/column; nothing is written to the ledger until the whole file has parsed, so a bad
file loses no data and leaves no half import behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from rig.errors import BillingError


class StatementError(BillingError):
    """A statement file is malformed; the message names file, line and element or column."""


@dataclass(frozen=True)
class Entry:
    """One credit or debit on the statement, keyed by the bank's own reference."""

    entry_ref: str
    amount: Decimal  # always positive; ``credit`` says which way
    currency: str
    credit: bool
    booked: bool
    booked_on: date
    reference: str  # remittance information the customer gave
    debtor: str
    end_to_end_id: str
    source: str  # "file:line" of the entry
    reversal: bool = False  # ``Ntry/RvslInd``: this entry undoes an earlier one
    return_code: str = ""  # ``TxDtls/RtrInf/Rsn/Cd`` (or ``Prtry``), e.g. AM04, MD06
    return_info: str = ""  # ``TxDtls/RtrInf/AddtlInf``
    mandate_ref: str = ""  # ``TxDtls/Refs/MndtId`` of a direct debit

    @property
    def undoes_earlier(self) -> bool:
        """A return (R-transaction) or reversal: it cancels an earlier entry, it is not new
        money. ISO 20022 says a DBIT with ``RvslInd`` reverses a credit and a CRDT with it a
        debit; a return carries its reason in ``RtrInf``."""
        return self.reversal or bool(self.return_code)


@dataclass(frozen=True)
class Statement:
    file_name: str
    format: str  # "camt.053.001.NN" | "csv"
    statement_id: str
    sha256: str
    entries: tuple[Entry, ...]
    account_currencies: tuple[tuple[str, str], ...] = ()  # (``Acct/Ccy``, "file:line")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_amount(text: str | None, where: str) -> Decimal:
    """A money amount with at most two decimals; anything else names ``where``."""
    raw = (text or "").strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise StatementError(f"{where}: amount {raw!r} is not a number") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise StatementError(f"{where}: amount {raw!r} must have at most 2 decimals")
    return value.quantize(Decimal("0.01"))


def parse_date(text: str | None, where: str) -> date:
    raw = (text or "").strip()
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise StatementError(f"{where}: date {raw!r} is not YYYY-MM-DD") from None


def check_unique(entries: list[Entry], file_name: str) -> None:
    seen: dict[str, str] = {}
    for e in entries:
        if e.entry_ref in seen:
            raise StatementError(f"{file_name}: entry reference {e.entry_ref!r} appears twice "
                                 f"({seen[e.entry_ref]} and {e.source})")
        seen[e.entry_ref] = e.source
