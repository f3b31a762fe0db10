"""ISO 20022 camt.053 (BankToCustomerStatement) reader, versions 001.02 and later.

Parsed with the stdlib's expat so every element keeps its line number for error messages;
a DOCTYPE (and with it any entity trick) is refused. Version differences handled: ``Sts`` is
text up to 001.07 and ``Sts/Cd`` from 001.08; the debtor is ``Dbtr/Nm`` up to 001.07 and
``Dbtr/Pty/Nm`` from 001.08; a batch entry carries one ``TxDtls`` per payment, each with its
own amount (``TxDtls/Amt`` or, in 001.02, ``TxDtls/AmtDtls/TxAmt/Amt``).

Returns and reversals (the same in 001.02 and 001.08): ``Ntry/RvslInd`` true marks an entry
that reverses an earlier one of the opposite direction; ``TxDtls/RtrInf/Rsn/Cd`` (or ``Prtry``)
carries a return's reason code (ISO external code set ExternalReturnReason1Code: AM04, MD06 …);
``TxDtls/Refs/EndToEndId`` and ``Refs/MndtId`` name the payment and mandate they return.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.parsers import expat

from rig.billing.bank.statement import (
    Entry,
    Statement,
    StatementError,
    check_unique,
    digest,
    parse_amount,
    parse_date,
)

NS = re.compile(r"^\{(urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2}))\}Document$")


class _Tree:
    """An ElementTree plus the source line of every element."""

    def __init__(self, data: bytes, file_name: str) -> None:
        self.file_name = file_name
        self.lines: dict[int, int] = {}
        builder = ET.TreeBuilder()
        parser = expat.ParserCreate(namespace_separator="}")

        def start(tag: str, attrs: dict[str, str]) -> None:
            el = builder.start("{" + tag if "}" in tag else tag, attrs)
            self.lines[id(el)] = parser.CurrentLineNumber

        def doctype(*_: object) -> None:
            raise StatementError(f"{file_name}:{parser.CurrentLineNumber}: a DOCTYPE is not "
                                 "allowed in a bank statement")

        parser.StartElementHandler = start
        parser.EndElementHandler = lambda tag: builder.end("{" + tag if "}" in tag else tag)
        parser.CharacterDataHandler = builder.data
        parser.StartDoctypeDeclHandler = doctype
        try:
            parser.Parse(data, True)
        except expat.ExpatError as e:
            raise StatementError(f"{file_name}:{e.lineno}:{e.offset}: not well-formed XML "
                                 f"({expat.ErrorString(e.code)})") from None
        self.root = builder.close()

    def line(self, el: ET.Element) -> int:
        return self.lines.get(id(el), 0)


def parse_camt053(data: bytes, file_name: str) -> Statement:
    tree = _Tree(data, file_name)
    match = NS.match(tree.root.tag)
    if match is None or int(match.group(2)) < 2:
        raise StatementError(f"{file_name}:{tree.line(tree.root)}: root element {tree.root.tag} "
                             "is not a camt.053.001.02 (or later) Document")
    r = _Reader(tree, match.group(1))
    stmt_root = r.need(tree.root, "BkToCstmrStmt", "Document")
    statements = stmt_root.findall(r.q("Stmt"))
    if not statements:
        raise StatementError(f"{r.where(stmt_root, 'BkToCstmrStmt')} has no Stmt")
    entries: list[Entry] = []
    ids: list[str] = []
    account_currencies: list[tuple[str, str]] = []
    for stmt in statements:
        ids.append(r.text(stmt, "Id") or r.need(stmt, "Id", "Stmt").text or "")
        ccy = r.find(stmt, "Acct/Ccy")
        if ccy is not None and (ccy.text or "").strip():
            account_currencies.append(((ccy.text or "").strip().upper(),
                                       f"{file_name}:{tree.line(ccy)}"))
        for ntry in stmt.findall(r.q("Ntry")):
            entries.extend(r.entries(ntry))
    check_unique(entries, file_name)
    return Statement(file_name, f"camt.053.001.{match.group(2)}", "+".join(ids), digest(data),
                     tuple(entries), tuple(account_currencies))


class _Reader:
    """Namespace-aware lookups that name file, line and element when something is missing."""

    def __init__(self, tree: _Tree, ns: str) -> None:
        self.tree, self.ns, self.file_name = tree, ns, tree.file_name

    def q(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{p}" for p in path.split("/"))

    def where(self, el: ET.Element, name: str) -> str:
        return f"{self.file_name}:{self.tree.line(el)}: <{name}>"

    def find(self, el: ET.Element | None, path: str) -> ET.Element | None:
        return None if el is None else el.find(self.q(path))

    def need(self, el: ET.Element, path: str, what: str) -> ET.Element:
        found = el.find(self.q(path))
        if found is None or (not (found.text or "").strip() and len(found) == 0):
            raise StatementError(f"{self.where(el, what)} lacks {path}")
        return found

    def text(self, el: ET.Element | None, *paths: str) -> str:
        for p in paths:
            found = self.find(el, p)
            if found is not None and (found.text or "").strip():
                return (found.text or "").strip()
        return ""

    def entries(self, ntry: ET.Element) -> list[Entry]:
        """The payments of one ``Ntry``: one, or one per ``TxDtls`` of a batch."""
        amt = self.need(ntry, "Amt", "Ntry")
        currency = (amt.get("Ccy") or "").upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise StatementError(f"{self.where(amt, 'Amt')} has no valid Ccy attribute")
        indicator = self.text(ntry, "CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            raise StatementError(f"{self.where(ntry, 'Ntry')} CdtDbtInd is {indicator!r}, "
                                 "not CRDT or DBIT")
        status = self.text(ntry, "Sts/Cd", "Sts")
        if not status:
            raise StatementError(f"{self.where(ntry, 'Ntry')} lacks Sts")
        dt = self.text(ntry, "BookgDt/Dt", "BookgDt/DtTm", "ValDt/Dt", "ValDt/DtTm")
        if not dt:
            raise StatementError(f"{self.where(ntry, 'Ntry')} lacks BookgDt (and ValDt)")
        booked_on = parse_date(dt, self.where(ntry, "Ntry/BookgDt"))
        total = parse_amount(amt.text, self.where(amt, "Ntry/Amt"))
        txs: list[ET.Element | None] = list(ntry.findall(self.q("NtryDtls/TxDtls"))) or [None]
        ntry_ref = self.text(ntry, "AcctSvcrRef", "NtryRef")
        reversal = self.text(ntry, "RvslInd").lower()
        if reversal not in ("", "true", "false", "1", "0"):
            raise StatementError(f"{self.where(ntry, 'Ntry/RvslInd')} is {reversal!r}, not a "
                                 "boolean (true/false)")
        batch = len(txs) > 1
        out: list[Entry] = []
        for k, tx in enumerate(txs, start=1):
            el = tx if tx is not None else ntry
            amount = total
            if batch:
                tx_amt = self.find(tx, "Amt")
                if tx_amt is None:
                    tx_amt = self.find(tx, "AmtDtls/TxAmt/Amt")
                if tx_amt is None:
                    raise StatementError(f"{self.where(el, 'TxDtls')} of a batch entry lacks Amt")
                amount = parse_amount(tx_amt.text, self.where(tx_amt, "TxDtls/Amt"))
            ref = self.text(tx, "Refs/AcctSvcrRef") or (
                f"{ntry_ref}/{k}" if batch and ntry_ref else ntry_ref)
            if not ref:
                raise StatementError(f"{self.where(el, 'Ntry')} has no AcctSvcrRef or NtryRef: "
                                     "without the bank's reference it cannot be imported once")
            if amount <= 0:
                raise StatementError(f"{self.where(el, 'Amt')} must be positive "
                                     "(the direction is CdtDbtInd)")
            structured = self.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
            ustrd = [] if tx is None else tx.findall(self.q("RmtInf/Ustrd"))
            unstructured = " ".join((u.text or "").strip() for u in ustrd)
            reference = " ".join(x for x in (structured, unstructured) if x) or self.text(
                ntry, "AddtlNtryInf")
            out.append(Entry(
                entry_ref=ref, amount=amount, currency=currency, credit=indicator == "CRDT",
                booked=status == "BOOK", booked_on=booked_on, reference=reference,
                debtor=self.text(tx, "RltdPties/Dbtr/Pty/Nm", "RltdPties/Dbtr/Nm"),
                end_to_end_id=self.text(tx, "Refs/EndToEndId"),
                source=f"{self.file_name}:{self.tree.line(el)}",
                reversal=reversal in ("true", "1"),
                return_code=self.text(tx, "RtrInf/Rsn/Cd", "RtrInf/Rsn/Prtry"),
                return_info=" ".join((x.text or "").strip() for x in ([] if tx is None else
                                     tx.findall(self.q("RtrInf/AddtlInf")))).strip(),
                mandate_ref=self.text(tx, "Refs/MndtId"),
            ))
        if batch and sum(e.amount for e in out) != total:
            raise StatementError(f"{self.where(ntry, 'Ntry')} batch amounts sum to "
                                 f"{sum(e.amount for e in out)}, the entry says {total}")
        return out
