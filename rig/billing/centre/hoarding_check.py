"""The hoarding limit applied to a meter's rows: the centre's credit estimate and the refusal
a vend or free issue gets when it would take the meter above its limit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from rig.billing import hoarding, inputs
from rig.billing import models as m
from rig.billing.centre.errors import VendRefused
from rig.billing.centre.lookup import unapplied_vends
from rig.credit_unit import CreditUnit
from rig.errors import BillingError


def check_limit(limit: int | None, unit: CreditUnit) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or not 0 < limit <= inputs.CREDIT_MAX):
        raise BillingError(f"hoarding limit {limit!r} must be a positive whole number of "
                           f"{hoarding.UNIT_WORDS[unit.value]} up to {inputs.CREDIT_MAX} "
                           "(the meter's parameter record holds a u32), or none")


def estimated_credit(s: Session, meter_id: int) -> int:
    """Latest readback's balance + credit of the vends no readback has confirmed yet."""
    balance = s.scalar(
        select(m.Readback.remaining - m.Readback.overdraft)
        .where(m.Readback.meter_id == meter_id, m.Readback.mac_verified.is_(True))
        .order_by(m.Readback.id.desc()).limit(1))
    unconfirmed = s.scalars(select(m.Vend.credit).where(unapplied_vends(meter_id)))
    return hoarding.estimate(balance, unconfirmed)


def refuse_over(meter_no: str, limit: int | None, estimated: int, credit: int,
                credit_unit: str) -> None:
    why = hoarding.refusal(meter_no, limit, estimated, credit, credit_unit)
    if why is not None:
        raise VendRefused("hoarding_limit", why)


def refuse_for_meter(s: Session, meter: m.Meter, credit: int) -> None:
    if meter.hoarding_limit is not None:  # else no need to estimate
        refuse_over(meter.meter_no, meter.hoarding_limit, estimated_credit(s, meter.id), credit,
                    meter.credit_unit)
