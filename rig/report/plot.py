"""A picture of a consumption run: power, remaining credit, alarms and relay state over time.

A reviewer sees at a glance whether the meter cut off where the credit ran out and whether the
load stopped drawing when the relay opened.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Protocol

from rig.extras import MissingExtra, require

PLOT_NAME = "power, credit and relay over time"


class _Attaching(Protocol):
    def attach(self, name: str, text: str, mime: str = ...) -> None: ...
    def attach_png(self, name: str, png: bytes) -> None: ...


def _pyplot() -> ModuleType:
    matplotlib = require("plots", "matplotlib", "the plot of a run")
    matplotlib.use("Agg")  # no display on a bench PC or a CI runner
    import matplotlib.pyplot as plt

    return plt


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


def plot_run(series: RunSeries, title: str = "prepaid cycle") -> bytes:
    """Render the series as a PNG (bytes); MissingExtra without rig[plots]."""
    plt = _pyplot()
    hours = [s.hours for s in series.samples]
    fig, (ax_credit, ax_power, ax_relay) = plt.subplots(
        3, 1, figsize=(9, 6.5), sharex=True, height_ratios=[3, 3, 1])
    try:
        ax_credit.plot(hours, [float(s.remaining) for s in series.samples], color="tab:blue")
        ax_credit.set_ylabel(f"remaining ({series.credit_unit})")
        ax_power.plot(hours, [float(s.power_w) for s in series.samples], color="tab:orange")
        ax_power.set_ylabel("load power (W)")
        ax_relay.step(hours, [0 if s.relay_open else 1 for s in series.samples], where="post",
                      color="tab:green")
        ax_relay.set_yticks([0, 1], ["open", "closed"])
        ax_relay.set_ylabel("relay")
        ax_relay.set_xlabel("bench time since load on (h)")
        for label, at in series.events.items():
            for ax in (ax_credit, ax_power, ax_relay):
                ax.axvline(at, color="tab:red", linestyle="--", linewidth=0.8)
            ax_credit.annotate(label, (at, ax_credit.get_ylim()[1]), rotation=90, va="top",
                               ha="right", fontsize=8, color="tab:red")
        for ax in (ax_credit, ax_power, ax_relay):
            ax.grid(True, alpha=0.3)
        fig.suptitle(title)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        return buf.getvalue()
    finally:
        plt.close(fig)


def attach_plot(record: _Attaching, series: RunSeries, title: str = "prepaid cycle") -> None:
    """Attach the run's plot; on a core install (no matplotlib) a note naming rig[plots]."""
    try:
        png = plot_run(series, title)
    except MissingExtra as e:
        record.attach(PLOT_NAME, f"no plot: {e}")
        return
    record.attach_png(PLOT_NAME, png)
