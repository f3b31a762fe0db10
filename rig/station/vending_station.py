"""The vending station: the billing centre's card writer.

The billing centre decides (who may buy, how much credit, which sequence number); the station
hands its decisions to the card format's writer (``rig.card_formats``: RIGPP by default, the
meter profile's ``[card] format``), which turns them into card data and writes them, and
brings readbacks home. It is the one place where billing and card meet, so rig.billing stays
free of hardware and of keys on the wire; the station itself knows no card format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import ReadbackData, ReconciliationResult, VendResult
from rig.card.session import ApduTransport
from rig.card.trace import ApduTrace
from rig.card_formats.interface import (
    CardFormat,
    CardKind,
    CardReadback,
    ClearCommand,
    IssuedCard,
    KeySource,
    MasterKeys,
    ParameterSet,
    Purchase,
    PurchaseOnCard,
    StationCardWriter,
)
from rig.card_formats.registry import card_format

if TYPE_CHECKING:
    from rig.billing.centre.facade import BillingCentre
    from rig.billing.remote import RemoteBillingCentre


def readback_data(readback: CardReadback) -> ReadbackData:
    """A card's readback in the centre's terms (not verified: the centre decides that)."""
    fields = dict(readback.fields)
    return ReadbackData(**{**fields, "credit_unit": BillingCreditUnit(fields["credit_unit"])},
                        mac_verified=False)


def key_source(keys: KeySource | Any) -> KeySource:
    """``keys`` as a KeySource: a bare master key becomes the plain one."""
    return keys if hasattr(keys, "master") else MasterKeys(keys)


@dataclass(frozen=True)
class UploadedReadback:
    readback: CardReadback
    reconciliation: ReconciliationResult


class VendingStation:
    """Writes vends to cards and uploads readbacks, on behalf of one billing centre, through
    one card format's writer (``fmt``, default RIGPP; ``options`` the bench's writer options,
    e.g. a reader dialect)."""

    def __init__(
        self,
        billing: BillingCentre | RemoteBillingCentre,
        keys: KeySource | Any,
        *,
        fmt: CardFormat | None = None,
        options: Mapping[str, str] | None = None,
        trace: ApduTrace | None = None,
    ) -> None:
        self.billing = billing
        self.format = fmt or card_format()
        self.keys = key_source(keys)
        self._options = dict(options or {})
        self.trace = trace

    @property
    def trace(self) -> ApduTrace | None:
        """Where the writer's (redacted) APDU exchanges go; setting it takes a new writer."""
        return self._trace

    @trace.setter
    def trace(self, trace: ApduTrace | None) -> None:
        self._trace = trace
        self.writer: StationCardWriter = self.format.station_writer(
            self.keys, trace=trace, options=self._options)

    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER) -> IssuedCard:
        """Issue (or re-issue) the card in the writer, bound to ``meter_no``."""
        return self.writer.personalise(transport, card_serial=card_serial, meter_no=meter_no,
                                       key_revision=key_revision, kind=kind)

    def write_vend(self, transport: ApduTransport, vend: VendResult) -> PurchaseOnCard:
        """Write ``vend`` (with the alarm levels the centre queued for the meter) and read it
        back, then tell the centre it is written. Safe to repeat after a torn write; the
        writer refuses to overwrite a purchase the meter has not applied, or to write one the
        meter has moved past (either would lose credit)."""
        levels = vend.parameters or {}  # 0: the meter keeps its level
        purchase = Purchase(
            meter_no=vend.meter_no, card_serial=vend.card_serial, sequence=vend.sequence,
            credit=vend.credit, credit_unit=str(vend.credit_unit),
            tariff_version=vend.tariff_version, price_per_kwh=vend.price_per_kwh,
            key_revision=vend.key_revision, alarm1=levels.get("alarm1", 0),
            alarm2=levels.get("alarm2", 0))
        written = self.writer.write_purchase(transport, purchase)
        self.billing.mark_written(vend.vend_id)
        return written

    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None:
        return self.writer.read_purchase(transport)

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet, *,
                         actor: str) -> None:
        """Write a PARAMETER card, having first recorded its hoarding limit at the billing
        centre (0 = none) as ``actor``'s change (an administrator's): the centre's refusal of
        a vend over the limit must follow the limit the meter is given. Centre first: if it
        refuses the change, no card is written; if the card write then fails, the centre holds
        the limit the next written card will carry."""
        self.billing.set_hoarding_limit(
            parameters.meter_no, parameters.hoarding_limit or None, actor=actor)
        self.writer.write_parameters(transport, parameters)

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None:
        self.writer.write_clear(transport, command)

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None:
        self.writer.write_key_change(transport, meter_no, old_revision, new_revision)

    def read_readback(self, transport: ApduTransport) -> CardReadback:
        """The card's newest readback as raw card data (CardError if it carries none): the
        station holds no key that verifies it; the centre does, on upload."""
        return self.writer.read_readback(transport)

    def upload_readback(self, transport: ApduTransport) -> UploadedReadback:
        """Read the readback and hand its raw record (and decoded fields) to the billing
        centre, which verifies its MAC itself before it confirms anything."""
        readback = self.read_readback(transport)
        result = self.billing.ingest_readback(  # type: ignore[attr-defined]
            readback_data(readback), card_serial=readback.card_serial, raw=readback.raw)
        return UploadedReadback(readback, result)
