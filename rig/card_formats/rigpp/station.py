"""RIGPP's vending-station side: the neutral decisions of the centre as MAC-protected RIGPP
records, written and read back through the card's own commands (docs/card-spec.md).

The station (``rig.station``) hands in :class:`Purchase`, :class:`ParameterSet`... and gets
:class:`PurchaseOnCard`, :class:`CardReadback` back; records, keys and sessions stay here.
"""

from __future__ import annotations

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
    ClearAction,
    ClearRecord,
    FriendlyPeriod,
    KeyChangeRecord,
    ParameterRecord,
    PurchaseRecord,
    TariffRate,
    TariffRecord,
)
from rig.card.session import ApduTransport, CardSession
from rig.card.trace import ApduTrace
from rig.card_formats.interface import (
    MONEY_CENTS,
    CardKind,
    CardReadback,
    ClearCommand,
    IssuedCard,
    ParameterSet,
    Purchase,
    PurchaseOnCard,
)
from rig.credit_unit import CreditUnit
from rig.errors import CardError

CommandRecord = ParameterRecord | ClearRecord | KeyChangeRecord
_COMMAND_TYPES: dict[type, CardType] = {
    ParameterRecord: CardType.PARAMETER,
    ClearRecord: CardType.CLEAR,
    KeyChangeRecord: CardType.KEY_CHANGE,
}
CARD_TYPES = {kind: CardType[kind.name] for kind in CardKind
              if kind.name in CardType.__members__}  # a RIGPP card has no replacement kind
KINDS = {card_type: kind for kind, card_type in CARD_TYPES.items()}


def card_unit(unit: str) -> CreditUnit:
    return CreditUnit.MONEY_CENTS if str(unit) == MONEY_CENTS else CreditUnit.ENERGY_WH


def unit_name(unit: CreditUnit) -> str:
    return MONEY_CENTS if unit is CreditUnit.MONEY_CENTS else "energy_wh"


def issued(info: CardInfo) -> IssuedCard:
    return IssuedCard(info.card_serial, info.meter_no, KINDS[info.card_type], info.key_revision)


def on_card(record: PurchaseRecord) -> PurchaseOnCard:
    return PurchaseOnCard(record.meter_no, record.sequence, record.credit,
                          unit_name(record.credit_unit))


def parameter_record(p: ParameterSet) -> ParameterRecord:
    return ParameterRecord(
        meter_no=p.meter_no, version=p.version, alarm1=p.alarm1, alarm2=p.alarm2,
        overdraft_limit=p.overdraft_limit, hoarding_limit=p.hoarding_limit,
        power_limit_w=p.power_limit_w,
        friendly_periods=tuple(FriendlyPeriod(f.start_hour, f.end_hour, f.weekdays)
                               for f in p.friendly_periods),
        tariff_version=p.tariff_version,
        tariff_rates=tuple(TariffRate(r.start_minute, r.price_per_kwh) for r in p.tariff_rates),
        key_revision=p.key_revision)


class RigppStationWriter:
    """The station's RIGPP card writer: mutual authentication with the card key, records
    MAC'd under the meter key, every write read back."""

    def __init__(self, master_key: MasterKey, *, issuer_id: int = 1,
                 trace: ApduTrace | None = None) -> None:
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

    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER) -> IssuedCard:
        """Issue the card: identity bound to one meter, both card keys, then ACTIVATE.

        A card still in personalisation (or torn during it) is simply personalised again; an
        operational card is re-issued after authenticating with its current card key.
        """
        if CardKind(kind) not in CARD_TYPES:
            raise CardError(f"the rigpp format has no {CardKind(kind).value} card (re-issue a "
                            "user card instead)")
        info = CardInfo(card_type=CARD_TYPES[CardKind(kind)], card_serial=card_serial,
                        meter_no=meter_no, key_revision=key_revision, issuer_id=self._issuer)
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
        return issued(session.read_info())

    def identify(self, transport: ApduTransport) -> IssuedCard:
        return issued(self._session(transport).read_info())

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

    def write_purchase(self, transport: ApduTransport, purchase: Purchase) -> PurchaseOnCard:
        """Write tariff and purchase records, then read the purchase back to verify. The
        tariff record carries the alarm levels the centre queued for the meter; the meter
        applies them with the purchase.

        Safe to repeat after a torn write (same purchase = same bytes). Refuses to overwrite
        a purchase the meter has not applied yet, or to write one the meter has moved past:
        either would lose credit. The readback on the card says what the meter applied.
        """
        what = f"purchase {purchase.sequence}"
        session = self._session(transport)
        info = self._open_for(session, purchase.meter_no, what, CardType.USER)
        if info.card_serial != purchase.card_serial.upper():
            raise CardError(f"card {info.card_serial} is not card {purchase.card_serial} "
                            f"of {what}")
        key = self._key(purchase.meter_no, purchase.key_revision)
        self._check_pending(session, key, purchase)
        tariff = TariffRecord(
            meter_no=purchase.meter_no, version=purchase.tariff_version,
            price_per_kwh=purchase.price_per_kwh,
            alarm1=purchase.alarm1, alarm2=purchase.alarm2,  # 0: the meter keeps its level
        ).sign(key)
        record = PurchaseRecord(
            meter_no=purchase.meter_no, sequence=purchase.sequence, credit=purchase.credit,
            credit_unit=card_unit(purchase.credit_unit), tariff_version=purchase.tariff_version,
            key_revision=purchase.key_revision,
        ).sign(key)
        session.write_tariff(tariff)
        session.write_purchase(record)
        if session.read_purchase() != record:
            raise CardError(f"{what} read back from the card differs from what was written")
        return on_card(record)

    @staticmethod
    def _check_pending(session: CardSession, key: bytes, purchase: Purchase) -> None:
        # The newest decodable readback: the station cannot verify readback MACs (the centre
        # does). A slot torn before its readback_no was written keeps the older generation
        # number and is not the newest; one torn later holds the meter's complete new data.
        readback = session.read_readback()
        applied = readback.last_sequence if readback is not None else 0
        try:
            current = session.read_purchase()
            if current is not None:
                current.verify(key)
        except (RecordError, MacError):
            current = None  # a torn or foreign write: nothing the meter could apply
        seq = purchase.sequence
        if current is not None and current.sequence == seq:
            return  # rewriting the same purchase (a retry after a tear)
        if seq <= applied:
            raise CardError(f"purchase {seq} has sequence {seq} but the meter already "
                            f"applied sequence {applied}: it would be ignored")
        if current is not None and current.sequence > applied:
            raise CardError(f"card holds purchase {current.sequence} that the meter has not "
                            f"applied yet (readback: last sequence {applied}): insert the card "
                            "into the meter first")

    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None:
        record = self._session(transport).read_purchase()
        return None if record is None else on_card(record)

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

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet) -> None:
        self.write_command(transport, parameter_record(parameters))

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None:
        action = ClearAction.TEST if command.test_only else ClearAction.CLEAR_EVENTS
        self.write_command(transport, ClearRecord(command.meter_no, command.clear_no, action,
                                                  command.key_revision))

    def key_change(self, meter_no: str, old_revision: int, new_revision: int) -> KeyChangeRecord:
        """The unsigned KEY_CHANGE record moving ``meter_no`` from one key revision to the next
        (the new meter key wrapped under the old one)."""
        return KeyChangeRecord(
            meter_no=meter_no, old_revision=old_revision, new_revision=new_revision,
            wrapped_key=wrap_key(self._key(meter_no, old_revision),
                                 self._key(meter_no, new_revision)))

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None:
        self.write_command(transport, self.key_change(meter_no, old_revision, new_revision))

    def read_readback(self, transport: ApduTransport) -> CardReadback:
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
        return CardReadback(info.card_serial, record.to_bytes(), readback_fields(record))

    def write_raw_purchase(self, transport: ApduTransport, record: PurchaseRecord) -> None:
        """Write ``record`` as it is (no signing): what a cloned writer holding the card key
        but not the meter key could put on a card."""
        session = self._session(transport)
        info = session.read_info()
        key = derive_card_key(self._master, info.card_serial, info.key_revision)
        session.authenticate(KEY_STATION, key, info.card_serial)
        session.write_purchase(record)

    def raw_purchase(self, transport: ApduTransport) -> PurchaseRecord | None:
        return self._session(transport).read_purchase()
