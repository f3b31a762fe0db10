"""The vending station: the billing centre's card writer.

The billing centre decides (who may buy, how much credit, which sequence number); the station
turns its decisions into MAC-protected card records, writes them through the card writer and
brings readbacks home. It is the one place where billing and card meet, so rig.billing stays
free of hardware and of keys on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rig.billing.types import CreditUnit as BillingCreditUnit
from rig.billing.types import ReadbackData, ReconciliationResult, VendResult
from rig.card.apdu import SW_REF_DATA_NOT_FOUND, MacError, RecordError, StatusWordError
from rig.card.application import KEY_STATION
from rig.card.keys import (
    MasterKey,
    derive_card_key,
    derive_meter_key,
    derive_readback_key,
    wrap_key,
)
from rig.card.readback_format import readback_fields
from rig.card.records import (
    CardInfo,
    CardType,
    ClearRecord,
    CreditUnit,
    KeyChangeRecord,
    ParameterRecord,
    PurchaseRecord,
    ReadbackRecord,
    TariffRecord,
)
from rig.card.session import ApduTransport, CardSession
from rig.card.trace import ApduTrace
from rig.errors import CardError

if TYPE_CHECKING:
    from rig.billing.remote import RemoteBillingCentre
    from rig.billing.service import BillingCentre


def readback_data(record: ReadbackRecord) -> ReadbackData:
    """A card readback record in the centre's terms (not verified: the centre decides that)."""
    fields = readback_fields(record)
    return ReadbackData(**{**fields, "credit_unit": BillingCreditUnit(fields["credit_unit"])},
                        mac_verified=False)


def card_credit_unit(unit: BillingCreditUnit | str) -> CreditUnit:
    return (
        CreditUnit.MONEY_CENTS
        if str(unit) == BillingCreditUnit.MONEY_CENTS
        else CreditUnit.ENERGY_WH
    )


CommandRecord = ParameterRecord | ClearRecord | KeyChangeRecord
_COMMAND_TYPES: dict[type, CardType] = {
    ParameterRecord: CardType.PARAMETER,
    ClearRecord: CardType.CLEAR,
    KeyChangeRecord: CardType.KEY_CHANGE,
}


@dataclass(frozen=True)
class UploadedReadback:
    record: ReadbackRecord
    reconciliation: ReconciliationResult


class VendingStation:
    """Writes vends to cards and uploads readbacks, on behalf of one billing centre."""

    def __init__(
        self,
        billing: BillingCentre | RemoteBillingCentre,
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

    def _authenticate(self, session: CardSession, info: CardInfo) -> None:
        """Mutual authentication with the card key. INTERNAL AUTHENTICATE first: a card that
        is not genuine (a copy of a card's readable files, another issuer's card) is refused
        before the station trusts anything on it, and without burning a try of its key. Then
        EXTERNAL AUTHENTICATE opens CARD_INFO, KEYS, PURCHASE, TARIFF and COMMAND for update
        until the card leaves the writer."""
        key = derive_card_key(self._master, info.card_serial, info.key_revision)
        session.authenticate_card(KEY_STATION, key, info.card_serial)
        session.authenticate(KEY_STATION, key, info.card_serial)

    def personalise(
        self,
        transport: ApduTransport,
        *,
        card_serial: str,
        meter_no: str,
        key_revision: int,
        card_type: CardType = CardType.USER,
    ) -> CardInfo:
        """Issue the card: identity bound to one meter, both card keys, then ACTIVATE.

        A card still in personalisation (or torn during it) is simply personalised again; an
        operational card is re-issued after authenticating with its current card key.
        """
        info = CardInfo(
            card_type=card_type,
            card_serial=card_serial,
            meter_no=meter_no,
            key_revision=key_revision,
            issuer_id=self._issuer,
        )
        session = self._session(transport)
        current = session.read_info_optional()
        if current is not None:
            try:
                self._authenticate(session, current)
            except StatusWordError as e:
                if e.sw != SW_REF_DATA_NOT_FOUND:  # 6A88: no keys yet, still personalising
                    raise
        meter_key = self._key(meter_no, key_revision)
        session.write_info(info)
        session.load_keys(derive_card_key(self._master, card_serial, key_revision),
                          derive_readback_key(meter_key, card_serial))
        session.activate()
        return session.read_info()

    def _open_for(self, session: CardSession, meter_no: str, what: str,
                  card_type: CardType) -> CardInfo:
        info = session.read_info()
        if info.meter_no != meter_no:
            raise CardError(f"card {info.card_serial} is bound to meter {info.meter_no}, "
                            f"not to {what} for meter {meter_no}")
        if info.card_type is not card_type:
            raise CardError(f"card {info.card_serial} is a {info.card_type.name} card, "
                            f"{what} needs a {card_type.name} card")
        self._authenticate(session, info)
        return info

    def write_vend(self, transport: ApduTransport, vend: VendResult) -> PurchaseRecord:
        """Write tariff and purchase records for `vend`, then read the purchase back to verify.
        The tariff record carries the alarm levels the centre queued for the meter
        (``vend.parameters``); the meter applies them with the purchase.

        Safe to repeat after a torn write (same vend = same bytes). Refuses to overwrite a
        purchase the meter has not applied yet, or to write a vend the meter has moved past:
        either would lose credit. The readback on the card says what the meter applied.
        """
        session = self._session(transport)
        info = self._open_for(session, vend.meter_no, f"vend {vend.vend_id}", CardType.USER)
        if info.card_serial != vend.card_serial.upper():
            raise CardError(f"card {info.card_serial} is not card {vend.card_serial} "
                            f"of vend {vend.vend_id}")
        key = self._key(vend.meter_no, vend.key_revision)
        self._check_pending(session, key, vend)
        levels = vend.parameters or {}  # alarm levels the centre queued for this meter
        tariff = TariffRecord(
            meter_no=vend.meter_no,
            version=vend.tariff_version,
            price_per_kwh=vend.price_per_kwh,
            alarm1=levels.get("alarm1", 0),  # 0: the meter keeps its level
            alarm2=levels.get("alarm2", 0),
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
        self.billing.mark_written(vend.vend_id)
        return purchase

    @staticmethod
    def _check_pending(session: CardSession, key: bytes, vend: VendResult) -> None:
        # The newest decodable readback: the station cannot verify readback MACs (the centre
        # does). A slot torn before its readback_no was written keeps the older generation
        # number and is not the newest; one torn later holds the meter's complete new data.
        readback = session.read_readback()
        applied = readback.last_sequence if readback is not None else 0
        try:
            on_card = session.read_purchase()
            if on_card is not None:
                on_card.verify(key)
        except (RecordError, MacError):
            on_card = None  # a torn or foreign write: nothing the meter could apply
        if on_card is not None and on_card.sequence == vend.sequence:
            return  # rewriting the same vend (a retry after a tear)
        if vend.sequence <= applied:
            raise CardError(f"vend {vend.vend_id} has sequence {vend.sequence} but the meter "
                            f"already applied sequence {applied}: it would be ignored")
        if on_card is not None and on_card.sequence > applied:
            raise CardError(f"card holds purchase {on_card.sequence} that the meter has not "
                            f"applied yet (readback: last sequence {applied}): insert the card "
                            "into the meter first")

    def write_command(self, transport: ApduTransport, record: CommandRecord) -> CommandRecord:
        """Sign ``record`` under its meter's key and write it to a PARAMETER / CLEAR /
        KEY_CHANGE card bound to that meter (the card type must match the record)."""
        card_type = _COMMAND_TYPES[type(record)]
        rev = record.old_revision if isinstance(record, KeyChangeRecord) else record.key_revision
        signed = record.sign(self._key(record.meter_no, rev))
        session = self._session(transport)
        self._open_for(session, record.meter_no, type(record).NAME, card_type)
        session.write_command(signed)
        if session.read_command(type(signed)) != signed:
            raise CardError(f"{type(record).NAME} read back from the card differs")
        return signed

    def write_parameters(self, transport: ApduTransport, record: ParameterRecord, *,
                         actor: str) -> ParameterRecord:
        """Write a PARAMETER card, having first recorded its hoarding limit at the billing
        centre (0 = none) as ``actor``'s change (an administrator's): the centre's refusal of
        a vend over the limit must follow the limit the meter is given. Centre first: if it
        refuses the change, no card is written; if the card write then fails, the centre holds
        the limit the next written card will carry."""
        self.billing.set_hoarding_limit(
            record.meter_no, record.hoarding_limit or None, actor=actor)
        signed = self.write_command(transport, record)
        assert isinstance(signed, ParameterRecord)
        return signed

    def key_change(self, meter_no: str, old_revision: int, new_revision: int) -> KeyChangeRecord:
        """The unsigned KEY_CHANGE record moving ``meter_no`` from one key revision to the next
        (the new meter key wrapped under the old one)."""
        return KeyChangeRecord(
            meter_no=meter_no, old_revision=old_revision, new_revision=new_revision,
            wrapped_key=wrap_key(self._key(meter_no, old_revision),
                                 self._key(meter_no, new_revision)))

    def read_readback(self, transport: ApduTransport) -> ReadbackRecord:
        """The card's newest decodable readback, as raw card data: the station holds no key
        that verifies a readback (the meter MACs it under its own readback key, which only the
        billing centre's key service can derive), so the centre verifies it on upload.
        CardError if the card carries none."""
        session = self._session(transport)
        info = session.read_info()
        record = session.read_readback()
        if record is None:
            raise CardError(
                f"card {info.card_serial} carries no readback yet: insert it into the meter first"
            )
        return record

    def upload_readback(self, transport: ApduTransport) -> UploadedReadback:
        """Read the readback and hand its raw record (and decoded fields) to the billing
        centre, which verifies its MAC itself before it confirms anything."""
        session = self._session(transport)
        info = session.read_info()
        record = self.read_readback(transport)
        result = self.billing.ingest_readback(  # type: ignore[attr-defined]
            readback_data(record), card_serial=info.card_serial, raw=record.to_bytes())
        return UploadedReadback(record, result)
