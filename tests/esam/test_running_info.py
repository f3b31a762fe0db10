"""The meter's running information (ESAM file 0007) in the State Grid 49-byte layout, byte by
byte at the offsets public State Grid firmware lists (docs/esam.md), and rig's record around
it as the centre reads it (esam-running-v1): fields, its MAC, malformed records named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rig.billing.readback_format import format_for
from rig.billing.readback_keys import ReadbackKeyService
from rig.card.readback_format import FIELDS as READBACK_FIELDS
from rig.card_formats.running_info import (
    AbnormalInsertion,
    RunningInfo,
    RunningInfoError,
    RunningRecord,
)
from rig.card_formats.running_readback import ESAM_RUNNING_V1
from rig.esam.keys import KeyState

INFO = RunningInfo("000000001365", "000000123456", 2000, 3, 150, KeyState.PRIVATE, 9, 12,
                   datetime(2026, 12, 3, 15, 7))
INFO_BYTES = bytes.fromhex(
    "68 11 00 2B"  # start, command, the 43 data bytes
    " 01  00 00 01  00 00 01"  # user type; CT and VT ratios
    " 00 00 00 00 13 65  00 00 00 12 34 56"  # meter number, customer number (BCD)
    " 00 00 07 D0  00 00 00 03  00 00 00 96"  # remaining, purchase count, overdraft
    " 01 00 09 00  00 00 12  26 12 03 15 07")  # key information; illegal cards; written at


USAGE = {"energy_wh": 123456, "last_sequence": 3, "cumulative_purchase": 6000,
         "credit_unit": "money_cents", "relay_open": False, "alarm_active": True,
         "alarm_count": 2, "cutoff_count": 1, "tamper_count": 0, "power_down_count": 4,
         "timestamp": datetime(2026, 12, 3, 15, 7, 31, tzinfo=UTC), "tariff_version": 2}


def record(info: RunningInfo = INFO) -> RunningRecord:
    return RunningRecord(info, USAGE, AbnormalInsertion(5, bytes.fromhex("0084000008"), 0x6988))


def test_the_state_grid_part_byte_by_byte() -> None:
    raw = INFO.to_bytes()
    assert raw[:-2] == INFO_BYTES
    assert raw[-2:] == bytes([sum(INFO_BYTES) & 0xFF, 0x16])
    assert len(raw) == 49
    assert RunningInfo.decode(raw) == INFO


@pytest.mark.parametrize(("at", "value", "message"), [
    (0, 0x69, "framed 69 11 .. 16"),
    (3, 0x2C, "length 002C, expected 002B"),
    (47, 0x00, "checksum does not match"),
])
def test_a_file_that_is_not_running_information_is_named(at: int, value: int,
                                                         message: str) -> None:
    raw = bytearray(INFO.to_bytes())
    raw[at] = value
    with pytest.raises(RunningInfoError, match=message):
        RunningInfo.decode(bytes(raw))
    with pytest.raises(RunningInfoError, match="48 bytes, expected 49"):
        RunningInfo.decode(INFO.to_bytes()[:48])


def test_the_centre_reads_the_record_and_verifies_its_mac() -> None:
    keys = ReadbackKeyService.default()
    key = keys.mac_key("000000001365", 1)
    raw = record().sign(key).to_bytes()
    assert len(raw) == RunningRecord.SIZE == 95
    assert raw[49:51] == bytes.fromhex("58 01")  # rig's extension after the State Grid part
    assert format_for(raw) is ESAM_RUNNING_V1
    fields = ESAM_RUNNING_V1.fields(raw)
    assert fields == {"meter_no": "000000001365", "remaining": 2000, "overdraft": 150,
                      "purchase_count": 3, **USAGE}
    assert list(fields) == list(READBACK_FIELDS)  # every field the centre takes, no other
    assert RunningRecord.decode(raw).abnormal == AbnormalInsertion(
        5, bytes.fromhex("0084000008"), 0x6988)
    assert ESAM_RUNNING_V1.mac_verifies(raw, key)
    assert not ESAM_RUNNING_V1.mac_verifies(raw, keys.mac_key("000000009999", 1))
    other = record(RunningInfo(**{**INFO.__dict__, "remaining": 999_999})).to_bytes()
    changed = other[:-8] + raw[-8:]  # another remaining under the genuine MAC
    assert ESAM_RUNNING_V1.fields(changed)["remaining"] == 999_999
    assert not ESAM_RUNNING_V1.mac_verifies(changed, key)


def test_a_record_with_another_extension_is_refused_by_name() -> None:
    raw = bytearray(record().to_bytes())
    raw[49] = 0x00
    with pytest.raises(RunningInfoError, match="extension 00 01: rig's is 58 01"):
        ESAM_RUNNING_V1.fields(bytes(raw))
    assert not ESAM_RUNNING_V1.mac_verifies(bytes(raw), bytes(16))
