"""The user-card layout, byte for byte as docs/card-formats/sle4442.md tables it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.card.apdu import RecordError
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.layout import (
    CardKindCode,
    ClearAction,
    ClearBlock,
    Identity,
    ParameterBlock,
    PurchaseBlock,
    ReadbackBlock,
    UnitCode,
    crc16,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_crc16_is_ccitt_false_with_its_published_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_identity_block_bytes() -> None:
    ident = Identity(CardKindCode.USER, 1, "0123456789ABCDEF", "000000001001")
    body = h("01 01 23 45 67 89 AB CD EF 01 01 00 00 00 00 00 10 01") + bytes(8)
    assert ident.to_bytes() == body + crc16(body).to_bytes(2, "big")
    assert Identity.decode(ident.to_bytes()) == ident
    assert len(ident.to_bytes()) == 28  # bytes 04h..1Fh


def test_purchase_block_bytes() -> None:
    p = PurchaseBlock(sequence=2, credit=10000, unit=UnitCode.MONEY_CENTS, tariff_version=3,
                      price_per_kwh=Decimal("0.5500"), alarm1=1000, alarm2=500,
                      meter_no="000000001001")
    body = h("00000002 00002710 01 00 0003 0000157C 000003E8 000001F4 000000001001")
    assert p.to_bytes() == body + crc16(body).to_bytes(2, "big")
    assert PurchaseBlock.decode(p.to_bytes()) == p


def test_parameter_and_clear_blocks_bytes() -> None:
    q = ParameterBlock(version=2, alarm1=1000, alarm2=500, overdraft_limit=0,
                       hoarding_limit=999999, power_limit_w=6000, tariff_version=4,
                       price_per_kwh=Decimal("0.6"))
    body = h("0002 000003E8 000001F4 00000000 000F423F 00001770 0004 00001770 0000")
    assert q.to_bytes() == body + crc16(body).to_bytes(2, "big")
    assert ParameterBlock.decode(q.to_bytes()) == q
    c = ClearBlock(7, ClearAction.TEST)
    body = h("00000007 02") + bytes(9)
    assert c.to_bytes() == body + crc16(body).to_bytes(2, "big")


def test_readback_block_bytes() -> None:
    r = ReadbackBlock(generation=5, meter_no="000000001001", unit=UnitCode.MONEY_CENTS,
                      relay_open=False, alarm_active=True, energy_wh=1234, remaining=8766,
                      overdraft=0, purchase_count=2, last_sequence=2,
                      cumulative_purchase=10000, alarm_count=1, cutoff_count=0,
                      tamper_count=0, power_down_count=3,
                      timestamp=datetime(2026, 12, 3, 9, 0, 0, tzinfo=UTC), tariff_version=3,
                      refusal_code=17, refusal_count=1, mac=h("0102030405060708"))
    seconds = int((r.timestamp - layout.EPOCH).total_seconds())
    body = (h("53 01 0005 000000001001 01 02 000004D2 0000223E 00000000 00000002 00000002"
              " 00002710 0001 0000 0000 0003") + seconds.to_bytes(4, "big")
            + h("0003 11 0001 0102030405060708 00"))
    assert r.to_bytes() == body + crc16(body).to_bytes(2, "big")
    assert ReadbackBlock.decode(r.to_bytes()) == r
    assert len(r.to_bytes()) == 64
    assert r.signed() == body[:53]  # what the meter's MAC covers


def test_erased_block_is_none_and_a_torn_one_a_checksum_error() -> None:
    assert PurchaseBlock.decode(b"\xff" * 32) is None
    good = PurchaseBlock(1, 500, UnitCode.ENERGY_WH, 0, Decimal(0), 0, 0, "000000001001")
    torn = good.to_bytes()[:10] + b"\xff" * 22
    with pytest.raises(RecordError, match=r"PURCHASE\.crc.*torn write"):
        PurchaseBlock.decode(torn)


def test_bad_fields_are_named() -> None:
    with pytest.raises(RecordError, match=r"PURCHASE\.price_per_kwh"):
        PurchaseBlock(1, 1, UnitCode.MONEY_CENTS, 0, Decimal("0.00001"), 0, 0,
                      "000000001001").to_bytes()
    with pytest.raises(RecordError, match=r"IDENTITY\.meter_no"):
        Identity(CardKindCode.USER, 1, "0123456789ABCDEF", "12345").to_bytes()
    with pytest.raises(RecordError, match=r"PURCHASE\.credit"):
        PurchaseBlock(1, 1 << 32, UnitCode.MONEY_CENTS, 0, Decimal(0), 0, 0,
                      "000000001001").to_bytes()


def test_newest_readback_skips_a_torn_slot_and_names_the_slot_to_write() -> None:
    def rb(gen: int) -> bytes:
        return ReadbackBlock(gen, "000000001001", False, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                             layout.EPOCH, 0, unit=UnitCode.ENERGY_WH).to_bytes()

    erased = b"\xff" * 64
    assert layout.newest_readback((erased, erased)) == (0, None)
    assert layout.newest_readback((rb(1), erased))[0] == 1
    nxt, newest = layout.newest_readback((rb(1), rb(2)))
    assert (nxt, newest.generation if newest else None) == (0, 2)
    torn = rb(3)[:20] + rb(1)[20:]
    nxt, newest = layout.newest_readback((torn, rb(2)))
    assert (nxt, newest.generation if newest else None) == (0, 2)


def test_the_generation_wraps_without_sticking_to_an_old_slot() -> None:
    def rb(gen: int) -> bytes:
        return ReadbackBlock(gen, "000000001001", False, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                             layout.EPOCH, 0, unit=UnitCode.ENERGY_WH).to_bytes()

    nxt, newest = layout.newest_readback((rb(0xFFFF), rb(0)))
    assert (nxt, newest.generation if newest else None) == (0, 0)
    nxt, newest = layout.newest_readback((rb(1), rb(0)))
    assert (nxt, newest.generation if newest else None) == (1, 1)
