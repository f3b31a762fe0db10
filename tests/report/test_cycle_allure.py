"""`rig run`'s own Allure result (rig.report.writer): its identity is the test, the meter
profile and the station, never a measured value; measurements are steps with their limits."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from rig.report.provenance import billing_description
from rig.report.record import RunRecord
from rig.report.writer import write_allure


def _run(directory: Path, *, profile: str, station: str, measured: Decimal) -> dict:
    record = RunRecord("prepaid cycle", identity={"meter_profile": profile,
                                                  "station_id": station})
    with record.step("load on: consume to alarm"):
        record.measure("alarm 1 observed after", measured, "h", low=Decimal("2.30"),
                       high=Decimal("2.43"))
        record.measure("meter display", "credit applied")
    record.close()
    write_allure(record, directory)
    (path,) = sorted(directory.glob("*-result.json"), key=lambda p: p.stat().st_mtime_ns)[-1:]
    result = json.loads(path.read_text())
    path.unlink()
    return result


def test_history_id_is_test_profile_and_station_not_values(tmp_path: Path) -> None:
    first = _run(tmp_path, profile="dlt645-1p-money", station="bench-1", measured=Decimal("2.36"))
    again = _run(tmp_path, profile="dlt645-1p-money", station="bench-1", measured=Decimal("2.41"))
    other_profile = _run(tmp_path, profile="iec62056-1p-energy", station="bench-1",
                         measured=Decimal("2.36"))
    other_bench = _run(tmp_path, profile="dlt645-1p-money", station="bench-2",
                       measured=Decimal("2.36"))
    assert first["historyId"] == again["historyId"]
    assert len({first["historyId"], other_profile["historyId"], other_bench["historyId"]}) == 3
    assert first["historyId"] != "prepaid cycle"
    (phase,) = first["steps"]
    assert [s["name"] for s in phase["steps"]] == [
        "alarm 1 observed after: 2.36 h | limit [2.30, 2.43] | pass",
        "meter display: credit applied | limit recorded, no limit | recorded"]
    labels = {(label["name"], label["value"]) for label in first["labels"]}
    assert {("epic", "cycle"), ("feature", "prepaid cycle"), ("story", "prepaid cycle"),
            ("severity", "critical")} <= labels
    assert {p["name"] for p in first["parameters"]} == {"meter profile", "station"}


def test_billing_centre_is_recorded_without_credentials() -> None:
    served = billing_description("https://lab:s3cret@centre.lab:8443/api?token=t0ken")
    assert served == {"kind": "served", "url": "https://centre.lab:8443/api"}
    pg = billing_description("postgresql+psycopg://rig:pw-123@db.lab/rig?password=x")
    assert pg == {"kind": "postgresql", "url": "postgresql+psycopg://db.lab/rig"}
    assert billing_description("sqlite:////srv/rig/billing.sqlite") == \
        {"kind": "sqlite", "url": "sqlite:////srv/rig/billing.sqlite"}
