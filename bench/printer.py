"""How long a sale's receipt takes to print on the emulated printer, over TCP and over the
pty, beside the bytes' parse alone: the printer must never be what a cashier waits for.

Each print is what the station does for a sale: open, three status requests (DLE EOT 1, 2,
4), the receipt, three status requests again, close. Run: `.venv/bin/python bench/printer.py`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal

from escpos.printer import Dummy

from rig.billing.types import CreditUnit, ReceiptLine, VendResult, VendStatus
from rig.printer.escpos_receipt import vend_lines, vend_reference, write_lines
from rig.printer.settings import PrinterSettings
from rig.printer.station_printer import ReceiptPrinter
from rig.sim.emulated_printer import EmulatedPrinter
from rig.sim.escpos_parser import EscPosParser


def _vend() -> VendResult:
    lines = (ReceiptLine("energy", Decimal("13.45"), "71.733 kWh × 0.1875"),
             ReceiptLine("VAT 15%", Decimal("2.02"), ""),
             ReceiptLine("fixed", Decimal("4.00"), "monthly charge"))
    return VendResult(1, "r", "000000000300", "CARD-1", 1, 71733, CreditUnit.ENERGY_WH,
                      Decimal("19.47"), "RES", 1, Decimal("0.1875"), 1, lines,
                      VendStatus.CREATED, "DESK-1", "carol", datetime(2024, 3, 2, tzinfo=UTC))


def _ms(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.95) - 1] * 1000


def measure(n: int) -> dict[str, float]:
    vend = _vend()
    printer = EmulatedPrinter()
    printer.start()
    out: dict[str, float] = {}
    try:
        for port, url in (("tcp", printer.url), ("pty", printer.port_path)):
            rp = ReceiptPrinter(PrinterSettings(url=url, timeout_s=2.0))
            times = []
            for _ in range(n):
                t = time.perf_counter()
                assert rp.print_vend(vend).printed
                times.append(time.perf_counter() - t)
            out[f"{port}_median_ms"], out[f"{port}_p95_ms"] = _ms(times)
    finally:
        printer.stop()
    s = PrinterSettings()
    d = Dummy(profile=s.profile)
    write_lines(d, vend_lines(vend, s.columns), s, reference=vend_reference(vend))
    data = bytes(d.output)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        EscPosParser().feed(data)
        times.append(time.perf_counter() - t)
    out["parse_median_ms"], out["parse_p95_ms"] = _ms(times)
    out["receipt_bytes"] = len(data)
    out["tcp_vs_parse_ratio"] = out["tcp_median_ms"] / out["parse_median_ms"]
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=50, help="receipts per port")
    result = measure(parser.parse_args(argv).n)
    for port in ("tcp", "pty", "parse"):
        print(f"{port:5}: median {result[f'{port}_median_ms']:.2f} ms, "
              f"p95 {result[f'{port}_p95_ms']:.2f} ms per receipt")
    print(f"receipt: {result['receipt_bytes']:.0f} bytes of ESC/POS; a TCP print is "
          f"{result['tcp_vs_parse_ratio']:.1f}x the parse alone")
    goal = result["tcp_p95_ms"] < 500 and result["pty_p95_ms"] < 500
    print(f"goal (p95 < 500 ms per receipt on both ports): {'met' if goal else 'NOT met'}")
    out = {k: round(v, 3) for k, v in result.items()}
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
