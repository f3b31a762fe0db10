"""What a scenario run records: phases (steps), measurements with units and limits, evidence.

One recorder feeds three audiences at once: Allure steps when running under pytest, a live
progress display for a person at the bench, and the run's own report. Measurements are
declared with a unit and limits and judged when recorded, as certification records are.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

# `allure` (the pytest plugin's API, with its pluggy hooks) is imported only by a record that
# reports to Allure, i.e. under pytest: `rig run` writes its allure-results from the record
# itself (writer.py) and needs none of it.


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"
    RUNNING = "running"
    PENDING = "pending"


Value = Decimal | int | float | str | bool | None


class _Unset:
    """No `equals` requirement (None itself can be one: "no purchase applied")."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()

RECORDED = "recorded, no limit"


class MeasurementOutOfLimits(AssertionError):
    """A measurement judged against its requirement and found outside it."""


@dataclass
class Measurement:
    """A named value with a unit and the requirement it is judged by, judged on record.

    The requirement (``equals``, or inclusive ``low``/``high``) comes from the profile, the
    tariff or the standard, never from the value: a measurement without one is recorded as
    such ("recorded, no limit"), not as a pass. ``basis`` names where the requirement comes
    from (e.g. "profile: thresholds.alarm1", "reconciliation: docs/billing.md").
    """

    name: str
    value: Value
    unit: str = ""
    low: Decimal | None = None
    high: Decimal | None = None
    equals: Value | _Unset = UNSET
    description: str = ""
    basis: str = ""

    @property
    def has_limit(self) -> bool:
        return self.equals is not UNSET or self.low is not None or self.high is not None

    @property
    def passed(self) -> bool:
        """False only when a requirement is not met (a bare record never fails a step)."""
        if self.equals is not UNSET:
            return self.value == self.equals
        if self.low is None and self.high is None:
            return True
        if not isinstance(self.value, int | float | Decimal) or isinstance(self.value, bool):
            return False
        v = Decimal(str(self.value))
        return (self.low is None or v >= self.low) and (self.high is None or v <= self.high)

    @property
    def verdict(self) -> str:
        """"pass", "fail", or "recorded" for a value kept without a requirement."""
        if not self.has_limit:
            return "recorded"
        return "pass" if self.passed else "fail"

    def limits_text(self) -> str:
        if self.equals is not UNSET:
            return f"== {self.equals}"
        if self.low is not None and self.high is not None:
            return f"[{self.low}, {self.high}]"
        if self.low is not None:
            return f">= {self.low}"
        if self.high is not None:
            return f"<= {self.high}"
        return RECORDED

    def limit_dict(self) -> dict[str, Any] | None:
        """The requirement as data (record.json's ``limit``); None when there is none."""
        if self.equals is not UNSET:
            return {"equals": _plain(self.equals)}
        if self.low is None and self.high is None:
            return None
        return {"low": _plain(self.low), "high": _plain(self.high)}

    def title(self) -> str:
        """One line for a step title or a JUnit property: value, requirement, verdict."""
        value = f"{self.value} {self.unit}".strip()
        return f"{value} | limit {self.limits_text()} | {self.verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _plain(self.value),
            "unit": self.unit,
            "limit": self.limit_dict(),
            "limits": self.limits_text(),
            "verdict": self.verdict,
            "passed": self.passed,
            "basis": self.basis,
            "description": self.description,
        }


def _plain(value: object) -> object:
    """JSON-safe and exact: a Decimal becomes its string, never a float."""
    return str(value) if isinstance(value, Decimal) else value


@dataclass
class Attachment:
    """Evidence: text (transcripts, traces, JSON) or binary (a PNG plot) in `data`."""

    name: str
    text: str
    mime: str = "text/plain"
    data: bytes | None = None


@dataclass
class Step:
    name: str
    outcome: Outcome = Outcome.PENDING
    started: float = 0.0
    finished: float = 0.0
    bench_started_s: float | None = None
    measurements: list[Measurement] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    error: str = ""

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.finished or time.time()) - self.started) if self.started else 0.0


class Observer(Protocol):
    """Who watches a run live (the CLI's progress display; nothing under pytest)."""

    def step_started(self, step: Step) -> None: ...
    def step_finished(self, step: Step) -> None: ...
    def reading(self, values: dict[str, str]) -> None: ...


class RunRecord:
    """The record of one scenario run: identity, steps, measurements, attachments."""

    def __init__(
        self,
        name: str,
        *,
        identity: dict[str, str],
        phases: list[str] | None = None,
        observer: Observer | None = None,
        use_allure: bool = False,
    ) -> None:
        self.name = name
        self.identity = identity
        self.steps: list[Step] = [Step(p) for p in phases or []]
        self.observer = observer
        self.use_allure = use_allure
        self.started = time.time()
        self.finished = 0.0
        self.summary: dict[str, Any] = {}
        # Station, operator, DUT, instruments, billing centre (rig.report.testrecord).
        self.context: dict[str, Any] = {}
        self.attachments: list[Attachment] = []
        self._current: Step | None = None

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[Step]:
        """Run one phase; an exception marks it failed (assertion) or errored and re-raises."""
        step = next((s for s in self.steps if s.name == name and s.outcome == Outcome.PENDING),
                    None)
        if step is None:
            step = Step(name)
            self.steps.append(step)
        step.outcome, step.started = Outcome.RUNNING, time.time()
        self._current = step
        if self.observer:
            self.observer.step_started(step)
        ctx = _allure_step(name) if self.use_allure else contextlib.nullcontext()
        try:
            with ctx:
                yield step
                if any(not m.passed for m in step.measurements):
                    failed = [m.name for m in step.measurements if not m.passed]
                    raise AssertionError(f"{name}: measurement out of limits: {', '.join(failed)}")
        except AssertionError as e:
            step.outcome, step.error = Outcome.FAIL, str(e)
            raise
        except BaseException as e:
            step.outcome, step.error = Outcome.ERROR, f"{type(e).__name__}: {e}"
            raise
        else:
            step.outcome = Outcome.PASS
        finally:
            step.finished = time.time()
            self._current = None
            if self.observer:
                self.observer.step_finished(step)

    def measure(self, name: str, value: Value, unit: str = "", *, low: Decimal | None = None,
                high: Decimal | None = None, equals: Value | _Unset = UNSET,
                description: str = "", basis: str = "") -> Measurement:
        m = Measurement(name, value, unit, low, high, equals, description, basis)
        (self._current.measurements if self._current else self._loose).append(m)
        if self.use_allure:
            _allure_measurement_step(m)
        return m

    @property
    def _loose(self) -> list[Measurement]:
        if not self.steps or self.steps[-1].name != "results":
            self.steps.append(Step("results", outcome=Outcome.PASS))
        return self.steps[-1].measurements

    def attach(self, name: str, text: str, mime: str = "text/plain") -> None:
        """Attach evidence (transcripts, traces). Callers redact secrets before this point."""
        att = Attachment(name, text, mime)
        (self._current.attachments if self._current else self.attachments).append(att)
        if self.use_allure:
            import allure

            kind = allure.attachment_type.JSON if mime == "application/json" else \
                allure.attachment_type.TEXT
            allure.attach(text, name=name, attachment_type=kind)

    def attach_png(self, name: str, png: bytes) -> None:
        att = Attachment(name, "", "image/png", png)
        (self._current.attachments if self._current else self.attachments).append(att)
        if self.use_allure:
            import allure

            allure.attach(png, name=name, attachment_type=allure.attachment_type.PNG)

    def reading(self, **values: object) -> None:
        if self.observer:
            self.observer.reading({k: str(v) for k, v in values.items()})

    @property
    def measurements(self) -> list[Measurement]:
        return [m for s in self.steps for m in s.measurements]

    @property
    def outcome(self) -> Outcome:
        outcomes = {s.outcome for s in self.steps}
        if Outcome.ERROR in outcomes:
            return Outcome.ERROR
        if Outcome.FAIL in outcomes or any(not m.passed for m in self.measurements):
            return Outcome.FAIL
        if Outcome.RUNNING in outcomes or Outcome.PENDING in outcomes:
            return Outcome.ERROR
        return Outcome.PASS

    def close(self) -> None:
        self.finished = time.time()


def _allure_step(name: str) -> contextlib.AbstractContextManager[Any]:
    import allure

    return allure.step(name)


def _allure_measurement_step(m: Measurement) -> None:
    """A measurement as an Allure step "name: value | limit | verdict" (failed when out of
    limits). A step, not a parameter: parameters make the test's history id, and a measured
    value must not change which test this is."""
    with contextlib.suppress(MeasurementOutOfLimits), _allure_step(f"{m.name}: {m.title()}"):
        if not m.passed:
            raise MeasurementOutOfLimits(f"{m.name} = {m.value} {m.unit}, limit "
                                         f"{m.limits_text()}")
