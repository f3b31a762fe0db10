"""Limits are requirements, never the measured value: a failing reconciliation check shows
the centre's requirement in report.html, record.json, certification.html, JUnit and Allure."""

from __future__ import annotations

import contextlib
import html
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import Any

from rig.report.certification import result_from_record, write_run_record, write_summary
from rig.report.record import RECORDED, UNSET, Measurement, RunRecord
from rig.report.writer import write_report
from tests.report.failing import COMMISSIONING_WH, READ_BACK_WH, failing_cycle_record

REPO = Path(__file__).resolve().parents[2]

# What the centre requires of each check (docs/billing.md, "Reconciliation"), as the limit
# must read whether the check passed or not: a floor, a ceiling range or an exact value.
REQUIRED = {
    "reconcile: meter_no": "== 000000001001",
    "reconcile: credit_unit": "== money_cents",
    "reconcile: mac_verified": "== True",
    "reconcile: last_sequence_not_beyond_issued": "[0, 1]",
    "reconcile: purchase_total": "== 2000",
    "reconcile: purchase_count": "== 1",
    "reconcile: energy_monotonic": f">= {COMMISSIONING_WH}",
    "reconciliation verdict": "== balanced",
}
FAILING = {"reconcile: purchase_total", "reconcile: energy_monotonic",
           "reconcile: conservation", "reconciliation verdict"}


def assert_honest(measurements: list[dict[str, Any]]) -> None:
    """Each reconciliation check shows the centre's requirement as its limit; no failing
    measurement shows a limit equal to its own value or none at all."""
    by_name = {m["name"]: m for m in measurements}
    assert {n for n, m in by_name.items() if m["verdict"] == "fail"} == FAILING, by_name
    for m in by_name.values():
        if m["verdict"] == "fail":
            assert m["limits"] not in (f"== {m['value']}", RECORDED), m
    for name, limit in REQUIRED.items():
        assert by_name[name]["limits"] == limit, by_name[name]
    conservation = by_name["reconcile: conservation"]["limits"]
    assert conservation.startswith("[") and "== " not in conservation  # expected ± tolerance
    assert by_name["reconcile: energy_monotonic"]["value"] == READ_BACK_WH


def test_a_measurement_without_a_limit_is_recorded_not_passed() -> None:
    m = Measurement("meter display", "credit applied")
    assert (m.verdict, m.limits_text(), m.limit_dict()) == ("recorded", RECORDED, None)
    assert Measurement("no purchase applied", 3, equals=None).verdict == "fail"
    assert Measurement("no purchase applied", None, equals=None).verdict == "pass"
    band = Measurement("alarm 1", Decimal("2.5"), "h", low=Decimal(2), high=Decimal(3))
    assert band.limit_dict() == {"low": "2", "high": "3"} and band.verdict == "pass"


def test_failing_check_shows_the_requirement_in_report_html_and_record_json(
        tmp_path: Path) -> None:
    record = failing_cycle_record(tmp_path)
    assert str(record.outcome) == "fail"
    write_report(record, tmp_path / "run")
    data = json.loads((tmp_path / "run" / "record.json").read_text())
    (test,) = data["tests"]
    assert_honest(test["measurements"])
    energy = next(m for m in test["measurements"]
                  if m["name"] == "reconcile: energy_monotonic")
    assert energy["limit"] == {"low": str(COMMISSIONING_WH), "high": None}
    page = (tmp_path / "run" / "report.html").read_text()
    row = f"<td>reconcile: energy_monotonic</td><td>{READ_BACK_WH} Wh</td>" \
          f"<td>{html.escape('>= ' + str(COMMISSIONING_WH))}</td><td class='fail'>FAIL</td>"
    assert row in page
    assert f"<td>== {READ_BACK_WH}</td>" not in page


def test_failing_check_shows_the_requirement_in_certification_html(tmp_path: Path) -> None:
    record = failing_cycle_record(tmp_path)
    result = result_from_record("dlt645-1p-money", "reconciliation", "fail", record,
                                "reconciliation mismatch", evidence_root=tmp_path)
    data = write_run_record([result], tmp_path / "record.json", started=record.started)
    assert_honest(data["tests"][0]["measurements"])
    page = write_summary([result], tmp_path / "certification.html", data).read_text()
    assert (f"<td>reconcile: energy_monotonic</td><td>{READ_BACK_WH} Wh</td>"
            f"<td>{html.escape('>= ' + str(COMMISSIONING_WH))}</td>") in page
    assert "1 tests: 0 passed, 1 failed" in page
    evidence = data["tests"][0]["evidence"]
    assert [e["name"] for e in evidence] == ["reconciliation evidence"]
    assert (tmp_path / evidence[0]["file"]).is_file()


def _text_value(text: str) -> int | str:
    """A JUnit property's value is text: whole numbers back to int, as record.json has."""
    return int(text) if text.isdigit() else text


TEST_FILE = '''
from pathlib import Path
from rig.pytest_plugin import record_measurements
from tests.report.failing import failing_cycle_record

def test_reconcile(request, tmp_path: Path) -> None:
    record = failing_cycle_record(tmp_path, use_allure=True)
    record_measurements(request.node, record)
    assert str(record.outcome) == "pass"
'''


def test_failing_check_shows_the_requirement_in_junit_and_allure(tmp_path: Path) -> None:
    (tmp_path / "test_failing.py").write_text(TEST_FILE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "test_failing.py"), "-q",
         "-p", "no:cacheprovider", "-o", "addopts=", f"--junitxml={tmp_path / 'junit.xml'}",
         f"--alluredir={tmp_path / 'allure'}", "--rootdir", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 1, done.stdout + done.stderr  # the run fails, as it must
    props = {p.get("name", ""): p.get("value", "")
             for p in ET.parse(tmp_path / "junit.xml").iter("property")}
    junit: list[dict[str, Any]] = [
        {"name": k.split(" / ", 1)[1], "value": _text_value(v.split(" | ")[0].split(" ")[0]),
         "limits": v.split(" | ")[1].removeprefix("limit "), "verdict": v.split(" | ")[2]}
        for k, v in props.items() if k.startswith("measurement: ")]
    assert_honest(junit)
    (result,) = [json.loads(p.read_text()) for p in (tmp_path / "allure").glob("*-result.json")]
    (phase,) = result["steps"]
    (energy,) = [s for s in phase["steps"]
                 if s["name"].startswith("reconcile: energy_monotonic: ")]
    assert energy["status"] == "failed"
    assert f"| limit >= {COMMISSIONING_WH} | fail" in energy["name"]
    assert f"== {READ_BACK_WH}" not in energy["name"]
    # Measured values are steps, not parameters: they must not change the test's identity.
    assert not [p for p in result.get("parameters", []) if "reconcile" in p["name"]]


def test_the_old_bug_would_be_caught(tmp_path: Path) -> None:
    """A limit copied from the value (the old `equals=check.actual`) fails the guard."""
    good = failing_cycle_record(tmp_path)
    record = RunRecord("prepaid cycle", identity={})
    with contextlib.suppress(AssertionError), record.step("reconcile"):
        for m in good.measurements:
            limit = m.value if m.name == "reconcile: energy_monotonic" else m.equals
            if m.equals is UNSET and m.name != "reconcile: energy_monotonic":
                record.measure(m.name, m.value, low=m.low, high=m.high)
            else:
                record.measure(m.name, m.value, equals=limit)
    measurements = [m.to_dict() for m in record.measurements]
    try:
        assert_honest(measurements)
    except AssertionError:
        return
    raise AssertionError("the guard let a limit equal to its own value through")
