"""The meter's side of the esam-cpu format: a State Grid–style meter with a CPU card slot
and an ESAM (docs/card-formats/esam-cpu.md, "The meter").

One insertion, as for every rig format: **check** (the card's identity, key state, mutual
authentication card↔ESAM with card-serial-dispersed keys, the card-information file read
with the card's MAC and the office's MAC checked by the ESAM, the binding, the purchase-count
rule, the hoarding limit and the register ceiling) with nothing changed; **apply** (the ESAM's
wallet credited, then the meter's registers); **return-write** (the running information, the
last abnormal insertion, written with the ESAM's MAC). Every refusal is a ``CardRefusal``
with a State Grid card error code, the card serial, the failing command's header and status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from rig.card.apdu import CardRemovedError, RecordError, StatusWordError
from rig.card.keys import derive_readback_mac_key, mac
from rig.card.session import ApduTransport
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.apdus import CardClient, return_mac_input
from rig.card_formats.esam_cpu.layout import CardType
from rig.card_formats.interface import CardRefusal, InsertionOutcome, MeterWallet
from rig.card_formats.meter_rules import apply_vend_alarms, parameter_levels
from rig.card_formats.readback_registers import registers_now
from rig.errors import CardError
from rig.esam.esam import WALLET_MAX, Esam, EsamError, EsamRefusal
from rig.esam.keys import KeyId
from rig.esam.link import EsamLink
from rig.meter.card_errors import CardErrorCode

NO_SERIAL = "0" * 16
OK_SW = 0x9000
REGISTER_CEILING = Decimal("999999.99")  # the remaining-credit register's largest value
ESAM_CODES = {EsamRefusal.KEY_STATE: CardErrorCode.NOT_AUTHORISED,
              EsamRefusal.AUTHENTICATION: CardErrorCode.AUTHENTICATION_ERROR,
              EsamRefusal.MAC: CardErrorCode.MAC_ERROR,
              EsamRefusal.CUSTOMER: CardErrorCode.CUSTOMER_NUMBER_MISMATCH,
              EsamRefusal.NOT_OPENED: CardErrorCode.PURCHASE_CARD_ACCOUNT_NOT_OPENED,
              EsamRefusal.PURCHASE_COUNT: CardErrorCode.PURCHASE_COUNT_ERROR,
              EsamRefusal.OVERFLOW: CardErrorCode.HOARDING_LIMIT_EXCEEDED}


class Refused(Exception):
    """A check failed; nothing in the meter changed (``write_return``: record it on the
    card's return-write file first, the ≥ +2 purchase-count rule)."""

    def __init__(self, message: str, code: CardErrorCode, header: bytes = bytes(5),
                 status_word: int = 0, *, write_return: bool = False) -> None:
        super().__init__(message)
        self.code, self.header, self.status_word = code, header, status_word
        self.write_return = write_return


@dataclass
class Plan:
    serial: str
    info: layout.CardInfo
    record: layout.ReturnRecord | None  # the card's return-write record before this insertion
    credit: bool = False  # the purchase is exactly one ahead: credit it
    bind: bool = False  # the account's card becomes this one (open account, replacement)
    write_return: bool = False
    refusal: Refused | None = None  # refused after the return-write (≥ +2)
    parameters: layout.Parameters | None = None
    packages: list[bytes] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    applied: int | None = None


class EsamCpuMeterReader:
    """A ``MeterCardReader``: the card slot of one meter with an ESAM."""

    def __init__(self, wallet: MeterWallet, meter_no: str, esam: Esam, *,
                 readback_key: bytes, link: EsamLink | None = None) -> None:
        self.wallet = wallet
        self.meter_no = meter_no
        self.esam = esam  # the chip; the firmware reaches it only over its bus, ``link``
        self.link = link or EsamLink.emulated(esam)
        self._readback_key = readback_key  # this meter's, from the centre's readback master
        self.key_revision = layout.revision_of(self.link.key_state)
        self.bound_serial: str | None = None  # the account's card (set at open account)
        self.parameters_version = 0
        self.last_clear_no = 0
        self.refusal_count = 0
        self.last_abnormal = layout.AbnormalInsertion()

    # -- one insertion ------------------------------------------------------------------
    def insert(self, transport: ApduTransport, now: datetime) -> InsertionOutcome:
        trace = getattr(transport, "trace", None)  # a traced slot traces the ESAM beside it
        self.link.trace = trace if hasattr(trace, "record") else None
        self.key_revision = layout.revision_of(self.link.key_state)
        client = CardClient(transport)
        serial = NO_SERIAL
        try:
            serial = self._serial(client)
            plan = self._check(client, serial, now)
        except Refused as e:
            return self._refuse(e, serial)
        except CardRemovedError as e:
            return self._refuse(Refused(str(e), CardErrorCode.CARD_PULLED_EARLY,
                                        client.last_header), serial)
        except CardError as e:
            return self._refuse(Refused(f"card error: {e}", CardErrorCode.CARD_COMMUNICATION_ERROR,
                                        client.last_header), serial)
        card_type = plan.info.card_type.kind.value
        if plan.refusal is not None:  # ≥ +2: the running information first, then refused
            outcome = self._refuse(plan.refusal, serial, card_type)
            self._try_return(client, plan, now)
            return outcome
        self._apply(plan, now)
        if plan.write_return:
            self._try_return(client, plan, now)
        params = None
        if plan.parameters is not None:
            q = plan.parameters
            params = {"version": q.version, "alarm1": q.alarm1, "alarm2": q.alarm2,
                      "overdraft_limit": q.overdraft_limit, "hoarding_limit": q.hoarding_limit,
                      "power_limit_w": q.power_limit_w, "tariff_version": q.tariff_version,
                      "price_per_kwh": str(q.price_per_kwh)}
        return InsertionOutcome(True, plan.applied, "; ".join(plan.messages), card_type, params)

    def _refuse(self, e: Refused, serial: str, card_type: str = "") -> InsertionOutcome:
        self.refusal_count += 1
        self.last_abnormal = layout.AbnormalInsertion(int(e.code), e.header, e.status_word)
        return InsertionOutcome(False, None, str(e), card_type, refusal=CardRefusal(
            int(e.code), serial, e.header, e.status_word))

    def _try_return(self, client: CardClient, plan: Plan, now: datetime) -> None:
        try:
            self._write_return(client, plan, now)
        except (CardError, EsamError) as e:
            plan.messages.append(f"card removed before the return-write ({e})")
        else:
            plan.messages.append("return-write file written")

    @staticmethod
    def _card_step(code: CardErrorCode, what: str, step: Any, *args: Any) -> Any:
        """Run one card command; its refusal (a status word) is a refusal with ``code``."""
        try:
            return step(*args)
        except StatusWordError as e:
            raise Refused(f"{what}: {e}", code, e.header, e.sw) from None

    def _esam_step(self, client: CardClient, step: Any, *args: Any) -> Any:
        """Ask the ESAM; its refusal is filed with the ESAM command's header and status word
        (a refusal without one: against the last card command, answered 9000)."""
        try:
            return step(*args)
        except EsamError as e:
            header, sw = (e.header, e.status_word) if e.header else (client.last_header, OK_SW)
            raise Refused(str(e), ESAM_CODES.get(e.refusal, CardErrorCode.ESAM_ERROR),
                          header, sw) from None

    # -- phase 1: check -----------------------------------------------------------------
    def _serial(self, client: CardClient) -> str:
        serial = self._card_step(CardErrorCode.CARD_RESET_ERROR, "not an esam-cpu card",
                                 client.read_serial)
        if serial is None:
            raise Refused("card not issued (no serial)", CardErrorCode.CARD_NOT_ISSUED)
        return str(serial)

    def _check(self, client: CardClient, serial: str, now: datetime) -> Plan:
        step = self._card_step
        step(CardErrorCode.CARD_RESET_ERROR, "no esam-cpu application",
             client.select_application)
        raw = step(CardErrorCode.CARD_FILE_FORMAT_ERROR, "card information",
                   client.read, layout.FID_INFO)
        info = self._decode(layout.CardInfo, raw)
        if info is None:
            raise Refused("card not issued", CardErrorCode.CARD_NOT_ISSUED)
        esam = self.link
        self._esam_step(client, esam.check_key_state, KeyId.CARD_PURCHASE, info.key_state)
        challenge = self._esam_step(client, esam.challenge, 8)
        answer = step(CardErrorCode.AUTHENTICATION_ERROR, "internal authentication",
                      client.internal_authenticate, challenge)
        self._esam_step(client, esam.check_card, serial, challenge, answer)
        card_challenge = step(CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR,
                              "external authentication", client.get_challenge, 8)
        step(CardErrorCode.EXTERNAL_AUTHENTICATION_ERROR, "external authentication",
             client.external_authenticate,
             self._esam_step(client, esam.answer_card, serial, card_challenge))
        signed = self._read_with_mac(client, serial, layout.FID_INFO)
        if signed != raw:
            raise Refused("card information changed between two reads",
                          CardErrorCode.MAC_ERROR, client.last_header, OK_SW)
        self._office_mac(client, serial, info.signed(), info.mac)
        if info.meter_no != self.meter_no:
            raise Refused(f"card is for meter {info.meter_no}",
                          CardErrorCode.METER_NUMBER_MISMATCH)
        raw_return = step(CardErrorCode.CARD_FILE_FORMAT_ERROR, "return-write file",
                          client.read, layout.FID_RETURN)
        try:
            record = layout.ReturnRecord.decode(raw_return)
        except RecordError:
            record = None  # torn or foreign: the meter writes it anew
        plan = Plan(serial, info, record)
        kind = info.card_type
        if kind.user:
            self._check_user(plan, raw_return, now)
        elif kind is CardType.PARAMETER:
            self._check_parameters(client, plan)
        elif kind is CardType.KEY_UPDATE:
            self._check_key_update(client, plan)
        elif kind is CardType.CHECK:
            plan.write_return = True
        return plan

    @staticmethod
    def _decode(cls: Any, raw: bytes) -> Any:
        try:
            return cls.decode(raw)
        except RecordError as e:
            raise Refused(f"{cls.NAME} not valid ({e})",
                          CardErrorCode.CARD_FILE_FORMAT_ERROR) from None

    def _read_with_mac(self, client: CardClient, serial: str, fid: int) -> bytes:
        random = self._esam_step(client, self.link.challenge, 4)
        content, card_mac = self._card_step(CardErrorCode.MAC_ERROR, "read with MAC",
                                            client.read_with_mac, fid, random)
        self._esam_step(client, self.link.check_card_mac, KeyId.CARD_INTERNAL, serial,
                        content, random, card_mac)
        return bytes(content)

    def _office_mac(self, client: CardClient, serial: str, signed: bytes, given: bytes) -> None:
        factor = bytes.fromhex(serial)
        self._esam_step(client, self.link.check_card_mac, KeyId.CARD_PURCHASE, serial,
                        factor + signed, b"", given)

    def _check_user(self, plan: Plan, raw_return: bytes, now: datetime) -> None:
        info, wallet, account = plan.info, self.wallet, self.link.wallet
        if info.credit_unit != wallet.credit_unit:
            raise Refused("purchase credit unit does not match the meter",
                          CardErrorCode.CARD_TYPE_ERROR)
        if not account.opened:
            if info.card_type is CardType.PURCHASE:
                raise Refused("purchase card: the meter has no account opened",
                              CardErrorCode.PURCHASE_CARD_ACCOUNT_NOT_OPENED)
            if info.card_type is CardType.REPLACEMENT:
                raise Refused("replacement card: the meter has no account opened",
                              CardErrorCode.REPLACEMENT_CARD_ACCOUNT_NOT_OPENED)
            if any(raw_return):
                raise Refused("open-account card: its return-write file is not empty (the "
                              "card was used in a meter)", CardErrorCode.READBACK_FILE_NOT_EMPTY)
            plan.bind = info.purchase_count > 0
        else:
            if info.customer_no != account.customer_no:
                raise Refused(f"card is for customer {info.customer_no}",
                              CardErrorCode.CUSTOMER_NUMBER_MISMATCH)
            if plan.serial != self.bound_serial:
                if info.card_type is not CardType.REPLACEMENT:
                    raise Refused(f"card {plan.serial} is not the account's card (replaced)",
                                  CardErrorCode.CARD_SERIAL_MISMATCH)
                plan.bind = True
        count, at = info.purchase_count, account.purchase_count
        plan.write_return = True
        if count < at:
            raise Refused(f"purchase count {count} is below the meter's {at}",
                          CardErrorCode.PURCHASE_COUNT_ERROR)
        if count == at:
            plan.messages.append(f"purchase {count} already applied: no new credit" if count
                                 else "no purchase on the card")
            plan.bind = plan.bind and count > 0
            return
        if count > at + 1:
            plan.refusal = Refused(f"purchase count {count}: the meter takes {at + 1} next",
                                   CardErrorCode.PURCHASE_COUNT_ERROR)
            plan.bind = False
            return
        if wallet.would_hoard(info.credit):
            raise Refused("hoarding limit exceeded: refused", CardErrorCode.HOARDING_LIMIT_EXCEEDED)
        if self._overflows(info.credit, now) or account.total + info.credit > WALLET_MAX:
            raise Refused("the remaining-credit register would pass 999,999.99: refused",
                          CardErrorCode.HOARDING_LIMIT_EXCEEDED)
        plan.credit = True

    def _overflows(self, credit: int, now: datetime) -> bool:
        remaining = int(self.wallet.readback_values(now)["remaining"])
        return remaining + credit > self.wallet.units(REGISTER_CEILING)

    def _check_parameters(self, client: CardClient, plan: Plan) -> None:
        signed = self._read_with_mac(client, plan.serial, layout.FID_PARAMETERS)
        p = self._decode(layout.Parameters, signed)
        if p is None:
            raise Refused("parameter card carries no parameters",
                          CardErrorCode.CARD_FILE_FORMAT_ERROR)
        self._office_mac(client, plan.serial, p.signed(), p.mac)
        if p.meter_no != self.meter_no:
            raise Refused(f"parameters are for meter {p.meter_no}",
                          CardErrorCode.METER_NUMBER_MISMATCH)
        try:
            self.wallet.thresholds_with(**parameter_levels(self.wallet, p))
        except ValueError as e:
            raise Refused(str(e), CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        plan.parameters = p

    def _check_key_update(self, client: CardClient, plan: Plan) -> None:
        raw = self._card_step(CardErrorCode.CARD_FILE_FORMAT_ERROR, "key-update file",
                              client.read, layout.FID_KEY_UPDATE)
        try:
            packages = layout.key_update_packages(raw)
        except RecordError as e:
            raise Refused(str(e), CardErrorCode.CARD_FILE_FORMAT_ERROR) from None
        self._esam_step(client, self.link.stage_keys, packages)  # installed at apply, all
        plan.packages = packages

    # -- phase 2: apply -----------------------------------------------------------------
    def _apply(self, plan: Plan, now: datetime) -> None:
        info, w, msgs = plan.info, self.wallet, plan.messages
        if plan.credit:
            self.link.credit(info.credit, info.purchase_count, info.customer_no,
                             open_account=not self.link.wallet.opened)
            if info.tariff_version and w.apply_tariff(info.tariff_version, info.price_per_kwh):
                msgs.append(f"tariff {info.tariff_version} applied")
            w.apply_purchase(info.purchase_count, info.credit, now)
            plan.applied = info.purchase_count
            msgs.append(f"credit applied (purchase {info.purchase_count})")
            apply_vend_alarms(w, info.alarm1, info.alarm2, msgs)
        if plan.bind:
            if self.bound_serial != plan.serial:
                msgs.append(f"card {plan.serial} is now the account's card")
            self.bound_serial = plan.serial
        if plan.parameters is not None:
            q = plan.parameters
            if q.version <= self.parameters_version:
                msgs.append(f"parameters {q.version} already applied")
            else:
                w.set_thresholds(**parameter_levels(w, q))
                if q.tariff_version:
                    w.apply_tariff(q.tariff_version, q.price_per_kwh)
                self.parameters_version = q.version
                msgs.append(f"parameters {q.version} applied")
        kind = info.card_type
        if kind is CardType.TEST:
            msgs.append("test card: meter state shown, nothing changed")
        elif kind is CardType.PRESET:
            if info.command_no <= self.last_clear_no:
                msgs.append(f"preset card {info.command_no} already applied")
            else:
                w.clear_events()
                self.last_clear_no = info.command_no
                msgs.append(f"event counters cleared (preset card {info.command_no})")
        elif kind is CardType.KEY_UPDATE:
            state = (self.link.commit_keys() if plan.packages  # staged at the check
                     else self.link.key_state)
            self.key_revision = layout.revision_of(state)
            msgs.append(f"keys updated: the ESAM is in the {state.value} state")
        elif kind is CardType.CHECK:
            msgs.append("check card: running information collected")

    # -- phase 3: return-write ----------------------------------------------------------
    def return_record(self, at: datetime, serial: str, generation: int) -> layout.ReturnRecord:
        """The meter's running information, MAC'd under its readback key for the centre."""
        record = layout.ReturnRecord(
            generation=generation, meter_no=self.meter_no, card_serial=serial,
            credit_unit=self.wallet.credit_unit,
            **registers_now(self.wallet.readback_values(at), at), abnormal=self.last_abnormal,
            refusal_count=self.refusal_count & 0xFFFF, key_state=self.link.key_state)
        key = derive_readback_mac_key(self._readback_key, self.key_revision)
        return replace(record, mac=mac(key, record.signed()))

    def _write_return(self, client: CardClient, plan: Plan, at: datetime) -> None:
        generation = ((plan.record.generation if plan.record else 0) + 1) & 0xFFFF
        data = self.return_record(at, plan.serial, generation).to_bytes()
        client.select_ef(layout.FID_RETURN)
        challenge = client.get_challenge(8)
        line_mac = self.link.card_mac(KeyId.CARD_RETURN, plan.serial, return_mac_input(data),
                                      challenge)
        client.update_with_mac(layout.FID_RETURN, data, line_mac)

    # -- NVM ----------------------------------------------------------------------------
    def nvm_state(self) -> dict[str, Any]:
        a = self.last_abnormal
        return {"bound_serial": self.bound_serial, "parameters_version": self.parameters_version,
                "last_clear_no": self.last_clear_no, "refusal_count": self.refusal_count,
                "last_abnormal": [a.code, a.command_header.hex(), a.status_word]}

    def restore_nvm_state(self, state: Mapping[str, Any]) -> None:
        """The reader's records back after a power cycle (the ESAM restores its own keys and
        wallet; the key revision follows the ESAM's key state at the next insertion)."""
        bound = state.get("bound_serial")
        self.bound_serial = None if bound is None else str(bound)
        self.parameters_version = int(state.get("parameters_version", 0))
        self.last_clear_no = int(state.get("last_clear_no", 0))
        self.refusal_count = int(state.get("refusal_count", 0))
        code, header, sw = state.get("last_abnormal", [0, "0000000000", 0])
        self.last_abnormal = layout.AbnormalInsertion(int(code), bytes.fromhex(header), int(sw))
