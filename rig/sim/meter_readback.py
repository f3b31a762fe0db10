"""A readback record as an emulated meter writes it, for load generators and tests that play
the meter without a card: the centre's view of a readback, MAC'd under the meter's own
readback key (derived from the lab test readback master unless another is given)."""

from __future__ import annotations

from rig.billing.readback_keys import lab_readback_key
from rig.billing.types import CreditUnit, ReadbackData
from rig.card.keys import MasterKey, derive_meter_readback_key, derive_readback_mac_key
from rig.card.records import CreditUnit as CardCreditUnit
from rig.card.records import ReadbackRecord


def meter_readback(data: ReadbackData, *, key_revision: int, readback_no: int = 1,
                   readback_master: MasterKey | None = None) -> bytes:
    """The 57 bytes of ``data`` as a ReadbackRecord signed by meter ``data.meter_no``."""
    unit = (CardCreditUnit.MONEY_CENTS if str(data.credit_unit) == CreditUnit.MONEY_CENTS
            else CardCreditUnit.ENERGY_WH)
    record = ReadbackRecord(
        meter_no=data.meter_no, energy_wh=data.energy_wh, remaining=data.remaining,
        overdraft=data.overdraft, purchase_count=data.purchase_count,
        last_sequence=data.last_sequence, cumulative_purchase=data.cumulative_purchase,
        credit_unit=unit, relay_open=data.relay_open, alarm_active=data.alarm_active,
        alarm_count=data.alarm_count, cutoff_count=data.cutoff_count,
        tamper_count=data.tamper_count, power_down_count=data.power_down_count,
        timestamp=data.timestamp, tariff_version=data.tariff_version, readback_no=readback_no)
    meter_key = derive_meter_readback_key(readback_master or lab_readback_key(), data.meter_no)
    return record.sign(derive_readback_mac_key(meter_key, key_revision)).to_bytes()
