"""The tariff-change scenario's window between announcing a change and its effective date
is derived from the bench clock: on a fast bench it still spans seconds of real time, so a
vend through a busy HTTP centre lands before the change (it failed at load 11 with 0.6 s)."""

from __future__ import annotations

from datetime import timedelta

from rig.scenarios.certification_billing import (
    ANNOUNCE_TO_VEND_REAL_S,
    EFFECTIVE_AFTER,
    effective_after,
)


def test_fast_bench_gets_seconds_of_real_time() -> None:
    for scale in (36000.0, 1_000_000.0):
        real = effective_after(scale).total_seconds() / scale
        assert real >= ANNOUNCE_TO_VEND_REAL_S


def test_slow_bench_keeps_six_bench_hours() -> None:
    assert effective_after(1.0) == EFFECTIVE_AFTER == timedelta(hours=6)
    assert effective_after(60.0) == EFFECTIVE_AFTER
