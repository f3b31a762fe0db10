"""What a sale costs when it produces an STS token instead of a card write, side by side.

Run from the repo root: ``.venv/bin/python bench/sts_sales.py [--sales N] [--rounds R]``.

One billing centre on a SQLite file (a fresh temporary folder under ``bench/``): N card meters
and N STS keypad meters (DKGA02 + STA, the public test keys). Each round sells one vend to
every card meter, then one to every keypad meter (alternating the order each round, so both
see the same disk and load), and times each sale; between the two, as many bare one-row
insert commits on a SQLite file of the same folder and pragmas (WAL, the engine's
``synchronous``): the floor no sale can go below. Both sales take the centre's direct path
(a token sale also reads the STS row, allocates the TID, derives the decoder key, encrypts
the token and stores it, in the same transaction), so ``token_over_card`` is the price of the
token and ``card_over_commit`` / ``token_over_commit`` what each costs beyond the commit.
Prints a table and, last, one flat JSON line (name → number).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the bare commits of billing_vend

from billing_vend import BareSqlite

from rig.billing import BillingCentre, open_billing
from rig.billing.sts_keys import StsKeyService

warnings.filterwarnings("ignore", message="Dialect sqlite.*Decimal objects natively")
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _pan(n: int) -> str:
    """An 18-digit MeterPAN (IIN 0000 form) with its Luhn check digit."""
    body = f"0000{n:013d}"
    total = 0
    for i, c in enumerate(reversed(body + "0")):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def setup(c: BillingCentre, n: int) -> tuple[list[str], list[str]]:
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_customer("Bench", "ACC-1")
    c.create_tariff("RES", Decimal("0.1500"), T0)
    cards, keypads = [], []
    for i in range(n):
        for kind, out in (("card", cards), ("sts", keypads)):
            no = f"{(1 if kind == 'card' else 2)}{i:011d}"
            c.register_meter(no, customer_account="ACC-1", profile="bench",
                             credit_unit="energy_wh", tariff_code="RES", key_revision=1,
                             commissioning_energy_wh=0, commissioned_at=T0)
            if kind == "card":
                c.issue_card(no, f"{i:016X}")
            else:
                c.register_sts_meter(no, {"pan": _pan(i), "supply_group": "123456",
                                           "base_date": 2014})
            out.append(no)
    return cards, keypads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sales", type=int, default=100, help="sales of each kind per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"card": [], "token": [], "commit": []}
    n = args.sales * args.rounds  # a card meter is sold once (its next sale waits for the card)
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as d:
        c = open_billing(f"sqlite:///{d}/sts.sqlite", clock=lambda: T0,
                         sts_keys=StsKeyService.public_test_keys())
        with c.engine.connect() as conn:
            synchronous = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
        bare = BareSqlite(Path(d) / "bare.sqlite", synchronous)
        cards, keypads = setup(c, n)
        seq = 0
        for r in range(args.rounds):
            part = slice(r * args.sales, (r + 1) * args.sales)
            order = [("card", cards[part]), ("token", keypads[part])]
            for kind, meters in order if r % 2 == 0 else order[::-1]:
                for no in meters:
                    seq += 1
                    t = time.perf_counter()
                    v = c.vend(no, Decimal("20.00"), request_id=f"b-{seq}", station="DESK-1",
                               operator="carol")
                    times[kind].append(time.perf_counter() - t)
                    assert (v.token is not None) == (kind == "token")
                    times["commit"].append(bare.time(1))
        bare.close()
        c.close()
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"{'sale':<8}{'n':>6}{'median ms':>12}{'p90 ms':>10}")
    for k, v in times.items():
        p90 = sorted(v)[int(len(v) * 0.9)] * 1e3
        print(f"{'bare SQL' if k == 'commit' else k:<8}{len(v):>6}{med[k]:>12.2f}{p90:>10.2f}")
    ratio = med["token"] / med["card"]
    print(f"token sale / card sale (medians): {ratio:.2f}; card / bare commit "
          f"{med['card'] / med['commit']:.2f}, token / bare commit "
          f"{med['token'] / med['commit']:.2f}")
    print(json.dumps({"card_sale_ms": round(med["card"], 3),
                      "token_sale_ms": round(med["token"], 3),
                      "bare_commit_ms": round(med["commit"], 3),
                      "token_over_card": round(ratio, 3),
                      "card_over_commit": round(med["card"] / med["commit"], 3),
                      "token_over_commit": round(med["token"] / med["commit"], 3)}))


if __name__ == "__main__":
    main()
