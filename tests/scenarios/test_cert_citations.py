"""Every certified requirement cites the clauses it tests (rig.scenarios.cert_citations), its
scenario's docstring says so, and docs/certification.md shows the same table."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rig.scenarios import certification, certification_sts
from rig.scenarios.cert_citations import (
    CITATIONS,
    IEC_62055_31,
    NOT_TESTABLE,
    cite,
    iec_numbers,
)

_SUITE = Path(importlib.util.find_spec("rig.suites.certification").origin).parent  # type: ignore
CERTIFIED = {name.replace("_", " ") for name in re.findall(
    r"^def test_(\w+)\(", (_SUITE / "test_certification.py").read_text("utf-8"), re.M)}
DOC = Path(__file__).resolve().parents[2] / "docs" / "certification.md"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _scenarios() -> dict[str, Callable[..., Any]]:
    found = {_norm(k): f for k, f in certification.SCENARIOS.items()}
    found |= {_norm(n): getattr(certification_sts, n) for n in dir(certification_sts)
              if n.startswith("sts_")}
    return found


def test_every_certified_requirement_cites_its_clauses() -> None:
    assert set(CITATIONS) == CERTIFIED
    bare = {r for r, c in CITATIONS.items() if not c}
    assert bare == {"receipt printer"}  # the station's printer: no meter standard's clause


def test_each_scenario_docstring_names_the_iec_clauses_it_certifies() -> None:
    scenarios = _scenarios()
    for requirement in CITATIONS:
        numbers = iec_numbers(requirement)
        if not numbers:
            continue
        doc = " ".join((scenarios[_norm(requirement)].__doc__ or "").split())
        cited = re.search(r"Certifies (.*?)\(rig\.scenarios\.cert_citations\)", doc)
        assert cited is not None, requirement
        iec = re.search(re.escape(IEC_62055_31) + r" ([^;]*)", cited.group(1))
        assert iec is not None, requirement
        assert [n.strip() for n in iec.group(1).split(",")] == numbers, requirement


def test_docs_table_agrees_with_the_code() -> None:
    text = DOC.read_text("utf-8")
    section = text.split("### IEC 62055-31 clauses per scenario", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| ([^|]+?) \| ([^|]*?) \|$", section, re.M))
    rows.pop("requirement", None)
    for requirement in CITATIONS:
        documented = rows.get(requirement)
        assert documented is not None, requirement
        assert documented == (cite(requirement) or "—"), requirement
    for clause, _why in NOT_TESTABLE:
        assert f"| {clause.number} {clause.title} |" in section, clause
