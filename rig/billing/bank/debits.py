"""Auto-payment: direct-debit mandates and the ISO 20022 pain.008.001.02 request file.

Each export records one collection per active mandate in ``direct_debits`` (EndToEndId =
mandate reference + collection date), so exporting the same run again yields the same
transactions instead of charging twice, and a mandate's first collection is ``FRST``, later ones
``RCUR`` (one ``PmtInf`` per sequence type, as SEPA requires). The bank later books the money on
a camt.053 statement with that EndToEndId, which the import matches back to the customer.
"""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rig.billing import models as m
from rig.billing.bank.sepa_charset import sepa_id, to_sepa
from rig.billing.centre.errors import Conflict, NotFound
from rig.billing.centre.facade import BillingCentre
from rig.billing.currency import require_currency
from rig.errors import BillingError

PAIN_NS = "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"
BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Creditor:
    """The utility collecting: name, account, bank and SEPA creditor identifier."""

    name: str
    iban: str
    bic: str
    creditor_id: str


@dataclass(frozen=True)
class MandateInfo:
    mandate_ref: str
    account_no: str
    debtor_name: str
    iban: str
    bic: str | None
    signed_on: date
    amount: Decimal
    active: bool


@dataclass(frozen=True)
class Collection:
    end_to_end_id: str
    mandate: MandateInfo
    amount: Decimal
    sequence_type: str


@dataclass(frozen=True)
class DebitExport:
    path: Path
    msg_id: str
    collections: tuple[Collection, ...]

    @property
    def control_sum(self) -> Decimal:
        return sum((c.amount for c in self.collections), Decimal("0.00"))


def check_iban(iban: str) -> str:
    """Normalised IBAN (no spaces, upper case) if its ISO 13616 mod-97 check holds."""
    norm = re.sub(r"\s+", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", norm):
        raise BillingError(f"IBAN {iban!r} is not shaped like an IBAN")
    digits = "".join(str(int(ch, 36)) for ch in norm[4:] + norm[:4])
    if int(digits) % 97 != 1:
        raise BillingError(f"IBAN {iban!r} fails its check digits")
    return norm


def register_mandate(
    centre: BillingCentre, account_no: str, *, mandate_ref: str, iban: str, signed_on: date,
    amount: Decimal, debtor_name: str | None = None, bic: str | None = None,
    actor: str = "system",
) -> MandateInfo:
    """Put a customer on auto-payment: ``amount`` is collected at every debit run."""
    iban = check_iban(iban)
    if bic is not None and not BIC.match(bic):
        raise BillingError(f"BIC {bic!r} is not 8 or 11 letters/digits")
    if not (1 <= len(mandate_ref) <= 35 and sepa_id(mandate_ref)):
        raise BillingError(f"mandate reference {mandate_ref!r} must be 1-35 SEPA characters, "
                           "not starting or ending with '/' nor holding '//'")
    if not isinstance(amount, Decimal) or amount <= 0 or amount != amount.quantize(CENT):
        raise BillingError(f"mandate amount {amount!r} must be a positive Decimal in cents")
    try:
        with centre.transaction("register a debit mandate") as s:
            customer = s.scalar(select(m.Customer).where(m.Customer.account_no == account_no))
            if customer is None:
                raise NotFound(f"no customer with account {account_no!r}")
            row = m.DebitMandate(
                customer=customer, mandate_ref=mandate_ref, iban=iban, bic=bic,
                debtor_name=debtor_name or customer.name,
                signed_on=datetime(signed_on.year, signed_on.month, signed_on.day, tzinfo=UTC),
                amount=amount, active=True)
            s.add(row)
            s.flush()
            info = _mandate_info(row)
            centre.uow.audit(s, actor, "mandate.register", "debit_mandate", row.id, None,
                          _audit_view(info))
            return info
    except IntegrityError:
        raise Conflict(f"customer {account_no} already has a mandate, or reference "
                       f"{mandate_ref!r} is taken") from None


def set_mandate_active(centre: BillingCentre, mandate_ref: str, active: bool,
                       actor: str = "system") -> MandateInfo:
    with centre.transaction("change a debit mandate") as s:
        row = s.scalar(select(m.DebitMandate).where(m.DebitMandate.mandate_ref == mandate_ref))
        if row is None:
            raise NotFound(f"no mandate {mandate_ref!r}")
        before = _mandate_info(row)
        row.active = active
        after = _mandate_info(row)
        centre.uow.audit(s, actor, "mandate.active", "debit_mandate", row.id,
                      _audit_view(before), _audit_view(after))
        return after


def export_debits(
    centre: BillingCentre, out: Path | str, *, creditor: Creditor, collection_date: date,
    actor: str = "system",
) -> DebitExport:
    """Write the pain.008.001.02 file for every active mandate, collecting on
    ``collection_date``; the file is written only after the collections are committed.
    SEPA collects euros only, so the centre must bill in EUR."""
    currency = require_currency(centre, "a SEPA direct-debit export")
    if currency != "EUR":
        raise BillingError(f"SEPA direct debits are in EUR, but this centre bills in {currency}; "
                           "nothing exported")
    check_iban(creditor.iban)
    if not BIC.match(creditor.bic):
        raise BillingError(f"creditor BIC {creditor.bic!r} is not 8 or 11 letters/digits")
    day = datetime(collection_date.year, collection_date.month, collection_date.day, tzinfo=UTC)
    with centre.transaction("export direct debits") as s:
        mandates = s.scalars(select(m.DebitMandate).where(m.DebitMandate.active.is_(True))
                             .order_by(m.DebitMandate.mandate_ref)).all()
        if not mandates:
            raise BillingError("no customer is on auto-payment (no active mandate)")
        collections: list[Collection] = []
        for md in mandates:
            e2e = f"{md.mandate_ref[:26]}-{collection_date:%Y%m%d}"
            row = s.scalar(select(m.DirectDebit).where(m.DirectDebit.end_to_end_id == e2e))
            if row is None:
                earlier = s.scalar(select(m.DirectDebit.id).where(
                    m.DirectDebit.mandate_id == md.id, m.DirectDebit.collection_date < day)
                    .limit(1))
                row = m.DirectDebit(end_to_end_id=e2e, mandate_id=md.id, collection_date=day,
                                    amount=md.amount, created_at=centre.now(),
                                    sequence_type="RCUR" if earlier else "FRST")
                s.add(row)
            collections.append(Collection(e2e, _mandate_info(md), row.amount, row.sequence_type))
        s.flush()
        msg_id = "RIG-DD-{:%Y%m%d}-{}".format(collection_date, hashlib.sha256(
            "|".join(c.end_to_end_id for c in collections).encode()).hexdigest()[:12])
        centre.uow.audit(s, actor, "bank.debits_export", "direct_debit_run", msg_id, None, {
            "collection_date": collection_date.isoformat(), "count": len(collections),
            "control_sum": sum((c.amount for c in collections), Decimal("0.00"))})
        created = centre.now()
    xml = pain008(msg_id, created, creditor, collection_date, collections)
    path = Path(out)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(xml)
    os.replace(tmp, path)
    return DebitExport(path, msg_id, tuple(collections))


def pain008(msg_id: str, created: datetime, creditor: Creditor, collection_date: date,
            collections: list[Collection]) -> bytes:
    """The pain.008.001.02 document: group header, one PmtInf per sequence type. Free text
    (names, remittance information) is transliterated to the EPC basic Latin set
    (:mod:`rig.billing.bank.sepa_charset`)."""
    def el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        child = ET.SubElement(parent, tag, attrs)
        if text is not None:
            child.text = text
        return child

    def path(parent: ET.Element, tags: str, text: str) -> None:
        *outer, last = tags.split("/")
        for t in outer:
            parent = el(parent, t)
        el(parent, last, text)

    def total(cs: list[Collection]) -> str:
        return str(sum((c.amount for c in cs), Decimal("0.00")))

    # Plain tags under a default xmlns: ET cannot mix default_namespace and the Ccy attribute.
    root = ET.Element("Document", xmlns=PAIN_NS)
    init = el(root, "CstmrDrctDbtInitn")
    hdr = el(init, "GrpHdr")
    el(hdr, "MsgId", msg_id)
    el(hdr, "CreDtTm", created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    el(hdr, "NbOfTxs", str(len(collections)))
    el(hdr, "CtrlSum", total(collections))
    path(hdr, "InitgPty/Nm", to_sepa(creditor.name, 70))
    for seq in ("FRST", "RCUR"):
        group = [c for c in collections if c.sequence_type == seq]
        if not group:
            continue
        pmt = el(init, "PmtInf")
        el(pmt, "PmtInfId", f"{msg_id}-{seq}")
        el(pmt, "PmtMtd", "DD")
        el(pmt, "NbOfTxs", str(len(group)))
        el(pmt, "CtrlSum", total(group))
        tp = el(pmt, "PmtTpInf")
        path(tp, "SvcLvl/Cd", "SEPA")
        path(tp, "LclInstrm/Cd", "CORE")
        el(tp, "SeqTp", seq)
        el(pmt, "ReqdColltnDt", collection_date.isoformat())
        path(pmt, "Cdtr/Nm", to_sepa(creditor.name, 70))
        path(pmt, "CdtrAcct/Id/IBAN", check_iban(creditor.iban))
        path(pmt, "CdtrAgt/FinInstnId/BIC", creditor.bic)
        el(pmt, "ChrgBr", "SLEV")
        scheme = el(el(el(el(pmt, "CdtrSchmeId"), "Id"), "PrvtId"), "Othr")
        el(scheme, "Id", creditor.creditor_id)
        path(scheme, "SchmeNm/Prtry", "SEPA")
        for c in group:
            tx = el(pmt, "DrctDbtTxInf")
            path(tx, "PmtId/EndToEndId", c.end_to_end_id)
            el(tx, "InstdAmt", str(c.amount), Ccy="EUR")
            mandate = el(el(tx, "DrctDbtTx"), "MndtRltdInf")
            el(mandate, "MndtId", c.mandate.mandate_ref)
            el(mandate, "DtOfSgntr", c.mandate.signed_on.isoformat())
            agent = el(el(tx, "DbtrAgt"), "FinInstnId")
            if c.mandate.bic:
                el(agent, "BIC", c.mandate.bic)
            else:
                path(agent, "Othr/Id", "NOTPROVIDED")
            path(tx, "Dbtr/Nm", to_sepa(c.mandate.debtor_name, 70))
            path(tx, "DbtrAcct/Id/IBAN", c.mandate.iban)
            path(tx, "RmtInf/Ustrd", to_sepa(f"{c.mandate.account_no} prepaid energy", 140))
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _audit_view(x: MandateInfo) -> dict[str, object]:
    return {**asdict(x), "signed_on": x.signed_on.isoformat()}


def _mandate_info(x: m.DebitMandate) -> MandateInfo:
    return MandateInfo(x.mandate_ref, x.customer.account_no, x.debtor_name, x.iban, x.bic,
                       x.signed_on.date(), x.amount, x.active)
