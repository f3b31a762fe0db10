"""The ledger as the audit log tells it, compared row by row with the ledger tables.

The chain proves the log was not edited; it says nothing of a vend whose amount was changed in
``vends`` or an agent top-up inserted straight into ``agent_entries``. Replaying the verified
events gives what every row must hold — vends (amount, credit, sequence, status, card ...),
bank payments (amount, status), agent float entries and balances, debts (principal,
outstanding), tariff versions (price, start, structure) — and every row that disagrees, exists
without an event or is missing though an event made it is reported.

Events written before this release did not record agent float movements and debt
recoveries; when the chain has a legacy prefix, disagreements in those two tables are notes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rig.billing import models as m
from rig.billing.models import to_utc
from rig.billing.types import VendKind, VendStatus

ZERO = Decimal("0.00")


@dataclass
class Derived:
    """The ledger state replayed from the events (fed one verified event at a time)."""

    vends: dict[int, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[int, dict[str, Any]] = field(default_factory=dict)
    debts: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    agent_entries: dict[int, tuple[int, str, Decimal]] = field(default_factory=dict)
    agent_balance: dict[int, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    bank_vends: dict[int, list[str]] = field(default_factory=dict)
    legacy: bool = False  # a legacy event was seen: agent and debt movements were not recorded

    def feed(self, action: str, entity_id: str, after: Any, key_id: str | None) -> None:
        if key_id is None:
            self.legacy = True
        handler = _HANDLERS.get(action)
        if handler is not None:
            handler(self, int(entity_id) if entity_id.isdigit() else entity_id, after or {})


def _vend_made(d: Derived, vid: Any, a: dict[str, Any]) -> None:
    d.vends[vid] = {"meter_no": a["meter_no"], "sequence": a["sequence"],
                    "amount": Decimal(a["amount"]), "credit": a["credit"],
                    "credit_unit": a["credit_unit"], "request_id": a["request_id"],
                    "kind": a.get("kind", VendKind.SALE.value), "tender": a.get("tender", "cash"),
                    "status": a["status"], "card_serial": a["card_serial"],
                    "tariff_version": a["tariff_version"],
                    "price_per_kwh": Decimal(a["price_per_kwh"]),
                    "reprint_count": a.get("reprint_count", 0)}


def _vend_status(status: str | None) -> Any:
    def apply(d: Derived, vid: Any, a: dict[str, Any]) -> None:
        if vid in d.vends:
            d.vends[vid]["status"] = status or a["status"]
            if "card" in a:
                d.vends[vid]["card_serial"] = a["card"]
    return apply


def _vend_reversed(d: Derived, vid: Any, a: dict[str, Any]) -> None:
    if vid in d.vends:
        d.vends[vid]["status"] = VendStatus.REVERSED.value
    for ref in d.bank_vends.pop(vid, []):  # paid money is owed as credit again
        if ref in d.payments:
            d.payments[ref]["status"] = "pending"


def _vend_reprinted(d: Derived, vid: Any, a: dict[str, Any]) -> None:
    if vid in d.vends:
        d.vends[vid]["reprint_count"] = a["reprint"]


def _tariff(d: Derived, tid: Any, a: dict[str, Any]) -> None:
    d.tariffs[tid] = a


def _debt_added(d: Derived, did: Any, a: dict[str, Any]) -> None:
    d.debts[did] = {"principal": Decimal(a["principal"]), "outstanding": Decimal(a["outstanding"])}


def _debt_moved(sign: int) -> Any:
    def apply(d: Derived, did: Any, a: dict[str, Any]) -> None:
        if did in d.debts:
            d.debts[did]["outstanding"] += sign * Decimal(a["amount"])
    return apply


def _agent_entry(kind: str) -> Any:
    def apply(d: Derived, agent_id: Any, a: dict[str, Any]) -> None:
        amount = Decimal(a["amount"])
        d.agent_balance[agent_id] += amount
        if a.get("entry_id") is None:
            d.legacy = True  # a top-up recorded before entries were named
        else:
            d.agent_entries[a["entry_id"]] = (agent_id, kind, amount)
    return apply


def _bank_import(d: Derived, _sid: Any, a: dict[str, Any]) -> None:
    amounts = a.get("amounts", {})
    returns = a.get("returns") or {}
    entries = [(ref, status) for status in ("pending", "unmatched") for ref in a.get(status, [])]
    entries += list(returns.items()) if isinstance(returns, dict) else []
    for ref, status in entries:
        # A payment returned on its own statement was marked by its bank.return event, which
        # the same transaction appended first: keep that status.
        entry = d.payments.setdefault(ref, {"status": status, "amount": None})
        entry["amount"] = amounts.get(ref)


def _bank_return(d: Derived, _pid: Any, a: dict[str, Any]) -> None:
    entry = d.payments.setdefault(a["entry_ref"], {"status": a["status"], "amount": None})
    entry["status"] = a["status"]
    if entry["amount"] is None:
        entry["amount"] = a.get("amount")


def _debt_increased(d: Derived, did: Any, a: dict[str, Any]) -> None:
    d.debts[did] = {"principal": Decimal(a["principal"]), "outstanding": Decimal(a["outstanding"])}


def _bank_assign(d: Derived, _pid: Any, a: dict[str, Any]) -> None:
    if a["entry_ref"] in d.payments:
        d.payments[a["entry_ref"]]["status"] = a["status"]


def _bank_vend(d: Derived, vid: Any, a: dict[str, Any]) -> None:
    d.bank_vends[vid] = list(a["payments"])
    for ref in a["payments"]:
        if ref in d.payments:
            d.payments[ref]["status"] = "vended"


_HANDLERS = {
    "vend.create": _vend_made, "vend.free_issue": _vend_made,
    "vend.written": _vend_status(VendStatus.WRITTEN.value),
    "vend.confirmed": _vend_status(VendStatus.CONFIRMED.value),
    "vend.move_card": _vend_status(None), "vend.reverse": _vend_reversed,
    "vend.reprint": _vend_reprinted, "tariff.create": _tariff,
    "debt.add": _debt_added, "debt.recover": _debt_moved(-1), "debt.restore": _debt_moved(1),
    "agent.topup": _agent_entry("topup"), "agent.draw": _agent_entry("vend"),
    "agent.refund": _agent_entry("reversal"),
    "bank.import": _bank_import, "bank.assign": _bank_assign, "bank.vend": _bank_vend,
    "bank.return": _bank_return, "debt.increase": _debt_increased,
}


@dataclass
class Comparison:
    disagreements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    totals: dict[str, str] = field(default_factory=dict)


def compare(s: Session, d: Derived, now: datetime) -> Comparison:
    """Every ledger row against the replayed state, and the totals the events give."""
    out = Comparison()
    _vends(s, d, out)
    _tariffs(s, d, out, now)
    _debts(s, d, out)
    _agents(s, d, out)
    _payments(s, d, out)
    return out


def _differ(out: list[str], what: str, pairs: dict[str, tuple[Any, Any]]) -> None:
    for name, (ledger, audited) in pairs.items():
        if ledger != audited:
            out.append(f"{what}: {name} is {ledger} in the ledger, {audited} in the audit log")


def _vends(s: Session, d: Derived, out: Comparison) -> None:
    rows = s.execute(select(m.Vend, m.Meter.meter_no, m.Card.card_serial)
                     .join(m.Meter, m.Meter.id == m.Vend.meter_id)
                     .outerjoin(m.Card, m.Card.id == m.Vend.card_id)  # token sales: none
                     .order_by(m.Vend.id)).all()
    left = dict(d.vends)
    for v, meter_no, card_serial in rows:
        what = f"vends row {v.id} (meter {meter_no} #{v.sequence})"
        e = left.pop(v.id, None)
        if e is None:
            out.disagreements.append(f"{what}, amount {v.amount}, is not in the audit log "
                                     "(written around the centre)")
            continue
        _differ(out.disagreements, what, {
            "meter": (meter_no, e["meter_no"]), "sequence": (v.sequence, e["sequence"]),
            "amount": (v.amount, e["amount"]), "credit": (v.credit, e["credit"]),
            "credit unit": (v.credit_unit, e["credit_unit"]),
            "request id": (v.request_id, e["request_id"]), "kind": (v.kind, e["kind"]),
            "tender": (v.tender, e["tender"]), "status": (v.status, e["status"]),
            "card": (card_serial or "", e["card_serial"]),
            "tariff version": (v.tariff_version, e["tariff_version"]),
            "price per kWh": (v.price_per_kwh, e["price_per_kwh"]),
            "reprints": (v.reprint_count, e["reprint_count"])})
    for vid, e in sorted(left.items()):
        out.disagreements.append(f"vend {vid} (meter {e['meter_no']} #{e['sequence']}, amount "
                                 f"{e['amount']}) is in the audit log but not in the ledger "
                                 "(deleted)")
    live = [e for e in d.vends.values() if e["status"] != VendStatus.REVERSED.value]
    sales = [e for e in live if e["kind"] == VendKind.SALE.value]
    out.totals["vends"] = str(len(d.vends))
    out.totals["vends reversed"] = str(len(d.vends) - len(live))
    out.totals["sales total"] = str(sum((e["amount"] for e in sales), ZERO))
    for unit in sorted({e["credit_unit"] for e in live}):
        out.totals[f"credit sold ({unit})"] = str(sum(e["credit"] for e in live
                                                      if e["credit_unit"] == unit))


def _tariffs(s: Session, d: Derived, out: Comparison, now: datetime) -> None:
    left = dict(d.tariffs)
    for t in s.scalars(select(m.Tariff).order_by(m.Tariff.id)):
        what = f"tariffs row {t.id} ({t.code} v{t.version})"
        e = left.pop(t.id, None)
        if e is None:
            out.disagreements.append(f"{what}, price {t.price_per_kwh}, is not in the audit log")
            continue
        structure = t.structure or {}
        _differ(out.disagreements, what, {
            "code": (t.code, e["code"]), "version": (t.version, e["version"]),
            "price per kWh": (t.price_per_kwh, Decimal(e["price_per_kwh"])),
            "effective from": (to_utc(t.effective_from).isoformat(), e["effective_from"]),
            "kind": (t.kind, e.get("kind", "flat")),
            "fixed monthly": (t.fixed_monthly, Decimal(e.get("fixed_monthly", "0"))),
            "blocks": ([(b["up_to_wh"], Decimal(b["price_per_kwh"]))
                        for b in structure.get("blocks", [])],
                       [(b["up_to_wh"], Decimal(b["price_per_kwh"]))
                        for b in e.get("blocks", [])]),
            "bands": ([(b["start_minute"], b["end_minute"], Decimal(b["price_per_kwh"]))
                       for b in structure.get("bands", [])],
                      [(b["start_minute"], b["end_minute"], Decimal(b["price_per_kwh"]))
                       for b in e.get("bands", [])]),
            "taxes": ([(x["name"], Decimal(x["rate_percent"])) for x in t.taxes or []],
                      [(x["name"], Decimal(x["rate_percent"])) for x in e.get("taxes", [])])})
    for tid, e in sorted(left.items()):
        out.disagreements.append(f"tariff {tid} ({e['code']} v{e['version']}) is in the audit "
                                 "log but not in the ledger (deleted)")
    in_force: dict[str, dict[str, Any]] = {}
    for e in d.tariffs.values():
        if datetime.fromisoformat(e["effective_from"]) <= now:
            best = in_force.get(e["code"])
            if best is None or (e["effective_from"], e["version"]) > (best["effective_from"],
                                                                    best["version"]):
                in_force[e["code"]] = e
    for code, e in sorted(in_force.items()):
        out.totals[f"tariff {code} in force"] = f"v{e['version']} at {e['price_per_kwh']}/kWh"


def _debts(s: Session, d: Derived, out: Comparison) -> None:
    found = out.notes if d.legacy else out.disagreements
    left = dict(d.debts)
    for row in s.scalars(select(m.Debt).order_by(m.Debt.id)):
        what = f"debts row {row.id} ({row.description})"
        e = left.pop(row.id, None)
        if e is None:
            out.disagreements.append(f"{what}, principal {row.principal}, is not in the audit "
                                     "log")
            continue
        _differ(found, what, {"principal": (row.principal, e["principal"]),
                              "outstanding": (row.outstanding, e["outstanding"])})
    for did, e in sorted(left.items()):
        out.disagreements.append(f"debt {did} (principal {e['principal']}) is in the audit log "
                                 "but not in the ledger (deleted)")
    out.totals["debts outstanding"] = str(sum((e["outstanding"] for e in d.debts.values()),
                                              ZERO))


def _agents(s: Session, d: Derived, out: Comparison) -> None:
    found = out.notes if d.legacy else out.disagreements
    left = dict(d.agent_entries)
    balance: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in s.scalars(select(m.AgentEntry).order_by(m.AgentEntry.id)):
        balance[row.agent_id] += row.amount
        what = f"agent_entries row {row.id} ({row.kind} {row.amount})"
        e = left.pop(row.id, None)
        if e is None:
            found.append(f"{what} is not in the audit log")
            continue
        _differ(found, what, {"agent": (row.agent_id, e[0]), "kind": (row.kind, e[1]),
                              "amount": (row.amount, e[2])})
    for eid, (agent_id, kind, amount) in sorted(left.items()):
        found.append(f"agent entry {eid} ({kind} {amount} of agent {agent_id}) is in the audit "
                     "log but not in the ledger (deleted)")
    names = {agent_id: name for agent_id, name in s.execute(select(m.Agent.id, m.Agent.name))}
    for agent_id in sorted(set(balance) | set(d.agent_balance)):
        name = names.get(agent_id, f"#{agent_id}")
        derived = d.agent_balance.get(agent_id, ZERO)
        _differ(found, f"agent {name}", {"float": (balance.get(agent_id, ZERO), derived)})
        out.totals[f"agent {name} float"] = str(derived)


def _payments(s: Session, d: Derived, out: Comparison) -> None:
    left = dict(d.payments)
    for p in s.scalars(select(m.BankPayment).order_by(m.BankPayment.id)):
        what = f"bank_payments row {p.id} ({p.entry_ref})"
        e = left.pop(p.entry_ref, None)
        if e is None:
            out.disagreements.append(f"{what}, amount {p.amount}, is not in the audit log")
            continue
        pairs: dict[str, tuple[Any, Any]] = {"status": (p.status, e["status"])}
        if e["amount"] is not None:  # legacy imports did not record amounts
            pairs["amount"] = (p.amount, Decimal(e["amount"]))
        _differ(out.disagreements, what, pairs)
    for ref in sorted(left):
        out.disagreements.append(f"bank payment {ref} is in the audit log but not in the "
                                 "ledger (deleted)")
    for status in ("pending", "vended", "unmatched", "returned"):
        known = [Decimal(e["amount"]) for e in d.payments.values()
                 if e["status"] == status and e["amount"] is not None]
        out.totals[f"bank payments {status}"] = str(sum(known, ZERO))
