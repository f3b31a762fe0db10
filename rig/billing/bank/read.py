"""Read a bank statement file of either format: the one entry point the ledger calls.

It sits above the types (statement.py) and both parsers, so none of them imports another.
"""

from __future__ import annotations

from pathlib import Path

from rig.billing.bank.camt053 import parse_camt053
from rig.billing.bank.csvfile import parse_csv
from rig.billing.bank.statement import Statement, StatementError


def read_statement(path: Path | str) -> Statement:
    """Parse a camt.053 XML or CSV statement, chosen by content (XML starts with ``<``)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise StatementError(f"{p}: cannot read statement: {e.strerror}") from None
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return parse_camt053(data, str(p))
    return parse_csv(data, str(p))
