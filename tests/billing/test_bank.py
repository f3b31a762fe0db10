"""Bank link: camt.053 (001.02 and 001.08) and CSV statements matched to customers, pending
credit vended at the next card presentation, idempotent imports, clear errors for bad files,
and the pain.008.001.02 direct-debit file checked element by element."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import VendRefused, open_billing, reports
from rig.billing.bank import (
    Creditor,
    StatementError,
    export_debits,
    import_statement,
    payments,
    register_mandate,
)
from rig.billing.currency import set_centre_currency
from rig.errors import BillingError
from tests.billing.ledger import T0, Clock, add_meter, readback

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
FIX = Path(__file__).parents[2] / "fixtures" / "bank"
M200, M201, M211, M202 = "000000000200", "000000000201", "000000000211", "000000000202"
CREDITOR = Creditor("Prepaid Power Utility", "DE89370400440532013000", "COBADEFFXXX",
                    "DE98ZZZ09999999999")
PAIN = "{urn:iso:std:iso:20022:tech:xsd:pain.008.001.02}"


@pytest.fixture
def centre(billing_url):
    c = open_billing(billing_url,
                     clock=Clock(datetime(2024, 3, 6, 9, tzinfo=UTC)))
    set_centre_currency(c, "EUR")
    c.create_tariff("RES", Decimal("0.20"), T0)
    c.register_station("DESK-1")
    c.register_operator("carol", "cashier")
    c.register_operator("sam", "supervisor")
    add_meter(c, M200, account="ACC-200", name="Ada Lovelace")
    add_meter(c, M201, account="ACC-201", name="Charles Babbage")
    c.register_meter(M211, customer_account="ACC-201", profile="p", credit_unit="money_cents",
                     tariff_code="RES", key_revision=1, commissioning_energy_wh=0,
                     commissioned_at=T0)
    c.issue_card(M211, f"CARD-{M211}")
    add_meter(c, M202, account="ACC-202", name="Grace Hopper")
    yield c
    c.close()


def line_of(path: Path, needle: str, back_to: str = "<TxDtls>") -> int:
    """1-based line of the last ``back_to`` at or before the line containing ``needle``."""
    lines = path.read_text().splitlines()
    at = next(i for i, t in enumerate(lines) if needle in t)
    return next(i for i in range(at, -1, -1) if back_to in lines[i]) + 1


def snapshot(c) -> tuple:
    return (payments(c), len(c.audit_log()), c.vends_for_meter(M200))


def test_camt053_v02_matched_and_unmatched(centre) -> None:
    r = import_statement(centre, FIX / "camt053_v02.xml")
    assert r.format == "camt.053.001.02" and not r.already_imported
    assert {(p.entry_ref, p.meter_no, p.amount) for p in r.matched} == {
        ("BANK-REF-0001", M200, Decimal("20.00")),
        ("BANK-REF-0002", M201, Decimal("15.50")),
        ("BANK-REF-0005/1", M202, Decimal("5.00")),
    }
    reasons = {p.entry_ref: p.reason or "" for p in r.unmatched}
    assert set(reasons) == {"BANK-REF-0003", "BANK-REF-0004", "BANK-REF-0005/2"}
    line = line_of(FIX / "camt053_v02.xml", "INVOICE 7781")
    assert re.fullmatch(rf".*camt053_v02\.xml:{line}: reference 'INVOICE 7781' names no "
                        "customer account or meter number", reasons["BANK-REF-0003"])
    assert "debit" in reasons["BANK-REF-0004"]
    assert "account ACC-201 has 2 meters" in reasons["BANK-REF-0005/2"]
    assert [p.entry_ref for p in payments(centre, "unmatched")] == sorted(reasons)
    assert next(p for p in r.matched if p.meter_no == M201).debtor == "Charles Babbage"


def test_same_statement_twice_changes_nothing(centre, tmp_path) -> None:
    import_statement(centre, FIX / "camt053_v02.xml")
    before = snapshot(centre)
    again = import_statement(centre, FIX / "camt053_v02.xml")
    assert again.already_imported and not again.changed
    copy = tmp_path / "renamed.xml"  # same bytes under another name: same file
    shutil.copy(FIX / "camt053_v02.xml", copy)
    assert import_statement(centre, copy).already_imported
    assert snapshot(centre) == before


def test_overlapping_statement_adds_only_new_entries(centre, tmp_path) -> None:
    import_statement(centre, FIX / "camt053_v02.xml")
    register_mandate(centre, "ACC-202", mandate_ref="MNDT-202", iban="GB82WEST12345698765432",
                     signed_on=date(2024, 1, 10), amount=Decimal("30.00"))
    export_debits(centre, tmp_path / "dd.xml", creditor=CREDITOR,
                  collection_date=date(2024, 3, 5))
    r = import_statement(centre, FIX / "camt053_v08.xml")
    assert r.format == "camt.053.001.08"
    assert r.duplicates == ("BANK-REF-0001",)
    # matched by the EndToEndId of the direct debit this centre requested
    assert [(p.entry_ref, p.meter_no, p.amount) for p in r.matched] == [
        ("BANK-REF-0006", M202, Decimal("30.00"))]
    assert r.unmatched == ()
    assert len([p for p in payments(centre) if p.entry_ref == "BANK-REF-0001"]) == 1


def test_pending_payment_is_vended_at_the_next_card_presentation(centre) -> None:
    import_statement(centre, FIX / "camt053_v02.xml")
    v = centre.vend_pending_payments(M200, request_id="p1", station="DESK-1", operator="carol")
    assert v is not None and (v.amount, v.credit, v.sequence) == (Decimal("20.00"), 2000, 1)
    assert centre.vend_pending_payments(M200, request_id="p1", station="DESK-1",
                                        operator="carol") == v  # a retry replays it
    assert centre.vend_pending_payments(M200, request_id="p2", station="DESK-1",
                                        operator="carol") is None
    paid = next(p for p in payments(centre) if p.entry_ref == "BANK-REF-0001")
    assert (paid.status, paid.vend_id) == ("vended", v.vend_id)
    r = import_statement(centre, FIX / "statement.csv")  # 40.00 more for ACC-200
    assert [p.entry_ref for p in r.matched] == ["CSV-0001"]
    assert {p.entry_ref for p in r.unmatched} == {"CSV-0002", "CSV-0003"}
    with pytest.raises(VendRefused) as refused:  # the card still carries purchase 1
        centre.vend_pending_payments(M200, request_id="p3", station="DESK-1", operator="carol")
    assert refused.value.reason == "unapplied_purchase"
    assert [p.status for p in payments(centre) if p.entry_ref == "CSV-0001"] == ["pending"]
    readback(centre, M200)
    v2 = centre.vend_pending_payments(M200, request_id="p3", station="DESK-1", operator="carol")
    assert v2 is not None and (v2.amount, v2.sequence) == (Decimal("40.00"), 2)
    centre.reverse_vend(v2.vend_id, operator="sam", reason="card faulty")
    assert [p.status for p in payments(centre) if p.entry_ref == "CSV-0001"] == ["pending"]
    sales = reports.daily_sales(centre, date(2024, 3, 6), date(2024, 3, 6))
    assert sales.totals is not None and sales.totals[4:] == (
        Decimal("0.00"), Decimal("20.00"), Decimal("20.00"))  # cash, bank, total


def test_bank_vend_sums_every_pending_payment_of_the_meter(centre, tmp_path) -> None:
    f = tmp_path / "two.csv"
    f.write_text("entry_ref,booking_date,amount,currency,reference\n"
                 f"T-1,2024-03-05,10.00,EUR,{M202}\nT-2,2024-03-05,2.50,EUR,meter {M202}\n")
    import_statement(centre, f)
    v = centre.vend_pending_payments(M202, request_id="b", station="DESK-1", operator="carol")
    assert v is not None and v.amount == Decimal("12.50")
    assert {p.vend_id for p in payments(centre)} == {v.vend_id}


@pytest.mark.parametrize(("name", "message"), [
    ("camt053_bad_amount.xml", r"camt053_bad_amount\.xml:41: <Ntry/Amt>: amount '15,50' is not"),
    ("statement_bad_date.csv", r"statement_bad_date\.csv:3: column booking_date: date "
                               r"'05/03/2024' is not YYYY-MM-DD"),
])
def test_malformed_statement_names_file_line_element_and_writes_nothing(
        centre, name, message) -> None:
    before = snapshot(centre)
    with pytest.raises(StatementError, match=message):
        import_statement(centre, FIX / name)
    assert snapshot(centre) == before


@pytest.mark.parametrize(("text", "message"), [
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>",
     r"x\.xml:1:\d+: not well-formed XML"),
    (b"<?xml version='1.0'?>\n<!DOCTYPE d [<!ENTITY e 'x'>]>\n<d/>",
     r"x\.xml:2: a DOCTYPE is not allowed"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.054.001.02'/>",
     r"x\.xml:1: root element .*camt\.054.* is not a camt\.053"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.04'>\n<BkToCstmrStmt>\n"
     b"<Stmt><Id>S</Id>\n<Ntry><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
     b"<Sts>BOOK</Sts><BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry></Stmt></BkToCstmrStmt>"
     b"</Document>", r"x\.xml:4: <Ntry> has no AcctSvcrRef or NtryRef"),
    (b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.02'><BkToCstmrStmt>"
     b"<Stmt><Id>S</Id><Ntry><NtryRef>1</NtryRef><Amt>1.00</Amt></Ntry></Stmt>"
     b"</BkToCstmrStmt></Document>", r"x\.xml:1: <Amt> has no valid Ccy"),
])
def test_bad_xml_is_refused_with_its_location(centre, tmp_path, text, message) -> None:
    f = tmp_path / "x.xml"
    f.write_bytes(text)
    with pytest.raises(StatementError, match=message):
        import_statement(centre, f)
    assert payments(centre) == []


def test_csv_header_and_duplicate_refs_are_refused(centre, tmp_path) -> None:
    f = tmp_path / "h.csv"
    f.write_text("ref,amount\nX,1.00\n")
    with pytest.raises(StatementError, match=r"h\.csv:1: header lacks column\(s\) entry_ref"):
        import_statement(centre, f)
    f.write_text("entry_ref,booking_date,amount,currency,reference\n"
                 "D,2024-03-05,1.00,EUR,ACC-200\nD,2024-03-05,2.00,EUR,ACC-200\n")
    with pytest.raises(StatementError, match=r"'D' appears twice \(.*h\.csv:2 and .*h\.csv:3\)"):
        import_statement(centre, f)


def parse_pain(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == f"{PAIN}Document"
    return root


def req(el: ET.Element, path: str) -> str:
    found = el.find("/".join(PAIN + p for p in path.split("/")))
    assert found is not None and (found.text or "").strip(), f"missing {path}"
    return found.text.strip()  # type: ignore[union-attr]


def test_pain008_structure_and_exact_control_sums(centre, tmp_path) -> None:
    register_mandate(centre, "ACC-200", mandate_ref="MNDT-200", iban="NL91 ABNA 0417 1643 00",
                     signed_on=date(2023, 12, 1), amount=Decimal("25.10"), bic="ABNANL2A")
    register_mandate(centre, "ACC-202", mandate_ref="MNDT-202", iban="GB82WEST12345698765432",
                     signed_on=date(2024, 1, 10), amount=Decimal("30.07"))
    first = export_debits(centre, tmp_path / "a.xml", creditor=CREDITOR,
                          collection_date=date(2024, 3, 5))
    register_mandate(centre, "ACC-201", mandate_ref="MNDT-201",
                     iban="FR1420041010050500013M02606", signed_on=date(2024, 2, 1),
                     amount=Decimal("0.03"))
    out = export_debits(centre, tmp_path / "b.xml", creditor=CREDITOR,
                        collection_date=date(2024, 4, 5))
    assert first.control_sum == Decimal("55.17") and out.control_sum == Decimal("55.20")
    init = parse_pain(out.path).find(f"{PAIN}CstmrDrctDbtInitn")
    assert init is not None
    assert req(init, "GrpHdr/MsgId") == out.msg_id
    assert req(init, "GrpHdr/NbOfTxs") == "3" and req(init, "GrpHdr/CtrlSum") == "55.20"
    req(init, "GrpHdr/CreDtTm")
    req(init, "GrpHdr/InitgPty/Nm")
    groups = {req(p, "PmtTpInf/SeqTp"): p for p in init.findall(f"{PAIN}PmtInf")}
    assert set(groups) == {"FRST", "RCUR"}
    total = Decimal(0)
    for seq, pmt in groups.items():
        for path in ("PmtInfId", "PmtTpInf/SvcLvl/Cd", "PmtTpInf/LclInstrm/Cd", "Cdtr/Nm",
                     "CdtrAcct/Id/IBAN", "CdtrAgt/FinInstnId/BIC",
                     "CdtrSchmeId/Id/PrvtId/Othr/Id"):
            req(pmt, path)
        assert req(pmt, "PmtMtd") == "DD" and req(pmt, "ReqdColltnDt") == "2024-04-05"
        txs = pmt.findall(f"{PAIN}DrctDbtTxInf")
        amounts = [Decimal(req(t, "InstdAmt")) for t in txs]
        assert req(pmt, "NbOfTxs") == str(len(txs))
        assert Decimal(req(pmt, "CtrlSum")) == sum(amounts)
        total += sum(amounts)
        for t in txs:
            for path in ("PmtId/EndToEndId", "DrctDbtTx/MndtRltdInf/MndtId",
                         "DrctDbtTx/MndtRltdInf/DtOfSgntr", "Dbtr/Nm", "DbtrAcct/Id/IBAN",
                         "RmtInf/Ustrd"):
                req(t, path)
            assert t.find(f"{PAIN}InstdAmt").get("Ccy") == "EUR"  # type: ignore[union-attr]
        mandates = {req(t, "DrctDbtTx/MndtRltdInf/MndtId") for t in txs}
        assert mandates == ({"MNDT-201"} if seq == "FRST" else {"MNDT-200", "MNDT-202"})
    assert total == Decimal("55.20")
    ibans = [req(t, "DbtrAcct/Id/IBAN") for t in init.iter(f"{PAIN}DrctDbtTxInf")]
    assert "NL91ABNA0417164300" in ibans
    # exporting the same run again requests the same collections, not new ones
    again = export_debits(centre, tmp_path / "c.xml", creditor=CREDITOR,
                          collection_date=date(2024, 4, 5))
    assert again.collections == out.collections
    assert (tmp_path / "c.xml").read_bytes() == out.path.read_bytes()


def test_mandate_validation(centre) -> None:
    with pytest.raises(BillingError, match="fails its check digits"):
        register_mandate(centre, "ACC-200", mandate_ref="M1", iban="DE89370400440532013001",
                         signed_on=date(2024, 1, 1), amount=Decimal("5.00"))
    with pytest.raises(BillingError, match="no active mandate"):
        export_debits(centre, "/nonexistent/x.xml", creditor=CREDITOR,
                      collection_date=date(2024, 1, 1))


def test_entry_not_yet_booked_is_recorded_when_booked(centre, tmp_path) -> None:
    def camt(status: str) -> Path:
        f = tmp_path / f"{status}.xml"
        f.write_text(
            "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'><BkToCstmrStmt>"
            f"<Stmt><Id>S-{status}</Id><Ntry><Amt Ccy='EUR'>6.00</Amt>"
            f"<CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>{status}</Cd></Sts>"
            "<BookgDt><Dt>2024-03-05</Dt></BookgDt><AcctSvcrRef>LATE-1</AcctSvcrRef>"
            "<NtryDtls><TxDtls><RmtInf><Ustrd>ACC-200</Ustrd></RmtInf></TxDtls></NtryDtls>"
            "</Ntry></Stmt></BkToCstmrStmt></Document>")
        return f

    r = import_statement(centre, camt("PDNG"))
    assert r.not_booked == ("LATE-1",) and not r.changed and payments(centre) == []
    r = import_statement(centre, camt("BOOK"))
    assert [(p.entry_ref, p.meter_no, p.status) for p in r.matched] == [
        ("LATE-1", M200, "pending")]


def test_supervisor_assigns_an_unmatched_payment(centre) -> None:
    from rig.billing import Conflict, PermissionDenied
    from rig.billing.bank import assign_payment

    import_statement(centre, FIX / "camt053_v02.xml")
    with pytest.raises(PermissionDenied):
        assign_payment(centre, "BANK-REF-0005/2", M211, operator="carol", note="phoned in")
    with pytest.raises(Conflict, match="debit"):
        assign_payment(centre, "BANK-REF-0004", M200, operator="sam", note="no")
    p = assign_payment(centre, "BANK-REF-0005/2", M211, operator="sam",
                       note="customer confirmed by phone: second meter")
    assert (p.status, p.meter_no, p.account_no) == ("pending", M211, "ACC-201")
    with pytest.raises(Conflict, match="pending, not unmatched"):
        assign_payment(centre, "BANK-REF-0005/2", M201, operator="sam", note="again")
    v = centre.vend_pending_payments(M211, request_id="a", station="DESK-1", operator="carol")
    assert v is not None and v.amount == Decimal("7.25")
    assert centre.audit_log("bank_payment")[-1].after["note"].startswith("customer confirmed")


EPC_BASIC = re.compile(r"[A-Za-z0-9/?:().,'+ -]*")  # EPC130-08 section 1.4, written out here


def test_pain008_text_is_transliterated_to_the_epc_basic_character_set(centre, tmp_path) -> None:
    """Names and references outside the EPC basic Latin set are converted as EPC217-08
    recommends, so a strict bank accepts the file; every text node of it is in the set."""
    centre.register_customer("Zoë Ørsted-Łukasz", "ACC-ÄÖÜ-7")
    centre.register_meter("000000000277", customer_account="ACC-ÄÖÜ-7", profile="p",
                          credit_unit="money_cents", tariff_code="RES", key_revision=1,
                          commissioning_energy_wh=0, commissioned_at=T0)
    register_mandate(centre, "ACC-200", mandate_ref="MNDT-200", iban="DE89370400440532013000",
                     signed_on=date(2024, 1, 2), amount=Decimal("10.00"),
                     debtor_name="Anna Müller & Söhne <Ltd>")
    register_mandate(centre, "ACC-ÄÖÜ-7", mandate_ref="MNDT-277", iban="DE89370400440532013000",
                     signed_on=date(2024, 1, 2), amount=Decimal("12.00"))
    creditor = Creditor("Stadtwerke Düsseldorf & Straßenbahn „Süd“ 株式会社",
                        "DE89370400440532013000", "COBADEFFXXX", "DE98ZZZ09999999999")
    out = export_debits(centre, tmp_path / "dd.xml", creditor=creditor,
                        collection_date=date(2024, 3, 5))
    root = parse_pain(out.path)
    texts = [(el.tag, (el.text or "").strip()) for el in root.iter() if (el.text or "").strip()]
    outside = [(tag, text) for tag, text in texts if not EPC_BASIC.fullmatch(text)]
    assert outside == []
    names = {req(t, "DrctDbtTx/MndtRltdInf/MndtId"): (req(t, "Dbtr/Nm"), req(t, "RmtInf/Ustrd"))
             for t in root.iter(f"{PAIN}DrctDbtTxInf")}
    assert names == {"MNDT-200": ("Anna Muller + Sohne .Ltd.", "ACC-200 prepaid energy"),
                     "MNDT-277": ("Zoe Orsted-Lukasz", "ACC-AOU-7 prepaid energy")}
    init = root.find(f"{PAIN}CstmrDrctDbtInitn")
    assert init is not None
    assert req(init, "GrpHdr/InitgPty/Nm") == "Stadtwerke Dusseldorf + Strasenbahn .Sud. ...."
    with pytest.raises(BillingError, match="not starting or ending with '/'"):
        register_mandate(centre, "ACC-202", mandate_ref="MNDT//202", iban="DE89370400440532013000",
                         signed_on=date(2024, 1, 2), amount=Decimal("5.00"))
