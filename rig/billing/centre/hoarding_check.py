"""The hoarding limit applied to a meter's rows: the centre's credit estimate and the refusal
a vend or free issue gets when it would take the meter above its limit."""

from __future__ import annotations

from sqlalchemy import exists, or_, select
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


# The readbacks a balance is taken from: those whose MAC the centre verified, and a keypad
# meter's serial ones (no MAC exists for them; the estimate says so, see estimate_of).
SERIAL = exists().where(m.ReadbackSource.readback_id == m.Readback.id,
                        m.ReadbackSource.source == "serial")
USABLE = or_(m.Readback.mac_verified.is_(True), SERIAL)


def estimated_credit(s: Session, meter_id: int) -> int:
    """Latest usable readback's balance + credit of the vends no readback has confirmed yet."""
    return estimate_of(s, meter_id)[0]


def estimate_of(s: Session, meter_id: int) -> tuple[int, str]:
    """The estimate and what it rests on, in words (shown beside it: a serial readback's
    balance is only what the station reported)."""
    row = s.execute(
        select(m.Readback.id, m.Readback.remaining - m.Readback.overdraft,
               m.Readback.mac_verified, m.Readback.meter_timestamp)
        .where(m.Readback.meter_id == meter_id, USABLE)
        .order_by(m.Readback.id.desc()).limit(1)).first()
    unconfirmed = list(s.scalars(select(m.Vend.credit).where(unapplied_vends(meter_id))))
    balance = None if row is None else row[1]
    if row is None:
        basis = "no readback yet: the credit of the vends not yet confirmed"
    elif row[2]:
        basis = (f"readback #{row[0]} (MAC-verified) plus the vends it does not confirm "
                 f"({len(unconfirmed)})")
    else:
        basis = (f"serial readback #{row[0]} of {row[3]:%Y-%m-%d %H:%M} (not MAC-protected: "
                 f"what the station read) plus the vends it does not confirm "
                 f"({len(unconfirmed)})")
    return hoarding.estimate(balance, unconfirmed), basis


def refuse_over(meter_no: str, limit: int | None, estimated: int, credit: int,
                credit_unit: str, basis: str = hoarding.LATEST) -> None:
    why = hoarding.refusal(meter_no, limit, estimated, credit, credit_unit, basis)
    if why is not None:
        raise VendRefused("hoarding_limit", why)


def refuse_for_meter(s: Session, meter: m.Meter, credit: int) -> None:
    if meter.hoarding_limit is not None:  # else no need to estimate
        refuse_over(meter.meter_no, meter.hoarding_limit, estimated_credit(s, meter.id), credit,
                    meter.credit_unit)
