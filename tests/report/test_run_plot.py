"""The run's plot: drawn with Pillow (no matplotlib import on `rig run`'s path), the credit,
power and relay where the samples put them and each event as a red line at its bench hour."""

from __future__ import annotations

import io
import subprocess
import sys
from decimal import Decimal

from PIL import Image

from rig.report.plot import RunSeries, axis_range, nice_ticks, plot_run

RED = (214, 39, 40)


def _series() -> RunSeries:
    s = RunSeries("CNY")
    for i in range(101):  # 10 h at 2 kW, cut off at 8 h
        cut = i >= 80
        s.add(i / 10, Decimal(16) - Decimal(i) / 5 if not cut else Decimal(0),
              Decimal(0) if cut else Decimal(2000), cut)
    s.events = {"alarm 1": 5.0, "cut-off": 8.0}
    return s


def test_events_are_red_lines_at_their_bench_hour() -> None:
    image = Image.open(io.BytesIO(plot_run(_series(), "a run"))).convert("RGB")
    assert image.size == (900, 650)
    width = image.size[0]
    red_columns = {x for x in range(width) for y in range(60, 600, 7)
                   if image.getpixel((x, y)) == RED}
    # the axis runs -0.2..10.2 h from x=90 to x=880: 5 h at 485, 8 h at 723
    expected = [90 + (h + 0.2) / 10.4 * 790 for h in (5.0, 8.0)]
    for x in expected:
        assert any(abs(c - x) <= 1 for c in red_columns)
    assert all(min(abs(c - x) for x in expected) <= 1 for c in red_columns)


def test_the_relay_trace_drops_to_open_at_the_cut_off() -> None:
    image = Image.open(io.BytesIO(plot_run(_series()))).convert("RGB")

    def green_rows(x: int) -> list[int]:
        return [y for y in range(image.size[1]) if image.getpixel((x, y)) == (44, 160, 44)]

    before, after = green_rows(200), green_rows(800)  # about 1.4 h and 8.9 h
    assert before and after and min(after) > max(before)  # "open" is drawn below "closed"


def test_ticks_are_round_and_cover_the_data() -> None:
    assert nice_ticks(-0.4, 20.3) == [0, 5, 10, 15, 20]
    assert nice_ticks(-100.0, 2100.0, most=5) == [0, 500, 1000, 1500, 2000]
    ticks = nice_ticks(-0.3, 1234.0)
    assert ticks[0] >= -0.3 and ticks[-1] <= 1234.0 and 2 <= len(ticks) <= 7
    assert axis_range([0.0, 10.0]) == (-0.5, 10.5)
    assert axis_range([3.0, 3.0]) == (2.0, 4.0)


def test_an_empty_series_still_draws() -> None:
    assert plot_run(RunSeries("kWh")).startswith(b"\x89PNG\r\n\x1a\n")


def test_the_plot_does_not_import_matplotlib() -> None:
    code = ("import sys; from rig.report.plot import RunSeries, plot_run; "
            "plot_run(RunSeries('CNY')); print('matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "False"
