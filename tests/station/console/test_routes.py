"""The console's routes without a browser: login and CSRF, roles enforced on the server,
the sale → card → receipt → cash-up path, agents, reports, audit, and the error paths."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, VendStatus
from rig.billing.types import ReconciliationResult, VendResult
from rig.station.console import queries

from .conftest import (
    LOGIN_TOKEN,
    METER,
    PASSWORDS,
    STATION,
    csrf_of,
    login,
    make_client,
    open_shift,
)


def sell(client: TestClient, csrf: str, amount: str = "20.00") -> str:
    """Preview then confirm a sale; returns the vend page HTML."""
    preview = client.post("/vend/preview", data={"csrf": csrf, "meter_no": METER,
                                                 "amount": amount})
    assert "Receipt preview" in preview.text, preview.text
    rid = preview.text.split('name="request_id" value="')[1].split('"')[0]
    return client.post("/vend/confirm", data={"csrf": csrf, "meter_no": METER,
                                              "amount": amount, "request_id": rid}).text


# -- login, logout, CSRF ---------------------------------------------------------------------

def test_pages_need_a_login_and_return_there_after_it(client: TestClient) -> None:
    r = client.get(f"/meters/{METER}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/meters/{METER}"
    page = client.get(r.headers["location"])
    token = LOGIN_TOKEN.search(page.text).group(1)
    r = client.post("/login", data={"name": "carol", "password": PASSWORDS["carol"],
                                    "login_token": token, "next": f"/meters/{METER}"},
                    follow_redirects=False)
    assert r.headers["location"] == f"/meters/{METER}"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_login_refuses_wrong_passwords_foreign_forms_and_offsite_redirects(
        client: TestClient, centre: BillingCentre, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
    r = client.post("/login", data={"name": "carol", "password": "not-her-password",
                                    "login_token": token})
    assert r.status_code == 401 and "Name or password is wrong" in r.text
    assert client.get("/", follow_redirects=False).status_code == 303
    r = client.post("/login", data={"name": "carol", "password": PASSWORDS["carol"],
                                    "login_token": "forged"})
    assert r.status_code == 403 and "expired" in r.text
    token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
    for offsite in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        client.cookies.clear()
        token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
        r = client.post("/login", data={"name": "carol", "password": PASSWORDS["carol"],
                                        "login_token": token, "next": offsite},
                        follow_redirects=False)
        assert r.headers["location"] == "/"
    trail = repr(centre.audit_log()) + caplog.text
    assert "not-her-password" not in trail and PASSWORDS["carol"] not in trail


def test_every_form_needs_this_sessions_csrf_token(centre: BillingCentre) -> None:
    carol, sam = make_client(centre), make_client(centre)
    carol_csrf, sam_csrf = login(carol, "carol"), login(sam, "sam")
    for data in ({}, {"csrf": ""}, {"csrf": "x" * 43}, {"csrf": sam_csrf}):
        r = carol.post("/session/open", data={**data, "opening_float": "10.00"})
        assert r.status_code == 403 and "Nothing was done" in r.text
    assert "No session open" in carol.get("/session").text
    r = carol.post("/logout", data={"csrf": sam_csrf})
    assert r.status_code == 403
    assert carol.get("/", follow_redirects=False).status_code == 200
    r = carol.post("/logout", data={"csrf": carol_csrf})
    assert "You have logged out" in r.text
    assert carol.get("/", follow_redirects=False).status_code == 303


# -- roles -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/supervisor", "/supervisor/sessions", "/reports",
                                  "/reports/daily-sales.csv", "/audit", "/agents",
                                  "/admin/operators", "/supervisor/exceptions"])
def test_a_cashier_is_refused_supervisor_pages(client: TestClient, path: str) -> None:
    login(client, "carol")
    r = client.get(path)
    assert r.status_code == 403
    assert "You are logged in as carol (cashier)" in r.text
    assert "Only an administrator" in r.text


def test_a_cashier_cannot_reverse_even_by_posting_directly(
        client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    sell(client, csrf)
    vend = centre.vends_for_meter(METER)[0]
    r = client.post(f"/supervisor/vends/{vend.vend_id}/reverse",
                    data={"csrf": csrf, "reason": "I want to"})
    assert r.status_code == 403 and "supervisor" in r.text
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED
    r = client.post("/agents", data={"csrf": csrf, "name": "X"})
    assert r.status_code == 403 and centre.list_agents() == []


def test_a_supervisor_may_not_administer(client: TestClient) -> None:
    csrf = login(client, "sam")
    assert client.get("/reports").status_code == 200
    r = client.post("/admin/operators", data={"csrf": csrf, "name": "eve", "role":
                                              "administrator", "password": "eve-password"})
    assert r.status_code == 403


# -- selling ---------------------------------------------------------------------------------

def test_sale_needs_an_open_session(client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    r = client.post("/vend/preview", data={"csrf": csrf, "meter_no": METER, "amount": "20"})
    assert "Open your cashier session first" in r.text
    assert centre.vends_for_meter(METER) == []


@pytest.mark.parametrize(("amount", "says"), [
    ("12.345", "at most two decimals"), ("abc", "is not an amount of money"),
    ("-5", "is not an amount of money"), ("", "Enter the amount"),
    ("0", "must be more than zero"), ("20000", "largest sale allowed"),
    ("20.0e1", "is not an amount of money")])
def test_bad_amounts_are_explained_and_sell_nothing(
        client: TestClient, centre: BillingCentre, amount: str, says: str) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    for path in ("/vend/preview", "/vend/confirm"):
        r = client.post(path, data={"csrf": csrf, "meter_no": METER, "amount": amount,
                                    "request_id": "r-1"})
        assert says in r.text, r.text
    assert centre.vends_for_meter(METER) == []


def test_preview_shows_every_component_and_confirm_sells_once(
        client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    preview = client.post("/vend/preview", data={"csrf": csrf, "meter_no": METER,
                                                 "amount": "20,00"})
    for text in ("fixed monthly charge", "VAT 15%", "15.65", "2.34", "2.00",
                 "Credit for the card: 15.65", "Take 20.00 and sell"):
        assert text in preview.text
    assert centre.vends_for_meter(METER) == []
    rid = preview.text.split('name="request_id" value="')[1].split('"')[0]
    form = {"csrf": csrf, "meter_no": METER, "amount": "20.00", "request_id": rid}
    first = client.post("/vend/confirm", data=form)
    again = client.post("/vend/confirm", data=form)  # a double submit
    assert "to be written" in first.text and "to be written" in again.text
    [vend] = centre.vends_for_meter(METER)
    assert vend.amount == Decimal("20.00") and vend.credit == 1565
    home = client.get("/").text
    assert "To be written (1)" in home and f"/vends/{vend.vend_id}" in home


def test_a_refused_sale_says_why_in_cashier_words(client: TestClient,
                                                  centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    sell(client, csrf)
    r = client.post("/vend/preview", data={"csrf": csrf, "meter_no": METER, "amount": "5"})
    assert "has not reached the meter yet" in r.text
    centre.set_meter_status(METER, "blocked")
    r = client.post("/vend/preview", data={"csrf": csrf, "meter_no": "999999999999",
                                           "amount": "5"})
    assert r.status_code == 404 and "not registered" in r.text


class Writer:
    """A card writer that fails like a card pulled out of the reader, then works."""

    reader_name = "test reader"

    def __init__(self, centre: BillingCentre, failures: list[str]) -> None:
        self.centre, self.failures, self.written = centre, failures, []

    def write_vend(self, vend: VendResult) -> None:
        from rig.station.console.writer import WriteProblem

        if self.failures:
            raise WriteProblem(self.failures.pop(0), retry=True)
        self.centre.mark_written(vend.vend_id)
        self.written.append(vend.vend_id)

    def personalise(self, card_serial: str, meter_no: str, key_revision: int) -> None:
        raise AssertionError("not used")

    def upload_readback(self) -> ReconciliationResult:
        raise AssertionError("not used")


def test_a_failed_card_write_keeps_the_sale_to_be_written_until_retried(
        centre: BillingCentre) -> None:
    writer = Writer(centre, ["Card removed — retry: put the card back."])
    client = make_client(centre, writer)
    csrf = login(client, "carol")
    open_shift(client, csrf)
    sell(client, csrf)
    [vend] = centre.vends_for_meter(METER)
    r = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": csrf})
    assert "Card removed — retry" in r.text and "kept as “to be written”" in r.text
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.CREATED
    assert "To be written (1)" in client.get("/").text
    r = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": csrf})
    assert f"Card {vend.card_serial} written" in r.text
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN
    assert "To be written (0)" in client.get("/").text
    r = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": csrf})
    assert "nothing to write" in r.text and writer.written == [vend.vend_id]


def test_without_a_card_writer_the_console_says_so(client: TestClient,
                                                   centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    sell(client, csrf)
    [vend] = centre.vends_for_meter(METER)
    r = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": csrf})
    assert "no card writer" in r.text
    r = client.post(f"/meters/{METER}/readback", data={"csrf": csrf})
    assert "no card reader" in r.text


def test_receipt_pdf_and_counted_reprints(client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf)
    sell(client, csrf)
    [vend] = centre.vends_for_meter(METER)
    pdf = client.get(f"/vends/{vend.vend_id}/receipt.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert b"PREPAID ENERGY RECEIPT" in pdf.content and b"REPRINT" not in pdf.content
    reprint = client.post(f"/vends/{vend.vend_id}/reprint", data={"csrf": csrf})
    assert reprint.headers["content-type"] == "application/pdf"
    assert b"REPRINT 1" in reprint.content
    assert [e.action for e in centre.audit_log("vend")].count("vend.reprint") == 1


def test_cash_up_compares_the_counted_drawer_exactly(client: TestClient,
                                                     centre: BillingCentre) -> None:
    csrf = login(client, "carol")
    open_shift(client, csrf, "50.00")
    sell(client, csrf, "20.00")
    assert "70.00" in client.get("/session").text
    r = client.post("/session/close", data={"csrf": csrf, "counted_cash": "69.50"})
    assert "Cash-up of session" in r.text
    expected = r.text.split('id="expected">')[1].split("<")[0]
    over_short = r.text.split('id="over-short">')[1].split("<")[0]
    assert (expected, over_short) == ("70.00", "-0.50")
    assert "does not match" in r.text
    assert "No session open" in client.get("/session").text


def test_supervisor_reverses_with_a_reason(centre: BillingCentre) -> None:
    carol, sam = make_client(centre), make_client(centre)
    c_csrf = login(carol, "carol")
    open_shift(carol, c_csrf)
    sell(carol, c_csrf)
    [vend] = centre.vends_for_meter(METER)
    s_csrf = login(sam, "sam")
    assert f"reverse-{vend.vend_id}" in sam.get("/supervisor").text
    r = sam.post(f"/supervisor/vends/{vend.vend_id}/reverse", data={"csrf": s_csrf,
                                                                    "reason": " "})
    assert "Enter the reason" in r.text
    r = sam.post(f"/supervisor/vends/{vend.vend_id}/reverse",
                 data={"csrf": s_csrf, "reason": "customer changed mind"})
    assert "hand back 20.00" in r.text
    assert centre.vend_by_id(vend.vend_id).status is VendStatus.REVERSED
    assert "To be written (0)" in carol.get("/").text


def test_supervisor_free_issue_parameters_and_card_replacement(
        client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "sam")
    r = client.post("/supervisor/parameters", data={"csrf": csrf, "meter_no": METER,
                                                    "alarm1": "500", "alarm2": ""})
    assert "{&#39;alarm1&#39;: 500}" in r.text or "alarm1" in r.text
    assert centre.pending_parameters(METER) == {"alarm1": 500}
    r = client.post("/supervisor/free-issue", data={"csrf": csrf, "meter_no": METER,
                                                    "credit": "12.5", "reason": "x"})
    assert "whole number" in r.text
    r = client.post("/supervisor/free-issue", data={"csrf": csrf, "meter_no": METER,
                                                    "credit": "300", "reason": "outage"})
    assert "Free issue of 300 recorded" in r.text and "to be written" in r.text
    r = client.post("/supervisor/replace-card", data={"csrf": csrf, "meter_no": METER,
                                                      "card_serial": "card-43",
                                                      "reason": "lost"})
    assert "New card CARD-43 registered" in r.text and "1 unconfirmed sale(s) moved" in r.text
    [free] = centre.vends_for_meter(METER)
    assert free.card_serial == "CARD-43" and free.status is VendStatus.CREATED


def test_agent_float_top_up_statement_and_refusal(client: TestClient,
                                                  centre: BillingCentre) -> None:
    admin = make_client(centre)
    a_csrf = login(admin, "ada")
    admin.post("/agents", data={"csrf": a_csrf, "name": "Corner Shop", "credit_limit": "5"})
    admin.post("/agents/Corner Shop/stations", data={"csrf": a_csrf, "station": STATION})
    r = admin.post("/agents/Corner Shop/topup", data={"csrf": a_csrf, "amount": "10.00",
                                                      "reference": "cash R-1"})
    assert "now has 15.00 available" in r.text
    csrf = login(client, "carol")
    open_shift(client, csrf)
    r = client.post("/vend/preview", data={"csrf": csrf, "meter_no": METER, "amount": "20"})
    assert "prepaid float is used up" in r.text and "15.00 available" in r.text
    sell(client, csrf, "12.00")
    statement = admin.get("/agents/Corner Shop").text
    assert 'id="available">3.00<' in statement and "-12.00" in statement
    assert "cash R-1" in statement


def test_reports_with_csv_and_the_audit_page(client: TestClient, centre: BillingCentre) -> None:
    carol = make_client(centre)
    c_csrf = login(carol, "carol")
    open_shift(carol, c_csrf)
    sell(carol, c_csrf, "20.00")
    login(client, "sam")
    today = centre.now().date().isoformat()
    page = client.get(f"/reports?name=daily-sales&start={today}&end={today}")
    assert page.status_code == 200 and "Daily sales" in page.text and "20.00" in page.text
    csv = client.get(f"/reports/daily-sales.csv?start={today}&end={today}")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "day,station,vends,free_issues,cash,bank,total"
    assert f"{today},{STATION},1,0,20.00,0.00,20.00" in csv.text
    bad = client.get("/reports?name=daily-sales&start=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.text
    for name in ("cash-up", "consumption", "arrears", "exceptions", "stale-meters"):
        assert client.get(f"/reports?name={name}").status_code == 200
    audit = client.get("/audit?actor=carol")
    assert "Chain verified" in audit.text and "vend.create" in audit.text
    assert "meter.register" not in audit.text  # that was the system, not carol


def test_broken_audit_chain_is_reported(client: TestClient, centre: BillingCentre) -> None:
    from sqlalchemy import text

    login(client, "sam")
    with centre.engine.begin() as conn:  # tamper below the triggers, as an intruder would
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    page = client.get("/audit").text
    assert "Chain BROKEN at event 3" in page


def test_administrator_adds_an_operator_who_can_then_log_in(
        client: TestClient, centre: BillingCentre) -> None:
    csrf = login(client, "ada")
    r = client.post("/admin/operators", data={"csrf": csrf, "name": "dave", "role": "cashier",
                                              "password": "short"})
    assert "at least 8" in r.text
    assert "dave" not in [n for n, _, _ in queries.operators(centre)]
    client.post("/admin/operators", data={"csrf": csrf, "name": "dave", "role": "cashier",
                                          "password": "dave-password"})
    assert centre.authenticate("dave", "dave-password") is not None
    assert csrf_of(client.get("/admin/operators").text)


def test_bank_payments_waiting_for_the_customer_are_shown_and_vended(
        client: TestClient, centre: BillingCentre, tmp_path) -> None:
    from rig.billing.bank import import_statement
    from rig.billing.currency import set_centre_currency

    set_centre_currency(centre, "EUR")
    statement = tmp_path / "bank.csv"
    statement.write_text("entry_ref,booking_date,amount,currency,reference\n"
                         f"E-1,2024-03-01,30.00,EUR,power {METER}\n", encoding="utf-8")
    import_statement(centre, statement)
    csrf = login(client, "carol")
    page = client.get(f"/meters/{METER}").text
    assert "€30.00 booked 2024-03-01" in page
    rid = page.split('name="request_id" value="')[1].split('"')[0]
    r = client.post(f"/meters/{METER}/bank-vend", data={"csrf": csrf, "request_id": rid})
    assert "Bank payments of €30.00 vended" in r.text and "to be written" in r.text
    [vend] = centre.vends_for_meter(METER)
    assert vend.amount == Decimal("30.00")
    r = client.post(f"/meters/{METER}/bank-vend", data={"csrf": csrf, "request_id": "other"})
    assert "No bank payment is waiting" in r.text


def test_mounted_beside_another_app_every_link_keeps_the_mount_path(
        centre: BillingCentre) -> None:
    from fastapi import FastAPI

    from rig.station.console import create_console_app

    parent = FastAPI()
    parent.mount("/console", create_console_app(centre, station=STATION,
                                                secure_cookies=False))
    client = TestClient(parent, base_url="http://127.0.0.1")
    r = client.get("/console/supervisor", follow_redirects=False)
    assert r.headers["location"] == "/console/login?next=/supervisor"
    page = client.get(r.headers["location"]).text
    assert 'action="/console/login"' in page
    token = LOGIN_TOKEN.search(page).group(1)
    r = client.post("/console/login", data={"name": "sam", "password": PASSWORDS["sam"],
                                            "login_token": token, "next": "/supervisor"},
                    follow_redirects=False)
    assert r.headers["location"] == "/console/supervisor"
    page = client.get("/console/supervisor").text
    assert "Unconfirmed sales" in page and 'href="/console/reports"' in page


def test_repeated_wrong_passwords_lock_the_name_for_a_while(
        client: TestClient, centre: BillingCentre) -> None:
    from rig.station.console.sessions import LoginThrottle

    now = [1000.0]
    console_state = client.app.state.console  # type: ignore[attr-defined]
    console_state.throttle = LoginThrottle(max_failures=3, lockout_s=300, clock=lambda: now[0])

    def attempt(password: str) -> int:
        client.cookies.clear()
        token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
        return client.post("/login", data={"name": "carol", "password": password,
                                           "login_token": token},
                           follow_redirects=False).status_code

    assert [attempt("guess-number-1"), attempt("guess-number-2")] == [401, 401]
    assert attempt(PASSWORDS["carol"]) == 303  # success clears the count
    assert [attempt(f"guess-{i}-xxxx") for i in range(3)] == [401, 401, 401]
    assert attempt(PASSWORDS["carol"]) == 429  # locked, even with the right password
    now[0] += 299
    assert attempt(PASSWORDS["carol"]) == 429
    now[0] += 2
    assert attempt(PASSWORDS["carol"]) == 303
    client.cookies.clear()
    token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"name": "sam", "password": PASSWORDS["sam"],
                                       "login_token": token},
                       follow_redirects=False).status_code == 303  # other names unaffected
