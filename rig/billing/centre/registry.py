"""The registry: customers, stations, meters (status, hoarding limit) and their cards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import hoarding, inputs
from rig.billing import models as m
from rig.billing.centre import hoarding_check, lookup
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict, NotFound
from rig.billing.centre.rows import card_info, customer_info, meter_info
from rig.billing.centre.uow import UnitOfWork
from rig.billing.models import to_utc
from rig.billing.types import (
    CardInfo,
    CardStatus,
    CustomerInfo,
    HoardingCheck,
    MeterInfo,
    MeterStatus,
    StationInfo,
)
from rig.credit_unit import CreditUnit
from rig.errors import BillingError


class Registry:
    """Who and what the centre sells to: customers, stations, meters and cards."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access

    def register_customer(
        self, name: str, account_no: str, address: str = "", *, actor: str = "system"
    ) -> CustomerInfo:
        if not name.strip() or not account_no.strip():
            raise BillingError("customer name and account number are required")
        try:
            with self.uow.transaction("register_customer") as s:
                row = m.Customer(name=name, account_no=account_no, address=address,
                                 created_at=self.uow.now())
                s.add(row)
                s.flush()
                info = customer_info(row)
                self.uow.audit(s, actor, "customer.register", "customer", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"customer account {account_no!r} already exists") from None

    def register_station(self, code: str, *, actor: str = "system") -> StationInfo:
        try:
            with self.uow.transaction("register_station") as s:
                row = m.Station(code=code)
                s.add(row)
                s.flush()
                self.uow.audit(s, actor, "station.register", "station", row.id, None,
                               {"code": code})
                return StationInfo(row.id, row.code)
        except IntegrityError:
            raise Conflict(f"station {code!r} already exists") from None

    def register_meter(
        self,
        meter_no: str,
        *,
        customer_account: str,
        profile: str,
        credit_unit: CreditUnit | str,
        tariff_code: str,
        key_revision: int,
        commissioning_energy_wh: int,
        commissioned_at: datetime,
        hoarding_limit: int | None = None,
        actor: str = "system",
        also: Callable[[Session], object] | None = None,
    ) -> MeterInfo:
        """Register a meter. ``hoarding_limit`` (credit units of ``credit_unit``, as the meter
        profile's) makes the centre refuse vends the meter would refuse; None: not checked.
        ``also`` runs in the same transaction once the meter is written (e.g. its STS
        identity): if it raises, the meter is not registered either."""
        if not isinstance(meter_no, str) or not lookup.METER_NO.fullmatch(meter_no):
            raise BillingError(f"meter number {meter_no!r} must be exactly 12 digits (0-9)")
        inputs.check_profile_name(profile)
        unit = lookup.enum_value(CreditUnit, credit_unit, "credit unit")
        # What the meter's card records cannot carry is refused now, not at the first sale.
        inputs.check_key_revision(key_revision)
        inputs.check_energy(commissioning_energy_wh, "commissioning_energy_wh")
        inputs.check_instant(commissioned_at, "commissioned_at")
        hoarding_check.check_limit(hoarding_limit, unit)
        try:
            with self.uow.transaction("register_meter") as s:
                customer = s.scalar(
                    select(m.Customer).where(m.Customer.account_no == customer_account))
                if customer is None:
                    raise NotFound(f"no customer with account {customer_account!r}")
                tariff = lookup.tariff_in_effect(s, tariff_code, self.uow.now()) or s.scalar(
                    select(m.Tariff).where(m.Tariff.code == tariff_code)
                    .order_by(m.Tariff.version).limit(1))
                if tariff is None:
                    raise NotFound(f"no tariff with code {tariff_code!r}")
                row = m.Meter(
                    meter_no=meter_no, customer=customer, profile=profile,
                    credit_unit=unit.value, tariff=tariff, key_revision=key_revision,
                    commissioning_energy_wh=int(commissioning_energy_wh),
                    commissioned_at=to_utc(commissioned_at), last_sequence=0,
                    status=MeterStatus.ACTIVE.value, created_at=self.uow.now(),
                    hoarding_limit=hoarding_limit,
                )
                s.add(row)
                s.flush()
                info = meter_info(row)
                self.uow.audit(s, actor, "meter.register", "meter", row.id, None, info)
                if also is not None:
                    also(s)
                return info
        except IntegrityError:
            raise Conflict(f"meter {meter_no} is already registered") from None

    def set_meter_status(
        self, meter_no: str, status: MeterStatus | str, *, actor: str = "system"
    ) -> MeterInfo:
        """Block or unblock a meter (a blocked meter cannot be vended to)."""
        new: MeterStatus = lookup.enum_value(MeterStatus, status, "meter status")
        with self.uow.transaction("set_meter_status") as s:
            meter = lookup.meter(s, meter_no)
            before = meter_info(meter)
            meter.status = new.value
            after = meter_info(meter)
            self.uow.audit(s, actor, "meter.status", "meter", meter.id, before, after)
            return after

    def set_hoarding_limit(
        self, meter_no: str, hoarding_limit: int | None, *, actor: str = "system"
    ) -> MeterInfo:
        """Change (or with None remove) a meter's hoarding limit; an administrator's change,
        audited with the limit before and after."""
        with self.uow.transaction("set_hoarding_limit") as s:
            if actor != "system":
                self.access.require_administrator(s, actor, "change a meter's hoarding limit")
            meter = lookup.meter(s, meter_no)
            hoarding_check.check_limit(hoarding_limit, CreditUnit(meter.credit_unit))
            before = {"meter_no": meter_no, "hoarding_limit": meter.hoarding_limit}
            meter.hoarding_limit = hoarding_limit
            self.uow.audit(s, actor, "meter.hoarding_limit", "meter", meter.id, before,
                           {"meter_no": meter_no, "hoarding_limit": hoarding_limit})
            return meter_info(meter)

    def hoarding(self, meter_no: str) -> HoardingCheck:
        """The meter's hoarding limit, the centre's estimate of its credit and the most that
        can be vended now (see :mod:`rig.billing.hoarding`)."""
        with self.uow.transaction("hoarding") as s:
            meter = lookup.meter(s, meter_no)
            estimated, basis = hoarding_check.estimate_of(s, meter.id)
            return HoardingCheck(meter_no, meter.hoarding_limit, estimated,
                                 hoarding.room(meter.hoarding_limit, estimated), basis)

    def issue_card(
        self, meter_no: str, card_serial: str, card_type: str = "customer", *,
        actor: str = "system",
    ) -> CardInfo:
        """Bind a new card to a meter. One active card per meter (replacement: vend life)."""
        card_type = inputs.check_card_kind(card_type).value
        try:
            with self.uow.transaction("issue_card") as s:
                meter = lookup.meter(s, meter_no)
                if lookup.active_card(s, meter) is not None:
                    raise Conflict(f"meter {meter_no} already has an active card")
                row = m.Card(card_serial=card_serial, meter=meter, card_type=card_type,
                             status=CardStatus.ACTIVE.value, issued_at=self.uow.now())
                s.add(row)
                s.flush()
                info = card_info(row)
                self.uow.audit(s, actor, "card.issue", "card", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"card {card_serial} is already issued") from None

    def set_card_status(
        self, card_serial: str, status: CardStatus | str, *, actor: str = "system"
    ) -> CardInfo:
        new_status: CardStatus = lookup.enum_value(CardStatus, status, "card status")
        with self.uow.transaction("set_card_status") as s:
            card = s.scalar(select(m.Card).where(m.Card.card_serial == card_serial))
            if card is None:
                raise NotFound(f"no card {card_serial}")
            before = card_info(card)
            card.status = new_status.value
            after = card_info(card)
            self.uow.audit(s, actor, "card.status", "card", card.id, before, after)
            return after
