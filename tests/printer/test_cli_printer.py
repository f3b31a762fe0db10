"""`rig billing vend --printer` and `reprint --printer` at a terminal, on the emulated printer's
real TCP port: the receipt on paper, a fault said in one line with the sale kept."""

from __future__ import annotations

from rig.billing import open_billing
from rig.printer.escpos_receipt import vend_lines
from rig.sim.emulated_printer import EmulatedPrinter
from tests.billing.test_cli_billing import METER, db, ready, rig  # noqa: F401  (fixtures)


def sell(database: str, url: str) -> object:
    return rig("vend", METER, "20.00", "--station", "DESK-1", "--as", "carol",
               "--request-id", "cli-1", "--db", database, "--printer", url)


def test_vend_and_reprint_print_on_the_printer(ready: str,  # noqa: F811
                                               printer: EmulatedPrinter) -> None:
    done = sell(ready, printer.url)
    assert done.exit_code == 0, done.output
    assert f"receipt printed on {printer.url}" in done.stderr
    (paper,) = printer.received()
    with open_billing(ready) as c:
        (v,) = c.vends_for_meter(METER)
    assert paper.lines == [line.rstrip() for line in vend_lines(v, 48)]

    printer.set_state(cover_open=True)
    failed = rig("reprint", "1", "--as", "carol", "--db", ready, "--printer", printer.url)
    assert failed.exit_code == 0, failed.output
    assert "the receipt did not print" in failed.stderr and "cover open" in failed.stderr
    printer.set_state(cover_open=False)
    again = rig("reprint", "1", "--as", "carol", "--db", ready, "--printer", printer.url)
    assert again.exit_code == 0, again.output
    assert "*** REPRINT 2 ***" in [line.strip() for line in printer.received()[-1].lines]
    with open_billing(ready) as c:
        actions = [e.action for e in c.audit_log("vend") if e.action.startswith("vend.print")]
    assert actions == ["vend.print", "vend.print_failed", "vend.print"]


def test_a_vend_whose_receipt_cannot_print_is_still_sold(
        ready: str, printer: EmulatedPrinter) -> None:  # noqa: F811
    printer.set_state(paper_out=True)
    done = sell(ready, printer.url)
    assert done.exit_code == 0, done.output  # the sale happened
    assert "the receipt did not print" in done.stderr and "out of paper" in done.stderr
    assert f"rig billing reprint 1 --printer {printer.url}" in done.stderr
    assert "PREPAID ENERGY RECEIPT" in done.stdout  # the terminal still shows it
    assert printer.received() == []
    with open_billing(ready) as c:
        (v,) = c.vends_for_meter(METER)
    assert (v.request_id, v.status.value) == ("cli-1", "created")


def test_a_bad_printer_option_is_one_line(ready: str) -> None:  # noqa: F811
    done = rig("vend", METER, "20.00", "--station", "DESK-1", "--as", "carol",
               "--db", ready, "--printer", "tcp://127.0.0.1:9", "--paper-mm", "70")
    assert done.exit_code == 2
    assert "--paper-mm 70: a receipt roll is 80 or 58 mm wide" in done.output
    assert "Traceback" not in done.output
    bad_page = rig("vend", METER, "20.00", "--station", "DESK-1", "--as", "carol",
                   "--db", ready, "--printer", "tcp://127.0.0.1:9", "--code-page", "CP9999")
    assert bad_page.exit_code == 2
    assert "--code-page 'CP9999': 'CP9999' is not a code page" in bad_page.output
    with open_billing(ready) as c:
        assert c.vends_for_meter(METER) == []  # refused before anything was sold


def test_cash_up_prints_on_the_roll(ready: str, printer: EmulatedPrinter) -> None:  # noqa: F811
    from decimal import Decimal

    with open_billing(ready) as c:
        shift = c.open_session_of("carol")  # the fixture's shift, float 50.00
        assert shift is not None
        c.vend(METER, Decimal("20.00"), request_id="cash-1", station="DESK-1",
               operator="carol")
        c.close_session(shift.session_id, operator="carol", counted_cash=Decimal("69.50"))
    done = rig("report", "cash-up", "--db", ready, "--printer", printer.url)
    assert done.exit_code == 0, done.output
    assert f"printed on {printer.url}" in done.stderr
    (paper,) = printer.received()
    assert max(len(line) for line in paper.lines) <= 48
    text = "\n".join(paper.lines)
    for value in ("carol", "DESK-1", "50.00", "20.00", "69.50", "-0.50"):
        assert value in text, value
    assert paper.lines[0].strip() == "CASHIER CASH-UP"
    assert done.stdout == ""  # printed instead of the CSV
