"""The vending station's side of the esam-cpu format: the office's key service writes cards.

Every cryptographic step is a request to a ``rig.esam.keys.KeyService`` (the office's
encryption machine; rig's software one by default): the cryptogram that opens the card, the
MAC the meter's ESAM checks, the key packages a card or a meter's ESAM is loaded with. No key
passes through here. The key state a card is made for follows the key revision: 0 public,
any other private (docs/card-formats/esam-cpu.md).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from rig.card.apdu import RecordError, StatusWordError
from rig.card.session import ApduTransport
from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.apdus import CardClient, return_mac_input
from rig.card_formats.esam_cpu.card import SW_SM_INCORRECT, secret_apdu
from rig.card_formats.interface import (
    CardKind,
    CardReadback,
    ClearCommand,
    IssuedCard,
    KeySource,
    ParameterSet,
    Purchase,
    PurchaseOnCard,
)
from rig.errors import CardError
from rig.esam.keys import KeyId, KeyService, KeyState, LabKeyService, card_factor, meter_factor


def key_service(keys: KeySource | Any) -> KeyService:
    """The KeySource's own key service (a lab's encryption machine), else rig's software one
    built from the lab master key."""
    own = getattr(keys, "key_service", None)
    return own if own is not None else LabKeyService.from_master(keys.master)


def office_mac(service: KeyService, state: KeyState, serial: str, signed: bytes) -> bytes:
    """The office's MAC over a record: ``card-purchase`` of the card, zero IV, over the card
    serial and the record (so a record copied to another card does not verify)."""
    factor = card_factor(serial)
    return service.mac(KeyId.CARD_PURCHASE, state, factor, factor + signed)


class EsamCpuWriter:
    """A ``StationCardWriter`` for esam-cpu cards."""

    def __init__(self, keys: KeySource | Any, *, trace: ApduTrace | None = None) -> None:
        self.service = key_service(keys)
        self.trace = trace

    # -- plumbing ---------------------------------------------------------------------
    def client(self, transport: ApduTransport) -> CardClient:
        if self.trace is not None:
            transport = TracedTransport(transport, self.trace,
                                        str(getattr(transport, "name", "card")),
                                        secret=secret_apdu)
        return CardClient(transport)

    def open(self, transport: ApduTransport) -> tuple[CardClient, str, layout.CardInfo | None]:
        """(client, card serial, card information) with the application selected."""
        client = self.client(transport)
        try:
            serial = client.read_serial()
        except StatusWordError as e:
            raise CardError(f"not an esam-cpu card ({e})") from None
        if serial is None:
            raise CardError("card not issued: it has no serial")
        client.select_application()
        try:
            info = layout.CardInfo.decode(client.read(layout.FID_INFO))
        except RecordError as e:
            raise CardError(f"card {serial}: card information unreadable ({e})") from None
        return client, serial, info

    def _issued(self, transport: ApduTransport, kinds: tuple[CardKind, ...],
                meter_no: str | None = None) -> tuple[CardClient, str, layout.CardInfo]:
        client, serial, info = self.open(transport)
        if info is None:
            raise CardError(f"card {serial} is not issued")
        if info.card_type.kind not in kinds:
            raise CardError(f"card {serial} is a {info.card_type.kind.value} card, not a "
                            f"{' or '.join(k.value for k in kinds)} card")
        if meter_no is not None and info.meter_no != meter_no:
            raise CardError(f"card {serial} is for meter {info.meter_no}, not {meter_no}")
        return client, serial, info

    def authenticate(self, client: CardClient, serial: str, state: KeyState) -> None:
        """EXTERNAL AUTHENTICATE with the office's ``card-external`` cryptogram: opens the
        card's files for update until it leaves the writer."""
        challenge = client.get_challenge(8)
        client.external_authenticate(self.service.cryptogram(
            KeyId.CARD_EXTERNAL, state, card_factor(serial), challenge))

    def _signed_info(self, serial: str, info: layout.CardInfo) -> layout.CardInfo:
        return replace(info, mac=office_mac(self.service, info.key_state, serial, info.signed()))

    def write_info(self, client: CardClient, serial: str, info: layout.CardInfo) -> None:
        """Write the card-information file with the office's MAC, and read it back."""
        data = self._signed_info(serial, info).to_bytes()
        self.authenticate(client, serial, info.key_state)
        client.update(layout.FID_INFO, data)
        if client.read(layout.FID_INFO) != data:
            raise CardError(f"card {serial}: the card information did not read back as written")

    # -- issue ------------------------------------------------------------------------
    def personalise(self, transport: ApduTransport, *, card_serial: str, meter_no: str,
                    key_revision: int, kind: CardKind = CardKind.USER,
                    customer_no: str | None = None) -> IssuedCard:
        """Issue (or re-issue) the card: its serial (once), its keys for the key state of
        ``key_revision`` (sealed under its card-issue key), its card information. A card
        moved to another meter loses the old meter's purchase, parameters and return-write
        record; re-issued for the same meter it keeps them. ``customer_no`` (rig's centre
        has one account per meter and passes none): default the meter number."""
        if kind not in layout.ISSUED_AS:
            raise CardError(f"the esam-cpu format has no {kind.value} card")
        serial = card_serial.upper()
        raw_serial = layout.serial_bytes("CARD", serial)
        state = layout.key_state_of(key_revision)
        client = self.client(transport)
        on_card = client.read_serial()
        if on_card is None:
            client.update(layout.FID_SERIAL, raw_serial)
        elif on_card != serial:
            raise CardError(f"card serial {on_card} is fixed on this card: it cannot be "
                            f"issued as {serial}")
        client.select_application()
        try:
            old = layout.CardInfo.decode(client.read(layout.FID_INFO))
        except RecordError:
            old = None  # an issue cut mid-way: written again
        self._load_keys(client, serial, state, old)
        same = old is not None and old.meter_no == meter_no
        card_type = layout.ISSUED_AS[kind]
        if same and old is not None and card_type is layout.CardType.OPEN_ACCOUNT and \
                old.purchase_count > 1:
            card_type = layout.CardType.PURCHASE
        customer = customer_no or (old.customer_no if same and old else meter_no)
        info = layout.CardInfo(card_type, state, meter_no, customer)
        if same and old is not None:
            info = replace(old, card_type=card_type, key_state=state, customer_no=customer)
        self.write_info(client, serial, info)
        if not same:
            self._empty(client, serial, state)
        return IssuedCard(serial, meter_no, kind, key_revision)

    def _load_keys(self, client: CardClient, serial: str, state: KeyState,
                   old: layout.CardInfo | None) -> None:
        """The card's four keys of ``state``: its card-issue key first, sealed under the one
        it holds (tried in the state its card information names, then the other), then the
        others sealed under the new card-issue key."""
        factor = card_factor(serial)
        first = old.key_state if old is not None else KeyState.PUBLIC
        tried = [first, KeyState.PRIVATE if first is KeyState.PUBLIC else KeyState.PUBLIC]
        for held in tried:
            try:
                client.write_key(KeyId.CARD_ISSUE, self.service.key_package(
                    KeyId.CARD_ISSUE, state, factor, sealed_with=KeyId.CARD_ISSUE,
                    sealed_state=held))
                break
            except StatusWordError as e:
                if e.sw != SW_SM_INCORRECT or held is tried[-1]:
                    raise CardError(f"card {serial}: its card-issue key is neither the public "
                                    f"nor this office's private one ({e})") from None
        for key_id in layout.CARD_KEYS[1:]:
            client.write_key(key_id, self.service.key_package(
                key_id, state, factor, sealed_with=KeyId.CARD_ISSUE, sealed_state=state))

    def _empty(self, client: CardClient, serial: str, state: KeyState) -> None:
        """A card bound anew: no parameters, no key packages, an empty return-write file."""
        for fid in (layout.FID_PARAMETERS, layout.FID_KEY_UPDATE):
            client.update(fid, bytes(layout.EF_SIZES[fid]))
        self.write_return(client, serial, state, bytes(layout.EF_SIZES[layout.FID_RETURN]))

    def write_return(self, client: CardClient, serial: str, state: KeyState,
                     data: bytes) -> None:
        """UPDATE BINARY with MAC of the return-write file, MAC'd by the key service (the
        office empties it; a meter fills it with its ESAM's MAC)."""
        client.select_ef(layout.FID_RETURN)
        challenge = client.get_challenge(8)
        mac = self.service.mac(KeyId.CARD_RETURN, state, card_factor(serial),
                               return_mac_input(data), challenge)
        client.update_with_mac(layout.FID_RETURN, data, mac)

    def identify(self, transport: ApduTransport) -> IssuedCard:
        _, serial, info = self.open(transport)
        if info is None:
            raise CardError(f"card {serial} is not issued")
        return IssuedCard(serial, info.meter_no, info.card_type.kind,
                          layout.revision_of(info.key_state))

    # -- vends ------------------------------------------------------------------------
    def read_purchase(self, transport: ApduTransport) -> PurchaseOnCard | None:
        _, _, info = self.open(transport)
        if info is None or not info.card_type.user or info.purchase_count == 0:
            return None
        return _on_card(info)

    def _return_record(self, client: CardClient) -> layout.ReturnRecord | None:
        try:
            return layout.ReturnRecord.decode(client.read(layout.FID_RETURN))
        except RecordError:
            return None

    def write_purchase(self, transport: ApduTransport, purchase: Purchase) -> PurchaseOnCard:
        """Write a vend. The pending-purchase rule: the meter credits only purchase count =
        its own + 1, so a new vend waits until the card's return-write record shows the
        previous one applied; the same vend may be written again (a torn write)."""
        client, serial, info = self._issued(transport, (CardKind.USER, CardKind.REPLACEMENT),
                                            purchase.meter_no)
        state = layout.key_state_of(purchase.key_revision)
        if state is not info.key_state:
            raise CardError(f"purchase made for the {state.value} key state, card {serial} "
                            f"is keyed {info.key_state.value}")
        record = self._return_record(client)
        applied = record.last_sequence if record is not None else None
        on_card = info.purchase_count or None
        if applied is not None and purchase.sequence <= applied:
            raise CardError(f"purchase {purchase.sequence}: meter {purchase.meter_no} has "
                            f"applied purchase {applied} already")
        if on_card is not None and on_card != purchase.sequence and (
                applied is None or on_card > applied):
            raise CardError(f"card {serial} carries purchase {on_card} the meter has not "
                            "applied yet: insert the card in the meter first")
        if applied is not None and purchase.sequence != applied + 1:
            raise CardError(f"purchase {purchase.sequence}: the meter takes only purchase "
                            f"{applied + 1} next")
        card_type = (layout.CardType.REPLACEMENT if info.card_type is layout.CardType.REPLACEMENT
                     else layout.CardType.OPEN_ACCOUNT if purchase.sequence == 1
                     else layout.CardType.PURCHASE)
        new = replace(info, card_type=card_type, purchase_count=purchase.sequence,
                      credit=purchase.credit, credit_unit=purchase.credit_unit,
                      tariff_version=purchase.tariff_version,
                      price_per_kwh=purchase.price_per_kwh, alarm1=purchase.alarm1,
                      alarm2=purchase.alarm2)
        new.signed()  # RecordError names a bad field before any write
        self.write_info(client, serial, new)
        return _on_card(new)

    def write_raw_info(self, transport: ApduTransport, info: layout.CardInfo) -> None:
        """Write a card-information file as given, its MAC left as it is (an attacker's
        write: the forged-purchase attack)."""
        client, serial, _ = self.open(transport)
        self.authenticate(client, serial, info.key_state)
        client.update(layout.FID_INFO, info.to_bytes())

    def write_parameters(self, transport: ApduTransport, parameters: ParameterSet) -> None:
        if len(parameters.tariff_rates) > 1 or parameters.friendly_periods:
            raise CardError("the esam-cpu parameter file carries one flat price and no "
                            "friendly periods")
        client, serial, info = self._issued(transport, (CardKind.PARAMETER,),
                                            parameters.meter_no)
        price = (parameters.tariff_rates[0].price_per_kwh if parameters.tariff_rates
                 else Decimal(0))
        record = layout.Parameters(
            parameters.version, parameters.meter_no, parameters.alarm1, parameters.alarm2,
            parameters.overdraft_limit, parameters.hoarding_limit, parameters.power_limit_w,
            parameters.tariff_version, price)
        record = replace(record, mac=office_mac(self.service, info.key_state, serial,
                                                record.signed()))
        self.authenticate(client, serial, info.key_state)
        client.update(layout.FID_PARAMETERS, record.to_bytes())

    def write_clear(self, transport: ApduTransport, command: ClearCommand) -> None:
        """A preset card (clears the meter's event counters once) or, ``test_only``, a test
        card (the meter shows its state and changes nothing)."""
        client, serial, info = self._issued(transport, (CardKind.CLEAR,), command.meter_no)
        card_type = layout.CardType.TEST if command.test_only else layout.CardType.PRESET
        self.write_info(client, serial, replace(info, card_type=card_type,
                                                 command_no=command.clear_no))

    def write_key_change(self, transport: ApduTransport, meter_no: str, old_revision: int,
                         new_revision: int) -> None:
        """A key-update card: every ESAM slot's key of the new key state, sealed under the
        meter's master-control key of the old one (master-control last). The card itself is
        keyed in the old state, which the meter is in when it reads it."""
        old, new = layout.key_state_of(old_revision), layout.key_state_of(new_revision)
        client, serial, info = self._issued(transport, (CardKind.KEY_CHANGE,), meter_no)
        if info.key_state is not old:
            raise CardError(f"key-update card {serial} is keyed {info.key_state.value}: "
                            f"issue it at key revision {old_revision} first")
        factor = meter_factor(meter_no)
        packages = [self.service.key_package(
            key_id, new, factor, sealed_with=KeyId.MASTER_CONTROL, sealed_state=old,
            whole_master=key_id.for_cards)
            for key_id in sorted(KeyId, key=lambda k: k is KeyId.MASTER_CONTROL)]
        self.write_info(client, serial, replace(info, command_no=new_revision))
        client.update(layout.FID_KEY_UPDATE, layout.key_update_file(packages))

    def read_readback(self, transport: ApduTransport) -> CardReadback:
        client, serial, _ = self.open(transport)
        raw = client.read(layout.FID_RETURN)
        try:
            record = layout.ReturnRecord.decode(raw)
        except RecordError as e:
            raise CardError(f"card {serial}: return-write record unreadable ({e})") from None
        if record is None:
            raise CardError(f"card {serial} carries no return-write record yet")
        return CardReadback(serial, raw, layout.readback_fields(record))


def _on_card(info: layout.CardInfo) -> PurchaseOnCard:
    return PurchaseOnCard(info.meter_no, info.purchase_count, info.credit, info.credit_unit)
