"""The simple CSV statement: one payment per row, comma-separated, UTF-8, with a header.

Columns (any order): ``entry_ref, booking_date, amount, currency, reference`` and optionally
``debtor``. A negative amount is a debit. Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
import io

from rig.billing.bank.statement import (
    Entry,
    Statement,
    StatementError,
    check_unique,
    digest,
    parse_amount,
    parse_date,
)

REQUIRED = ("entry_ref", "booking_date", "amount", "currency", "reference")


def parse_csv(data: bytes, file_name: str) -> Statement:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise StatementError(f"{file_name}: not UTF-8 text (byte {e.start})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise StatementError(f"{file_name}:1: header lacks column(s) {', '.join(missing)} "
                             f"(has {', '.join(header) or 'nothing'})")
    entries: list[Entry] = []
    for row in reader:
        line = reader.line_num
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        where = f"{file_name}:{line}"
        for col in ("entry_ref", "currency"):
            if not row.get(col):
                raise StatementError(f"{where}: column {col} is empty")
        amount = parse_amount(row["amount"], f"{where}: column amount")
        if amount == 0:
            raise StatementError(f"{where}: column amount is zero")
        currency = row["currency"].upper()
        if len(currency) != 3 or not currency.isalpha():
            raise StatementError(f"{where}: column currency {row['currency']!r} is not ISO 4217")
        entries.append(Entry(
            entry_ref=row["entry_ref"], amount=abs(amount), currency=currency,
            credit=amount > 0, booked=True,
            booked_on=parse_date(row["booking_date"], f"{where}: column booking_date"),
            reference=row["reference"], debtor=row.get("debtor", ""), end_to_end_id="",
            source=where,
        ))
    check_unique(entries, file_name)
    return Statement(file_name, "csv", f"csv:{digest(data)[:16]}", digest(data), tuple(entries))
