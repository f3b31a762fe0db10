"""What the emulated meter's firmware keeps across a power cycle beside the engine: its log
(cover, power, purchase and refused-card records) and the whole meter's EEPROM image (engine,
log, clock offset, the card reader's and the ESAM's state), as rig.sim.nvm's bytes."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rig.meter.dlt645 import data_ids as di
from rig.sim import nvm

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


@dataclass
class MeterLog:
    """Records the firmware keeps beside the engine's event log (all non-volatile)."""

    cover_open_since: datetime | None = None
    last_cover_open: datetime | None = None
    last_cover_close: datetime | None = None
    last_power_down: datetime | None = None
    last_power_up: datetime | None = None
    last_purchase_at: datetime | None = None
    last_purchase_amount: Decimal = Decimal(0)
    remaining_before_purchase: Decimal = Decimal(0)
    remaining_after_purchase: Decimal = Decimal(0)
    last_broadcast_day: str = ""  # meter-clock date of the last accepted broadcast time
    card_refusals: int = 0  # insertions refused (wrong meter, MAC, hoarding, unreadable...)
    last_card_refusal: datetime | None = None
    illegal_card_refusals: int = 0  # the refusals whose code is an illegal insertion
    # The last ten abnormal card insertion records, newest first (kept in NVM as their bytes).
    abnormal_cards: tuple[di.AbnormalCardRecord, ...] = ()


RECORDS = "abnormal_cards"  # the MeterLog field saved as record bytes, not as a scalar


def meter_image(meter: EmulatedMeter) -> bytes:
    """Everything that survives a power cycle, as the bytes an EEPROM would hold."""
    return nvm.dumps({
        "engine": nvm.engine_image(meter.engine),
        "log": {f.name: nvm.encode_value(getattr(meter.log, f.name), f"log.{f.name}")
                for f in fields(meter.log) if f.name != RECORDS},
        RECORDS: [di.encode_value(di.LAST_ABNORMAL_CARD_RECORD, r).hex()
                  for r in meter.log.abnormal_cards],
        "clock_offset_s": nvm.encode_value(meter.clock_offset.total_seconds(), "clock"),
        "terminal": meter.terminal.nvm_state(),
        "esam": None if meter.esam is None else meter.esam.to_image(),
    })


def restore_meter_image(meter: EmulatedMeter, raw: bytes) -> None:
    """Every non-volatile field of `meter` overwritten from the image `raw`."""
    image = nvm.loads(raw)
    nvm.restore_engine(meter.engine, image["engine"], meter.profile)
    scalars: dict[str, Any] = {k: nvm.decode_value(v) for k, v in image["log"].items()}
    meter.log = MeterLog(**scalars)
    meter.log.abnormal_cards = tuple(
        _abnormal_card(bytes.fromhex(record)) for record in image[RECORDS])
    offset = nvm.decode_value(image["clock_offset_s"])
    meter.clock_offset = timedelta(seconds=float(offset))  # type: ignore[arg-type]
    meter.terminal.restore_nvm_state(image["terminal"])
    if meter.esam is not None and image.get("esam") is not None:
        meter.esam.restore_image(image["esam"])


def _abnormal_card(raw: bytes) -> di.AbnormalCardRecord:
    record = di.decode_value(di.LAST_ABNORMAL_CARD_RECORD, raw)
    if not isinstance(record, di.AbnormalCardRecord):
        raise TypeError(f"NVM abnormal card record decodes as {type(record).__name__}")
    return record
