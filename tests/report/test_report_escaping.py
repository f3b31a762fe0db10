"""Every HTML report is rendered from a Jinja template with autoescaping: a meter, model or
customer name holding markup shows as text and never runs in the reader's browser."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rig.billing.reports.model import Report
from rig.billing.reports.render import to_html
from rig.report.certification import result_from_record, write_run_record, write_summary
from rig.report.record import RunRecord
from rig.report.writer import write_report

EVIL = "<script>alert('pwned')</script>"
SHOWN = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"


def _run(name: str) -> RunRecord:
    run = RunRecord(name, identity={"meter_profile": EVIL, "station_id": EVIL},
                    phases=["read meter"])
    run.context = {"dut": {"meter_model": EVIL, "serial": EVIL, "address": "000000001001"}}
    with run.step("read meter"):
        run.measure(f"credit of {EVIL}", Decimal("1.50"), "CNY", low=Decimal(0),
                    description=EVIL)
        run.attach(f"transcript {EVIL}", EVIL)
    run.summary["meter"] = EVIL
    run.close()
    return run


def test_run_report_shows_a_meter_name_with_markup_as_text(tmp_path: Path) -> None:
    page = write_report(_run(f"cycle of {EVIL}"), tmp_path / "run").read_text()
    assert "<script>" not in page
    assert page.count(SHOWN) >= 6  # title, heading, summary, DUT, measurement, transcript
    assert "<tr><td>credit of " + SHOWN + "</td><td>1.50 CNY</td><td>&gt;= 0</td>" in page


def test_certification_summary_shows_a_meter_model_with_markup_as_text(tmp_path: Path) -> None:
    result = result_from_record(EVIL, "credit", "pass", _run(EVIL), EVIL,
                                evidence_root=tmp_path)
    data = write_run_record([result], tmp_path / "record.json", started=0.0)
    page = write_summary([result], tmp_path / "certification.html", data).read_text()
    assert "<script>" not in page
    assert f"<tr><td>{SHOWN}</td><td><a href=" in page  # the overview row's profile
    assert f"<h2>{SHOWN} <small>({SHOWN})</small>: 1/1 passed</h2>" in page  # model heading
    assert "1 tests: 1 passed, 0 failed" in page


def test_billing_report_shows_a_customer_name_with_markup_as_text() -> None:
    report = Report(name="sales", title=f"Sales of {EVIL}", subtitle=EVIL,
                    columns=("customer", "amount"), rows=((EVIL, Decimal("12.30")),),
                    generated_at=datetime(2026, 3, 4, 8, 0, tzinfo=UTC),
                    notes=(EVIL,))
    page = to_html(report)
    assert "<script>" not in page
    assert f"<td>{SHOWN}</td>" in page and '<td class="num">12.30</td>' in page
    assert page.count(SHOWN) == 5  # title, heading, subtitle, note, cell
