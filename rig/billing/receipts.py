"""The receipt a vending station prints for one vend: one set of rows for paper, text and PDF.

The text receipt (``rig billing vend``, a reprint) and the PDF (the console) are both drawn
from :func:`receipt_rows`, so they list the same lines and print each amount the same way,
in the centre's currency (:mod:`rig.billing.display`).
"""

from __future__ import annotations

from rig.billing.display import Display
from rig.billing.types import VendResult
from rig.sts.token import grouped

WIDTH = 40
LABEL = 24  # label column; the amount takes the rest of the line, right-aligned


def receipt_rows(v: VendResult, display: Display | None = None) -> list[tuple[str, bool]]:
    """(text, bold) rows: heading, vend data, every priced component, total and credit.

    The priced lines sum to the amount paid; a reprint says which one it is.
    """
    d = display or Display()
    rows: list[tuple[str, bool]] = [("PREPAID ENERGY RECEIPT".center(WIDTH), True)]
    if v.reprint_count:
        rows.append((f"*** REPRINT {v.reprint_count} ***".center(WIDTH), True))
    medium = f"card      {v.card_serial}" if v.token is None else "medium    STS token (keypad)"
    rows += [(t, False) for t in (
        f"meter     {v.meter_no}", medium, f"purchase  #{v.sequence}",
        f"date      {d.time(v.created_at, seconds=True)}",
        f"station   {v.station}  operator {v.operator}",
        f"tariff    {v.tariff_code} v{v.tariff_version} @ {d.money(v.price_per_kwh)}/kWh",
        "-" * WIDTH)]
    for line in v.receipt:
        rows.append((_priced(d.label(line.label), d.money(line.amount)), False))
        detail = line.detail
        while detail:
            rows.append((f"  {detail[:WIDTH - 2]}", False))
            detail = detail[WIDTH - 2:]
    rows += [("-" * WIDTH, False), (_priced("PAID", d.money(v.amount)), True),
             (f"credit    {d.credit(v.credit, v.credit_unit)}", True),
             (f"status    {d.status(v.status)}", False)]
    if v.token is not None:  # what the customer types on the meter's keypad
        rows += [("-" * WIDTH, False), ("TOKEN (type on the meter)".center(WIDTH), True),
                 (grouped(v.token).center(WIDTH), True)]
    return rows


def _priced(label: str, amount: str) -> str:
    """A label and its amount on one line; a long label is cut, never the amount."""
    room = max(WIDTH - len(amount) - 1, 1)
    return f"{label[:room]:<{room}} {amount}"


def receipt_text(v: VendResult, display: Display | None = None) -> str:
    """The receipt as plain text, one row per line."""
    return "\n".join(text for text, _ in receipt_rows(v, display)) + "\n"
