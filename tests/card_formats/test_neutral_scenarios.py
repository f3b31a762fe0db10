"""The certification scenarios ask the meter's card format, not RIGPP: a format whose meter
cannot resist a forged purchase (a memory card has no cryptography) gets the security check
recorded as not applicable, with the format's reason; a scenario needing a card kind the
format lacks says so the same way. Both are measurements the record shows, never a silent
pass, and nothing is written to the card or the meter for them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig
from rig.billing.connect import connect_billing
from rig.card_formats import registry
from rig.card_formats.interface import Attack, CardKind
from rig.report.record import RunRecord
from rig.scenarios import certification_meter, certification_security
from rig.scenarios.steps import BenchSteps
from tests.card_formats.test_toy_format import profile_with_card

RIGPP = registry.card_format("rigpp")
WHY = "a memory card has no cryptography: a card written by any writer is accepted"


class _NoCryptoFormat:
    """RIGPP's parts under another name, saying its meter resists no forgery and that it has
    user cards only: what a memory-card format declares."""

    name = "nocrypto"
    kinds = frozenset({CardKind.USER})

    def __getattr__(self, name: str) -> Any:
        return getattr(RIGPP, name)

    def attacks(self) -> tuple[Attack, ...]:
        return (Attack("forged_purchase", False, WHY),)


@pytest.fixture
def steps(tmp_path: Path) -> Iterator[BenchSteps]:
    registry.register(_NoCryptoFormat())  # type: ignore[arg-type]
    try:
        profile_with_card(tmp_path, '[card]\nformat = "nocrypto"\n', name="nocrypto-1p")
        config = BenchConfig(profile="nocrypto-1p", profiles_dir=tmp_path, time_scale=36000.0)
        with open_bench(config) as bench, \
                connect_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}",
                                clock=bench.clock.now) as billing:
            yield BenchSteps(bench, billing, RunRecord("certification", identity={}))
    finally:
        registry.unregister("nocrypto")


def _measured(s: BenchSteps, name: str) -> str:
    """The one measurement called ``name``: recorded without a limit (not a pass)."""
    (m,) = [m for m in s.record.measurements if m.name == name]
    assert not m.has_limit
    return str(m.value)


@pytest.mark.bench
def test_a_format_that_cannot_resist_forgery_is_recorded_not_applicable(
        steps: BenchSteps) -> None:
    certification_security.forged_mac_is_refused(steps)
    said = _measured(steps, "forged purchase")
    assert said == f"not applicable: card format 'nocrypto': {WHY}"
    names = [st.name for st in steps.record.steps]
    assert "forged purchase" in names
    assert not any(n.startswith("forged purchase:") for n in names)  # nothing forged
    assert steps.meter.card_refusals().count == 0  # no forged card reached the meter


@pytest.mark.bench
def test_a_card_kind_the_format_lacks_is_recorded_not_applicable(steps: BenchSteps) -> None:
    certification_meter.parameter_card_changes_thresholds(steps)
    assert _measured(steps, "parameter card") == \
        "not applicable: card format 'nocrypto' has no parameter card"
    assert not any(st.name == "insert the parameter card" for st in steps.record.steps)
