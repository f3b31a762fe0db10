"""Two consecutive `rig run --suite certification` runs, read as a lab and an auditor would:
Allure links them (one history entry per test and profile), and record.json, JUnit,
certification.html and the terminal hold every field and every test."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import rig
from rig.profile import available_profiles, load_profile
from rig.report import record_schema
from rig.scenarios.cert_labels import REQUIREMENTS, RequirementLabels

REPO = Path(__file__).resolve().parents[2]
SELECTION = "replayed or another_meter"
TESTS = ("test_replayed_card_is_not_applied_twice", "test_card_for_another_meter_is_refused")
OPERATOR = "A. Auditor"
ISO_WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")


def _run_suite(out: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "rig.cli.main", "run", "--suite", "certification",
         "--select", SELECTION, "--operator", OPERATOR, "--out", str(out)],
        cwd=out, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (run_dir,) = out.glob("certification-*")
    return run_dir, done


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    runs = []
    for n in (1, 2):
        out = tmp_path_factory.mktemp(f"run{n}")
        run_dir, done = _run_suite(out)
        runs.append((run_dir, done.stdout + done.stderr))
    return runs


def _allure_results(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")]


def _key(result: dict[str, Any]) -> tuple[str, str]:
    profile = {p["name"]: p["value"] for p in result["parameters"]}["cert_profile"]
    return result["fullName"], profile.strip("'")


def test_two_runs_give_one_history_entry_per_test_and_profile(two_runs) -> None:
    ids = []
    for run_dir, _ in two_runs:
        results = _allure_results(run_dir)
        by_key = {_key(r): r["historyId"] for r in results}
        assert len(results) == len(by_key) == len(TESTS) * len(available_profiles())
        # the same test on three profiles: three entries
        assert len(set(by_key.values())) == len(by_key)
        # measurements are steps, never parameters (they would change the history id)
        assert all([p["name"] for p in r["parameters"]] == ["cert_profile"] for r in results)
        ids.append(by_key)
    assert ids[0] == ids[1]  # the same test on the same profile twice: one entry, two results


def test_measurements_are_allure_steps_with_their_limits(two_runs) -> None:
    run_dir, _ = two_runs[0]
    for result in _allure_results(run_dir):
        titles = [s["name"] for phase in result["steps"] for s in phase.get("steps", [])]
        assert titles and all(" | limit " in t for t in titles), titles
        assert any(t.endswith("| pass") for t in titles)


def test_evidence_belongs_to_the_test_not_the_teardown(two_runs) -> None:
    run_dir, _ = two_runs[0]
    evidence = {"meter serial transcript", "card APDU trace (secrets redacted)",
                "load SCPI log", "measurements (value, limit, verdict)"}
    for result in _allure_results(run_dir):
        assert evidence <= {a["name"] for a in result["attachments"]}, result["name"]
    for path in (run_dir / "allure-results").glob("*-container.json"):
        container = json.loads(path.read_text())
        for fixture in container.get("befores", []) + container.get("afters", []):
            names = {a["name"] for a in fixture.get("attachments", [])}
            names |= {a["name"] for s in fixture.get("steps", [])
                      for a in s.get("attachments", [])}
            assert not names & evidence, (fixture["name"], names)


def test_allure_labels_a_lab_filters_on(two_runs) -> None:
    run_dir, _ = two_runs[0]
    doc = (REPO / "docs" / "certification.md").read_text()
    for result in _allure_results(run_dir):
        labels = {(label["name"], label["value"]) for label in result["labels"]}
        requirement = result["fullName"].split("#test_")[-1].replace("_", " ")
        expected = REQUIREMENTS[requirement]
        assert {("epic", "certification"), ("feature", expected.feature),
                ("story", requirement), ("severity", expected.severity)} <= labels
        (link,) = [link for link in result["links"] if link["type"] == "requirement"]
        anchor = RequirementLabels.anchor(requirement)
        assert link["url"] == f"docs/certification.md#{anchor}"
        assert f'<a id="{anchor}"></a>' in doc


def test_every_requirement_has_labels_and_an_anchor() -> None:
    doc = (REPO / "docs" / "certification.md").read_text()
    source = (REPO / "rig" / "suites" / "certification" / "test_certification.py").read_text()
    names = [n.replace("_", " ") for n in re.findall(r"^def test_(\w+)\(", source, re.M)]
    assert sorted(names) == sorted(REQUIREMENTS)
    for name in names:
        assert f'<a id="{RequirementLabels.anchor(name)}"></a>' in doc, name


def test_record_json_holds_every_field(two_runs) -> None:
    run_dir, _ = two_runs[0]
    record = json.loads((run_dir / "record.json").read_text())
    record_schema.TestRecord.model_validate(record)
    assert (record["schema"], record["schema_version"], record["kind"]) == \
        ("rig-test-record", 1, "certification")
    assert ISO_WITH_ZONE.match(record["started"]) and ISO_WITH_ZONE.match(record["finished"])
    assert record["finished"] >= record["started"] and record["duration_s"] > 0
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert record["rig"]["version"] == rig.__version__
    assert record["rig"]["git_revision"] == head
    assert isinstance(record["rig"]["git_dirty"], bool)
    assert record["station"]["id"] == "emulated-bench"
    assert record["station"]["bench_kind"] == "emulated"
    assert record["operator"] == OPERATOR
    tests = record["tests"]
    expected = {(p, t.removeprefix("test_").replace("_", " ")) for p in available_profiles()
                for t in TESTS}
    assert {(t["profile"], t["requirement"]) for t in tests} == expected
    assert record["totals"] == {"tests": len(expected), "pass": len(expected), "fail": 0,
                                "error": 0, "skipped": 0}
    for test in tests:
        profile = load_profile(test["profile"])
        dut = test["dut"]
        assert dut["profile"] == profile.name
        note = " (SM4 in place of SM1 (docs/esam.md))" if profile.card.format == "esam-cpu" else ""
        assert dut["meter_model"] == f"{profile.identity.maker} {profile.identity.model}{note}"
        assert dut["firmware"] == profile.identity.firmware
        assert dut["serial"] == "EMULATED"
        assert re.fullmatch(r"\d{12}", dut["address"])
        assert dut["profile_sha256"] == hashlib.sha256(
            (REPO / "rig" / "data" / "meter_profiles" / f"{profile.name}.toml")
            .read_bytes()).hexdigest()
        inst = test["instruments"]
        assert len(inst["load"]["idn"].split(",")) == 4  # IEEE 488.2 *IDN? reply
        assert inst["load"]["resource"].startswith("TCPIP0::127.0.0.1::")
        # rig's own virtual reader ("rig vreader …") or a vsmartcard one: Debian's own
        # ("Virtual PCD …") or one setup.sh adds ("rig vpcd …")
        assert inst["card_reader"]["name"].startswith(("rig vreader", "Virtual PCD", "rig vpcd"))
        assert re.fullmatch(r"3B[0-9A-F]+", inst["card_reader"]["atr"])
        port = inst["meter_port"]
        assert port["port"].startswith("/dev/pts/")
        assert (port["baudrate"], port["bytesize"], port["parity"], port["stopbits"]) == \
            (profile.protocol.serial.baudrate, 8, "N", 1)
        assert test["billing"]["kind"] == "sqlite"
        assert test["billing"]["url"].endswith("billing.sqlite")
        assert ISO_WITH_ZONE.match(test["started"]) and test["outcome"] == "pass"
        assert test["operator"] == OPERATOR
        assert test["measurements"]
        for m in test["measurements"]:
            assert {"step", "name", "value", "unit", "limit", "limits", "verdict",
                    "basis"} <= set(m)
            assert m["verdict"] in ("pass", "recorded")
            assert (m["limit"] is None) == (m["verdict"] == "recorded")
        names = {e["name"] for e in test["evidence"]}
        assert {"meter serial transcript", "card APDU trace (secrets redacted)",
                "load SCPI log"} <= names
        assert all((run_dir / e["file"]).is_file() for e in test["evidence"])


def test_emulated_meter_address_is_stable_per_profile(two_runs) -> None:
    addresses = []
    for run_dir, _ in two_runs:
        record = json.loads((run_dir / "record.json").read_text())
        addresses.append({(t["profile"], t["requirement"]): t["dut"]["address"]
                          for t in record["tests"]})
        per_profile: dict[str, set[str]] = {}
        for (profile, _), address in addresses[-1].items():
            per_profile.setdefault(profile, set()).add(address)
        assert all(len(a) == 1 for a in per_profile.values())  # one worker: one address
        assert len({a for s in per_profile.values() for a in s}) == len(per_profile)
    assert addresses[0] == addresses[1]


def test_junit_carries_each_measurement(two_runs) -> None:
    run_dir, _ = two_runs[0]
    record = json.loads((run_dir / "record.json").read_text())
    cases = {c.get("name"): c for c in ET.parse(run_dir / "junit.xml").iter("testcase")}
    for test in record["tests"]:
        case = cases[test["id"].split("::")[-1]]
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        for m in test["measurements"]:
            title = props[f"measurement: {m['step']} / {m['name']}"]
            assert title.endswith(f"| limit {m['limits']} | {m['verdict']}")
        assert props["profile_sha256"] == test["dut"]["profile_sha256"]


def test_summary_page_and_terminal_show_every_test_of_every_profile(two_runs) -> None:
    run_dir, output = two_runs[0]
    page = (run_dir / "certification.html").read_text()
    total = len(TESTS) * len(available_profiles())
    assert f"{total} tests: {total} passed, 0 failed, 0 errors" in page
    assert OPERATOR in page and rig.__version__ in page
    for profile in available_profiles():
        for test in TESTS:
            requirement = test.removeprefix("test_").replace("_", " ")
            assert f"<td>{profile}</td><td><a href=" in page
            assert requirement in page
            row = re.search(rf"passed\s+{re.escape(profile)}\s+{test}\b", output)
            assert row is not None, (profile, test, output[-3000:])
    assert f"{total} tests" in output and f"passed: {total}" in output
