"""The vending station: the billing centre's card writer.

The billing centre decides (who may buy, how much credit, which sequence number); the station
turns its decisions into MAC-protected card records, writes them through the card writer and
brings readbacks home. It is the one place where billing and card meet, so rig.billing stays
free of hardware and of keys on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import ReadbackData, ReconciliationResult, VendResult
from rig.card.apdu import MacError
from rig.card.keys import MasterKey, derive_meter_key
from rig.card.records import (
    CardInfo,
    CardType,
    CreditUnit,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)
from rig.card.session import ApduTransport, CardSession
from rig.card.trace import ApduTrace
from rig.errors import CardError


def card_credit_unit(unit: BillingCreditUnit | str) -> CreditUnit:
    return (
        CreditUnit.MONEY_CENTS
        if str(unit) == BillingCreditUnit.MONEY_CENTS
        else CreditUnit.ENERGY_WH
    )


@dataclass(frozen=True)
class UploadedReadback:
    record: ReadbackRecord
    reconciliation: ReconciliationResult


class VendingStation:
    """Writes vends to cards and uploads readbacks, on behalf of one billing centre."""

    def __init__(
        self,
        billing: object,
        master_key: MasterKey,
        *,
        issuer_id: int = 1,
        trace: ApduTrace | None = None,
    ) -> None:
        self.billing = billing
        self._master = master_key
        self._issuer = issuer_id
        self.trace = trace

    def _key(self, meter_no: str, key_revision: int) -> bytes:
        return derive_meter_key(self._master, meter_no, key_revision)

    def _session(self, transport: ApduTransport) -> CardSession:
        session = CardSession(transport, self.trace)
        session.select_application()
        return session

    def personalise(
        self, transport: ApduTransport, *, card_serial: str, meter_no: str, key_revision: int
    ) -> CardInfo:
        """Write the card's identity: a user card bound to one meter."""
        info = CardInfo(
            card_type=CardType.USER,
            card_serial=card_serial,
            meter_no=meter_no,
            key_revision=key_revision,
            issuer_id=self._issuer,
        )
        session = self._session(transport)
        session.write_info(info)
        return session.read_info()

    def write_vend(self, transport: ApduTransport, vend: VendResult) -> PurchaseRecord:
        """Write tariff and purchase records for `vend`, then read the purchase back to verify."""
        session = self._session(transport)
        info = session.read_info()
        if info.meter_no != vend.meter_no or info.card_serial != vend.card_serial.upper():
            raise CardError(
                f"card {info.card_serial} is bound to meter {info.meter_no}, "
                f"not to vend {vend.vend_id} for meter {vend.meter_no}"
            )
        key = self._key(vend.meter_no, vend.key_revision)
        tariff = TariffRecord(
            meter_no=vend.meter_no,
            version=vend.tariff_version,
            price_per_kwh=vend.price_per_kwh,
            alarm1=0,
            alarm2=0,
        ).sign(key)
        purchase = PurchaseRecord(
            meter_no=vend.meter_no,
            sequence=vend.sequence,
            credit=vend.credit,
            credit_unit=card_credit_unit(vend.credit_unit),
            tariff_version=vend.tariff_version,
            key_revision=vend.key_revision,
        ).sign(key)
        session.write_tariff(tariff)
        session.write_purchase(purchase)
        written = session.read_purchase()
        if written != purchase:
            raise CardError(
                f"purchase {vend.sequence} read back from the card differs from what was written"
            )
        self.billing.mark_written(vend.vend_id)  # type: ignore[attr-defined]
        return purchase

    def read_readback(self, transport: ApduTransport, key_revision: int) -> ReadbackRecord:
        session = self._session(transport)
        info = session.read_info()
        record = session.read_readback()
        if record is None:
            raise CardError(
                f"card {info.card_serial} carries no readback yet: insert it into the meter first"
            )
        return record

    def upload_readback(self, transport: ApduTransport, key_revision: int) -> UploadedReadback:
        """Read the readback, verify its MAC and hand it to the billing centre."""
        record = self.read_readback(transport, key_revision)
        try:
            record.verify(self._key(record.meter_no, key_revision))
            verified = True
        except MacError:
            verified = False
        data = ReadbackData(
            meter_no=record.meter_no,
            energy_wh=record.energy_wh,
            remaining=record.remaining,
            overdraft=record.overdraft,
            purchase_count=record.purchase_count,
            last_sequence=record.last_sequence,
            cumulative_purchase=record.cumulative_purchase,
            credit_unit=(
                BillingCreditUnit.MONEY_CENTS
                if record.credit_unit is CreditUnit.MONEY_CENTS
                else BillingCreditUnit.ENERGY_WH
            ),
            relay_open=record.relay_open,
            alarm_active=record.alarm_active,
            alarm_count=record.alarm_count,
            cutoff_count=record.cutoff_count,
            tamper_count=record.tamper_count,
            power_down_count=record.power_down_count,
            timestamp=record.timestamp,
            tariff_version=record.tariff_version,
            mac_verified=verified,
        )
        result = self.billing.ingest_readback(data)  # type: ignore[attr-defined]
        return UploadedReadback(record, result)
