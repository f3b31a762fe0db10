"""A picture of a consumption run: power, remaining credit, alarms and relay state over time.

A reviewer sees at a glance whether the meter cut off where the credit ran out and whether the
load stopped drawing when the relay opened.

Drawn with Pillow (three panels on one bench-time axis, the events as dashed lines), not
matplotlib: importing matplotlib cost every `rig run` about 0.6 s of CPU and drawing with it
0.2–0.3 s more, on the critical path at a fast time scale; Pillow imports in about 20 ms and
draws this in a few. Pillow comes with rig[plots] (and with matplotlib, which the billing
reports' charts still use).
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from rig.extras import MissingExtra, require

PLOT_NAME = "power, credit and relay over time"
WIDTH, HEIGHT = 900, 650
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 40, 50  # margins around the panels (px)
GAP = 12  # between panels
RATIOS = (3, 3, 1)  # credit, power, relay
BLUE, ORANGE, GREEN, RED = (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)
GRID, AXIS, INK = (225, 225, 225), (60, 60, 60), (0, 0, 0)


class _Attaching(Protocol):
    def attach(self, name: str, text: str, mime: str = ...) -> None: ...
    def attach_png(self, name: str, png: bytes) -> None: ...


@dataclass
class Sample:
    hours: float  # bench hours since the load was switched on
    remaining: Decimal
    power_w: Decimal
    relay_open: bool


@dataclass
class RunSeries:
    """Samples taken while polling, plus the instants of the events worth marking."""

    credit_unit: str
    samples: list[Sample] = field(default_factory=list)
    events: dict[str, float] = field(default_factory=dict)  # label -> bench hours

    def add(self, hours: float, remaining: Decimal, power_w: Decimal, relay_open: bool) -> None:
        self.samples.append(Sample(hours, remaining, power_w, relay_open))


def axis_range(values: list[float], margin: float = 0.05) -> tuple[float, float]:
    """The data's range with `margin` of it added at each end (a flat series gets ±1)."""
    low, high = min(values, default=0.0), max(values, default=1.0)
    if not high > low:
        return low - 1, high + 1
    pad = (high - low) * margin
    return low - pad, high + pad


def nice_ticks(low: float, high: float, most: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [low, high], about
    `most` of them (a range too narrow for two gets its ends)."""
    if not high > low:
        return [low]
    raw = (high - low) / max(most, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    ticks = [round(i * step, 12) for i in range(first, last + 1)]
    return ticks if len(ticks) >= 2 else [low, high]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


@dataclass
class _Panel:
    """One panel: its pixel box and the data range it shows."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    y_low: float
    y_high: float

    def y(self, value: float) -> float:
        _, y0, _, y1 = self.box
        span = self.y_high - self.y_low or 1.0
        return y1 - (value - self.y_low) / span * (y1 - y0)


class _Canvas:
    def __init__(self, pil: Any, draw_mod: Any, image_font: Any, x_low: float,
                 x_high: float) -> None:
        self.pil = pil
        self.image = pil.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
        self.draw = draw_mod.Draw(self.image)
        self.draw_mod = draw_mod
        self.font = image_font.load_default(12)
        self.small = image_font.load_default(10)
        self.title_font = image_font.load_default(16)
        self.x_low, self.x_high = x_low, x_high

    def x(self, hours: float) -> float:
        span = self.x_high - self.x_low or 1.0
        return LEFT + (hours - self.x_low) / span * (WIDTH - LEFT - RIGHT)

    def vertical_text(self, text: str, at: tuple[float, float], font: Any,
                      fill: tuple[int, int, int], *, centred: bool = False) -> None:
        """`text` turned a quarter left, its right edge at at[0]; its top at at[1], or its
        middle there if `centred`."""
        w, h = (int(v) + 2 for v in self.draw.textbbox((0, 0), text, font=font)[2:])
        label = self.pil.new("RGBA", (w, h), (255, 255, 255, 0))
        self.draw_mod.Draw(label).text((0, 0), text, font=font, fill=fill)
        turned = label.rotate(90, expand=True)
        top = at[1] - turned.height / 2 if centred else at[1]
        self.image.paste(turned, (int(at[0]) - turned.width, int(top)), turned)

    def panel(self, p: _Panel, ylabel: str, yticks: list[tuple[float, str]]) -> None:
        x0, y0, x1, y1 = p.box
        for value, text in yticks:
            y = p.y(value)
            self.draw.line([(x0, y), (x1, y)], fill=GRID)
            self.draw.line([(x0 - 4, y), (x0, y)], fill=AXIS)
            tw = self.draw.textlength(text, font=self.font)
            self.draw.text((x0 - 7 - tw, y - 7), text, font=self.font, fill=INK)
        for t in nice_ticks(self.x_low, self.x_high):
            self.draw.line([(self.x(t), y0), (self.x(t), y1)], fill=GRID)
        self.draw.rectangle(p.box, outline=AXIS)
        self.vertical_text(ylabel, (32, (y0 + y1) / 2), self.font, INK, centred=True)

    def series(self, p: _Panel, points: list[tuple[float, float]],
               colour: tuple[int, int, int]) -> None:
        xy = [(self.x(h), p.y(v)) for h, v in points]
        if len(xy) == 1:
            self.draw.ellipse([xy[0][0] - 2, xy[0][1] - 2, xy[0][0] + 2, xy[0][1] + 2],
                              fill=colour)
        elif xy:
            self.draw.line(xy, fill=colour, width=2)

    def dashed(self, x: float, y0: int, y1: int) -> None:
        for y in range(y0, y1, 8):
            self.draw.line([(x, y), (x, min(y + 4, y1))], fill=RED)


def plot_run(series: RunSeries, title: str = "prepaid cycle") -> bytes:
    """Render the series as a PNG (bytes); MissingExtra without rig[plots]."""
    pil = require("plots", "PIL.Image", "the plot of a run")
    draw_mod = require("plots", "PIL.ImageDraw", "the plot of a run")
    image_font = require("plots", "PIL.ImageFont", "the plot of a run")
    samples = series.samples
    x_low, x_high = axis_range([s.hours for s in samples] + list(series.events.values()),
                               margin=0.02)
    x_ticks = nice_ticks(x_low, x_high)
    canvas = _Canvas(pil, draw_mod, image_font, x_low, x_high)
    usable = HEIGHT - TOP - BOTTOM - GAP * (len(RATIOS) - 1)
    boxes, y = [], TOP
    for ratio in RATIOS:
        h = usable * ratio // sum(RATIOS)
        boxes.append((LEFT, y, WIDTH - RIGHT, y + h))
        y += h + GAP
    credit = [(s.hours, float(s.remaining)) for s in samples]
    power = [(s.hours, float(s.power_w)) for s in samples]
    relay = [(s.hours, 0.0 if s.relay_open else 1.0) for s in samples]
    panels = []
    for box, points, ylabel, colour in (
            (boxes[0], credit, f"remaining ({series.credit_unit})", BLUE),
            (boxes[1], power, "load power (W)", ORANGE)):
        low, high = axis_range([v for _, v in points])
        ticks = nice_ticks(low, high, most=5)
        panel = _Panel(box, low, high)
        canvas.panel(panel, ylabel, [(t, _label(t)) for t in ticks])
        canvas.series(panel, points, colour)
        panels.append(panel)
    relay_panel = _Panel(boxes[2], -0.25, 1.25)
    canvas.panel(relay_panel, "relay", [(0.0, "open"), (1.0, "closed")])
    steps = [pt for a, b in itertools.pairwise(relay)
             for pt in (a, (b[0], a[1]))] + relay[-1:]  # held until the next sample
    canvas.series(relay_panel, steps, GREEN)
    panels.append(relay_panel)
    bottom = boxes[-1][3]
    for t in x_ticks:
        x = canvas.x(t)
        canvas.draw.line([(x, bottom), (x, bottom + 4)], fill=AXIS)
        text = _label(t)
        tw = canvas.draw.textlength(text, font=canvas.font)
        canvas.draw.text((x - tw / 2, bottom + 6), text, font=canvas.font, fill=INK)
    xlabel = "bench time since load on (h)"
    tw = canvas.draw.textlength(xlabel, font=canvas.font)
    canvas.draw.text(((LEFT + WIDTH - RIGHT - tw) / 2, bottom + 26), xlabel,
                     font=canvas.font, fill=INK)
    at_x: dict[int, list[str]] = {}  # events drawn on one pixel column share one label
    for label, at in series.events.items():
        at_x.setdefault(round(canvas.x(at)), []).append(label)
    for x, labels in at_x.items():
        for box in boxes:
            canvas.dashed(x, box[1], box[3])
        canvas.vertical_text(", ".join(labels), (x - 2, boxes[0][1] + 3), canvas.small, RED)
    tw = canvas.draw.textlength(title, font=canvas.title_font)
    canvas.draw.text(((WIDTH - tw) / 2, 10), title, font=canvas.title_font, fill=INK)
    buf = io.BytesIO()
    canvas.image.save(buf, format="PNG")
    return buf.getvalue()


def attach_plot(record: _Attaching, series: RunSeries, title: str = "prepaid cycle") -> None:
    """Attach the run's plot; on a core install (no Pillow) a note naming rig[plots]."""
    try:
        png = plot_run(series, title)
    except MissingExtra as e:
        record.attach(PLOT_NAME, f"no plot: {e}")
        return
    record.attach_png(PLOT_NAME, png)
