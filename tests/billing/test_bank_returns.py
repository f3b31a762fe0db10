"""Bank returns and reversals as a back office handles them, through the real `rig` command and
the statement files in fixtures/bank (camt.053.001.02 and .001.08 written from the ISO 20022
schema): a returned collection is no longer vendable, a returned or reversed payment already
vended becomes a debt, the exceptions report lists each with its reason code, the ledger stays
balanced, and importing a statement again changes nothing. Also the centre's currency."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.billing import open_billing
from rig.billing.bank import Creditor, export_debits, payments, register_mandate
from rig.billing.currency import set_centre_currency
from rig.cli.main import app
from tests.billing.ledger import T0, Clock, add_meter, readback

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
FIX = Path(__file__).parents[2] / "fixtures" / "bank"
M200, M201, M202 = "000000000200", "000000000201", "000000000202"
CREDITOR = Creditor("Prepaid Power Utility", "DE89370400440532013000", "COBADEFFXXX",
                    "DE98ZZZ09999999999")


def rig(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``rig billing ...`` as an operator types it, run in this process (a new interpreter per
    command paid its imports, about 2 s each, 18 times here; the command as a subprocess is
    test_cli_billing's test_rig_billing_as_a_subprocess_uses_the_env_database)."""
    done = CliRunner().invoke(app, ["billing", *args, "--db", db],
                              env={"COLUMNS": "250", "RIG_BILLING_PASSWORD": None,
                                   "RIG_BILLING_TOKEN": None, "RIG_BILLING_OPERATOR": None})
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


@pytest.fixture
def db(billing_url) -> str:
    return seed(billing_url)


@pytest.fixture
def sqlite_db(tmp_path) -> str:
    """For what does not depend on the backend (the CLI's currency checks)."""
    return seed(f"sqlite:///{tmp_path / 'billing.sqlite'}")


def seed(url: str) -> str:
    """Three customers; ACC-200 and ACC-202 on auto-payment, collected on 2024-03-05."""
    with open_billing(url, clock=Clock(datetime(2024, 3, 6, 9, tzinfo=UTC))) as c:
        c.create_tariff("RES", Decimal("0.20"), T0)
        c.register_station("DESK-1")
        c.register_operator("carol", "cashier")
        c.register_operator("sam", "supervisor")
        c.register_operator("ann", "administrator")
        add_meter(c, M200, account="ACC-200", name="Ada Lovelace")
        add_meter(c, M201, account="ACC-201", name="Charles Babbage")
        add_meter(c, M202, account="ACC-202", name="Grace Hopper")
        register_mandate(c, "ACC-200", mandate_ref="MNDT-200", iban="DE89370400440532013000",
                         signed_on=date(2024, 1, 10), amount=Decimal("25.00"))
        register_mandate(c, "ACC-202", mandate_ref="MNDT-202", iban="GB82WEST12345698765432",
                         signed_on=date(2024, 1, 10), amount=Decimal("30.00"))
    return url


def status(c, entry_ref: str) -> str:
    return next(p.status for p in payments(c) if p.entry_ref == entry_ref)


def ledger_state(c) -> tuple:
    return (payments(c), c.debts(M200), c.debts(M202), len(c.audit_log()),
            c.vends_for_meter(M200), c.vends_for_meter(M202))


def exceptions_csv(db: str) -> list[dict[str, str]]:
    done = rig(db, "report", "exceptions")
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_returned_collections_and_reversed_transfer_leave_the_ledger_balanced(db,
                                                                              tmp_path) -> None:
    assert rig(db, "bank", "currency", "EUR", "--as", "ann").returncode == 0
    with open_billing(db) as c:
        export_debits(c, tmp_path / "dd.xml", creditor=CREDITOR, collection_date=date(2024, 3, 5))

    # 001.02: the collections (one batch entry, two TxDtls) and, on the same statement, the
    # return of ACC-202's with reason AM04; a fee; an entry the bank has not booked yet.
    done = rig(db, "bank", "import", str(FIX / "camt053_v02.xml"))
    assert done.returncode == 0, done.stderr
    done = rig(db, "bank", "import", str(FIX / "camt053_v02_returns.xml"))
    assert done.returncode == 0, done.stderr
    assert "1 return(s)/reversal(s)" in done.stdout and "LATE-20240306" in done.stdout
    with open_billing(db, clock=Clock(datetime(2024, 3, 6, 12, tzinfo=UTC))) as c:
        assert status(c, "DD-20240305-1") == "pending"
        assert status(c, "DD-20240305-2") == "returned"  # no longer vendable
        assert status(c, "RET-20240306-1") == "applied"
        assert "LATE-20240306" not in {p.entry_ref for p in payments(c)}
        assert c.debts(M202) == []  # never vended: nothing owed
        # the card is presented: ACC-202's returned collection buys nothing (only the 5.00
        # of BANK-REF-0005/1) ...
        grace = c.vend_pending_payments(M202, request_id="g1", station="DESK-1",
                                        operator="carol")
        assert grace is not None and grace.amount == Decimal("5.00")
        # ... ACC-200's transfer (BANK-REF-0001) and collection are vended, once
        sale = c.vend_pending_payments(M200, request_id="a1", station="DESK-1",
                                       operator="carol")
        assert sale is not None and sale.amount == Decimal("45.00")
        readback(c, M200)

    # 001.08: Ada's transfer reversed (RvslInd, matched by reference and amount), her
    # collection returned MD06 (matched by mandate and amount), an unknown return (AC04),
    # the fee reversed (a CRDT with RvslInd: not a customer's money), a new transfer.
    done = rig(db, "bank", "import", str(FIX / "camt053_v08_returns.xml"))
    assert done.returncode == 0, done.stderr
    assert "3 return(s)/reversal(s)" in done.stdout
    with open_billing(db, clock=Clock(datetime(2024, 3, 8, 9, tzinfo=UTC))) as c:
        assert status(c, "BANK-REF-0001") == status(c, "DD-20240305-1") == "returned"
        assert status(c, "RET-20240307-2") == "unmatched"  # AC04: nothing of ours to cancel
        assert status(c, "REV-FEE-20240307") == "unmatched"  # not pending credit
        assert status(c, "BANK-REF-0010") == "pending"
        debts = c.debts(M200)  # one debt, so one share of each purchase repays it
        assert [(d.principal, d.outstanding) for d in debts] == [(Decimal("45.00"),) * 2]
        # balanced: what the bank kept plus what the customer owes = what was vended
        rows = payments(c)
        kept = sum((p.amount for p in rows if p.meter_no == M200 and p.kind == "credit"
                    and p.status == "vended"), Decimal(0))
        owed = sum((d.outstanding for d in debts), Decimal(0))
        vended = sum((v.amount for v in c.vends_for_meter(M200) if v.tender == "bank"),
                     Decimal(0))
        assert (kept, owed, vended) == (Decimal(0), Decimal("45.00"), Decimal("45.00"))
        # nothing is vended twice: no pending payment left for Ada
        assert c.vend_pending_payments(M200, request_id="a2", station="DESK-1",
                                       operator="carol") is None
        # Ada's next cash purchase repays half of it (the default recovery share)
        nxt = c.vend(M200, Decimal("10.00"), request_id="a3", station="DESK-1",
                     operator="carol")
        assert nxt.credit == 500  # cents: 5.00 went to the debt
        assert [d.outstanding for d in c.debts(M200)] == [Decimal("40.00")]
        assert [e.action for e in c.audit_log("bank_payment")].count("bank.return") == 3
        before = ledger_state(c)

    rows = exceptions_csv(db)
    bank = {r["id"]: r for r in rows if r["kind"].startswith("bank")}
    assert {(k, r["return_code"], r["amount"]) for k, r in bank.items()} == {
        ("RET-20240306-1", "AM04", "30.00"), ("REV-20240307-1", "RvslInd", "20.00"),
        ("RET-20240307-1", "MD06", "25.00"), ("RET-20240307-2", "AC04", "12.00"),
        ("REV-FEE-20240307", "RvslInd", "4.50")}
    assert "debt" in bank["RET-20240307-1"]["evidence"]
    assert "DD-20240305-1" in bank["RET-20240307-1"]["evidence"]
    assert "no longer vendable" in bank["RET-20240306-1"]["evidence"]
    assert bank["RET-20240306-1"]["meter_no"] == M202

    # the same statements again change nothing, the same file under another name neither
    for name in ("camt053_v02.xml", "camt053_v02_returns.xml", "camt053_v08_returns.xml"):
        done = rig(db, "bank", "import", str(FIX / name))
        assert done.returncode == 0 and "already imported; nothing changed" in done.stdout
    copy = tmp_path / "again.xml"
    copy.write_bytes((FIX / "camt053_v08_returns.xml").read_bytes())
    assert "already imported" in rig(db, "bank", "import", str(copy)).stdout
    with open_billing(db) as c:
        assert ledger_state(c) == before
        # The audit log accounts for every return: replayed, it gives the ledger's payment
        # statuses and the debt a returned, vended payment became.
        report = c.verify_audit_chain()
        assert report.ok, report.problems
        assert report.totals["debts outstanding"] == "40.00"
        assert Decimal(report.totals["bank payments returned"]) > 0


def test_return_of_a_pending_payment_on_a_later_statement_and_overlap(db, tmp_path) -> None:
    """A return on a statement overlapping an earlier one: the overlap is skipped, the return
    applied once; a second return of the same payment finds nothing left to cancel."""
    with open_billing(db) as c:
        set_centre_currency(c, "EUR")
    f = tmp_path / "s.csv"
    f.write_text("entry_ref,booking_date,amount,currency,reference\n"
                 f"T-1,2024-03-05,10.00,EUR,meter {M201}\n")
    assert rig(db, "bank", "import", str(f)).returncode == 0

    def camt(name: str, refs: list[str]) -> Path:
        entries = "".join(
            f"<Ntry><Amt Ccy='EUR'>10.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
            f"<RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2024-03-06</Dt>"
            f"</BookgDt><AcctSvcrRef>{r}</AcctSvcrRef><NtryDtls><TxDtls><RmtInf>"
            f"<Ustrd>meter {M201}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n" for r in refs)
        out = tmp_path / name
        out.write_text("<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'>\n"
                       f"<BkToCstmrStmt><Stmt><Id>{name}</Id>\n{entries}</Stmt></BkToCstmrStmt>"
                       "</Document>\n")
        return out

    assert rig(db, "bank", "import", str(camt("a.xml", ["R-1"]))).returncode == 0
    done = rig(db, "bank", "import", str(camt("b.xml", ["R-1", "R-2"])))
    assert done.returncode == 0 and "1 already known" in done.stdout
    with open_billing(db) as c:
        assert [(p.entry_ref, p.status) for p in payments(c)] == [
            ("T-1", "returned"), ("R-1", "applied"), ("R-2", "unmatched")]
        assert c.vend_pending_payments(M201, request_id="x", station="DESK-1",
                                       operator="carol") is None


def test_a_returned_payment_cannot_be_assigned_nor_its_vend_reversed(db, tmp_path) -> None:
    from rig.billing import Conflict
    from rig.billing.bank import assign_payment, import_statement

    with open_billing(db) as c:
        set_centre_currency(c, "EUR")
        f = tmp_path / "s.csv"
        f.write_text("entry_ref,booking_date,amount,currency,reference\n"
                     "U-1,2024-03-05,7.00,EUR,INVOICE 1\n"
                     f"P-1,2024-03-05,9.00,EUR,{M201}\n")
        import_statement(c, f)
        sale = c.vend_pending_payments(M201, request_id="v", station="DESK-1",
                                       operator="carol")
        assert sale is not None
        g = tmp_path / "r.csv"
        g.write_text("entry_ref,booking_date,amount,currency,reference\n"
                     "D-1,2024-03-06,-3.00,EUR,bank fee\n")
        import_statement(c, g)
        with pytest.raises(Conflict, match="cannot become credit"):
            assign_payment(c, "D-1", M201, operator="sam", note="no")
        h = tmp_path / "r.xml"
        h.write_text(
            "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
            "<Stmt><Id>R</Id>"
            "<Ntry><NtryRef>1</NtryRef><Amt Ccy='EUR'>7.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
            "<RvslInd>true</RvslInd><Sts>BOOK</Sts><BookgDt><Dt>2024-03-06</Dt></BookgDt>"
            "<AcctSvcrRef>R-U</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>INVOICE 1</Ustrd>"
            "</RmtInf></TxDtls></NtryDtls></Ntry>"
            "<Ntry><NtryRef>2</NtryRef><Amt Ccy='EUR'>9.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
            "<Sts>BOOK</Sts><BookgDt><Dt>2024-03-06</Dt></BookgDt>"
            f"<AcctSvcrRef>R-P</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>{M201}</Ustrd>"
            "</RmtInf><RtrInf><Rsn><Prtry>R99</Prtry></Rsn></RtrInf></TxDtls></NtryDtls></Ntry>"
            "</Stmt></BkToCstmrStmt></Document>")
        r = import_statement(c, h)
        assert [(p.entry_ref, p.status, p.returns, p.return_code) for p in r.returns] == [
            ("R-U", "applied", "U-1", None), ("R-P", "applied", "P-1", "R99")]
        with pytest.raises(Conflict, match="is returned, not unmatched"):
            assign_payment(c, "U-1", M201, operator="sam", note="phoned")
        with pytest.raises(Conflict, match="returned"):
            c.reverse_vend(sale.vend_id, operator="sam", reason="card lost")
        assert [d.principal for d in c.debts(M201)] == [Decimal("9.00")]
        assert status(c, "P-1") == "returned"


@pytest.mark.parametrize("centre_ccy", ["CNY", "EUR"])
def test_statement_in_another_currency_is_refused_naming_the_line(sqlite_db, tmp_path,
                                                                  centre_ccy) -> None:
    """The currency comes from the centre's configuration; a statement in another one is
    refused whole, naming file:line and the entry; one in the centre's currency imports."""
    db = sqlite_db
    done = rig(db, "bank", "import", str(FIX / "camt053_v02.xml"))
    assert done.returncode == 2 and "currency, which is not set" in done.stderr
    assert rig(db, "bank", "currency", centre_ccy, "--as", "ann").returncode == 0
    assert rig(db, "bank", "currency").stdout.strip() == centre_ccy
    other = "EUR" if centre_ccy == "CNY" else "USD"
    f = tmp_path / "mixed.xml"
    f.write_text(
        "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'><BkToCstmrStmt>\n"
        "<Stmt><Id>S</Id>\n"
        f"<Ntry><Amt Ccy='{centre_ccy}'>8.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2024-03-05</Dt></BookgDt>"
        "<AcctSvcrRef>OK-1</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>ACC-201</Ustrd>"
        "</RmtInf></TxDtls></NtryDtls></Ntry>\n"
        f"<Ntry><Amt Ccy='{other}'>11.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        "<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2024-03-05</Dt></BookgDt>"
        "<AcctSvcrRef>FX-1</AcctSvcrRef></Ntry>\n</Stmt></BkToCstmrStmt></Document>\n")
    done = rig(db, "bank", "import", str(f))
    assert done.returncode == 2
    assert f"mixed.xml:4: entry FX-1 is in {other}, but this centre bills in {centre_ccy}" \
        in done.stderr and "Traceback" not in done.stderr
    with open_billing(db) as c:
        assert payments(c) == []  # nothing imported, not even OK-1
    if centre_ccy == "CNY":  # the fixture's account is in EUR (<Acct><Ccy>, line 14)
        done = rig(db, "bank", "import", str(FIX / "camt053_v02.xml"))
        assert done.returncode == 2 and "camt053_v02.xml:14: <Acct/Ccy>" in done.stderr
        g = tmp_path / "cny.csv"
        g.write_text("entry_ref,booking_date,amount,currency,reference\n"
                     f"C-1,2024-03-05,88.00,CNY,{M200}\n")
        done = rig(db, "bank", "import", str(g))
        assert done.returncode == 0 and "1 pending" in done.stdout
        # SEPA collects euros only
        with open_billing(db) as c:
            from rig.errors import BillingError
            with pytest.raises(BillingError, match="SEPA direct debits are in EUR"):
                export_debits(c, tmp_path / "dd.xml", creditor=CREDITOR,
                              collection_date=date(2024, 3, 5))
        # the currency cannot change under booked payments
        done = rig(db, "bank", "currency", "EUR", "--as", "ann")
        assert done.returncode == 3 and "cannot change to EUR" in done.stderr


def test_a_return_by_endtoendid_must_match_the_amount_and_returns_once(db, tmp_path) -> None:
    from rig.billing.bank import import_statement

    def ntry(ref: str, amount: str, ind: str, e2e: str, extra: str = "") -> str:
        return (f"<Ntry><Amt Ccy='EUR'>{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>"
                f"<Sts>BOOK</Sts><BookgDt><Dt>2024-03-06</Dt></BookgDt>"
                f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><Refs>"
                f"<EndToEndId>{e2e}</EndToEndId></Refs><RmtInf><Ustrd>{M201}</Ustrd></RmtInf>"
                f"{extra}</TxDtls></NtryDtls></Ntry>\n")

    am04 = "<RtrInf><Rsn><Cd>AM04</Cd></Rsn></RtrInf>"
    f = tmp_path / "e2e.xml"
    f.write_text("<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'>"
                 "<BkToCstmrStmt><Stmt><Id>E</Id>\n"
                 + ntry("C-1", "6.00", "CRDT", "E2E-1") + ntry("C-2", "8.00", "CRDT", "E2E-2")
                 + ntry("R-1", "6.00", "DBIT", "E2E-1", am04)
                 + ntry("R-2", "6.00", "DBIT", "E2E-1", am04)
                 + ntry("R-3", "7.00", "DBIT", "E2E-2", am04)
                 + "</Stmt></BkToCstmrStmt></Document>\n")
    with open_billing(db) as c:
        set_centre_currency(c, "EUR")
        r = import_statement(c, f)
        got = {p.entry_ref: (p.status, p.reason or "") for p in r.returns}
        assert got["R-1"][0] == "applied" and "AM04 of C-1" in got["R-1"][1]
        assert got["R-2"][0] == "unmatched" and "C-1 with EndToEndId E2E-1 was already " \
            "returned" in got["R-2"][1]
        assert got["R-3"][0] == "unmatched" and "names payment C-2 of 8.00, not 7.00" \
            in got["R-3"][1]
        assert (status(c, "C-1"), status(c, "C-2")) == ("returned", "pending")
