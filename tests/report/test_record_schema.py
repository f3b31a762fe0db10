"""record.json's schema is versioned and documented: docs/record.schema.json is what rig's
models say, and a record that breaks it is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest

from rig.report import record_schema
from rig.report.writer import write_report
from tests.report.failing import failing_cycle_record

REPO = Path(__file__).resolve().parents[2]


def test_documented_schema_is_the_one_rig_writes() -> None:
    documented = json.loads((REPO / "docs" / "record.schema.json").read_text())
    assert documented == record_schema.json_schema(), \
        "regenerate: python -m rig.report.record_schema > docs/record.schema.json"


def test_a_written_record_validates_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    write_report(failing_cycle_record(tmp_path), tmp_path / "run")
    text = (tmp_path / "run" / "record.json").read_text()
    record = record_schema.TestRecord.model_validate_json(text)
    assert record.tests[0].outcome == "fail" and record.schema_version == 1
    broken = json.loads(text)
    broken["started"] = "2026-03-04T08:00:00"  # no time zone
    with pytest.raises(pydantic.ValidationError, match="timezone"):
        record_schema.TestRecord.model_validate(broken)
