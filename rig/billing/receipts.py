"""Receipt text: what the printer at a vending station prints for one vend."""

from __future__ import annotations

from rig.billing.types import CreditUnit, VendResult

WIDTH = 40


def receipt_text(v: VendResult) -> str:
    """Plain-text receipt listing every component; the lines sum to the amount paid."""
    unit = "Wh" if v.credit_unit is CreditUnit.ENERGY_WH else "cents"
    rows = [
        "PREPAID ENERGY RECEIPT".center(WIDTH),
        *([f"*** REPRINT {v.reprint_count} ***"] if v.reprint_count else []),
        f"meter     {v.meter_no}",
        f"card      {v.card_serial}",
        f"sequence  {v.sequence}",
        f"date      {v.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"station   {v.station}  operator {v.operator}",
        "-" * WIDTH,
    ]
    for line in v.receipt:
        rows.append(f"{line.label:<12}{line.amount:>14}")
        if line.detail:
            rows.append(f"  {line.detail}")
    rows += ["-" * WIDTH, f"{'PAID':<12}{v.amount:>14}", f"credit    {v.credit} {unit}",
             f"status    {v.status.value}"]
    return "\n".join(rows) + "\n"
