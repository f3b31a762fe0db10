"""The virtual SLE 4442 through real pcscd + vpcd, driven with raw pseudo-APDUs via pyscard
(bytes as docs/card-formats/sle4442.md tables them)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.card.pcsc import PcscConnection, PcscReader
from rig.card_formats.interface import Purchase
from rig.card_formats.sle4442.card import ATR, VirtualSLE4442
from rig.card_formats.sle4442.format import SLE4442
from rig.sim.virtual_card import VpcdLink
from rig.sim.vpcd import SlotBusyError, claim_free_slot

from .conftest import METER

PSC = bytes.fromhex("5A1B2C")


@pytest.fixture
def slot():
    try:
        s = claim_free_slot(wait_s=30)
    except SlotBusyError as e:  # other benches hold every reader: contention, not a failure
        pytest.skip(str(e))
    try:
        yield s
    finally:
        s.release()


@contextmanager
def inserted(card: VirtualSLE4442, slot) -> Iterator[PcscConnection]:
    """Insert the card (a power-up), connect through pcscd, pull it on exit."""
    with VpcdLink(card, slot), PcscReader(slot.reader_name).wait_for_card(5) as conn:  # type: ignore[arg-type]
        yield conn


def x(conn: PcscConnection, apdu: str) -> str:
    return conn.transmit(bytes.fromhex(apdu)).hex(" ").upper()


def _issued(dialect: str) -> VirtualSLE4442:
    card = VirtualSLE4442(dialect=dialect)
    card.chip.psc = PSC
    return card


def test_acs_three_wrong_pscs_lock_across_power_cycles_and_save_load(slot) -> None:
    card = _issued("acs")
    with inserted(card, slot) as conn:
        assert conn.atr == ATR == bytes.fromhex("3B 04 A2 13 10 91")
        assert x(conn, "FF A4 00 00 01 06") == "90 00"
        assert x(conn, "FF 20 00 00 03 00 00 00") == "90 06"
        assert x(conn, "FF 20 00 00 03 00 00 01") == "90 04"
    card = VirtualSLE4442.from_dict(card.to_dict())  # saved and loaded between insertions
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        assert x(conn, "FF B1 00 00 04") == "04 00 00 00 90 00"  # one attempt left
        assert x(conn, "FF 20 00 00 03 00 00 02") == "90 00"  # ErrorCnt 00: locked
        assert x(conn, "FF 20 00 00 03 5A 1B 2C") == "90 00"  # the right PSC: too late
        assert x(conn, "FF D0 00 40 01 55") == "90 00"  # the reader cannot tell ...
        assert x(conn, "FF B0 00 40 01") == "FF 90 00"  # ... but nothing was written
    card = VirtualSLE4442.from_dict(card.to_dict())
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        assert x(conn, "FF B1 00 00 04") == "00 00 00 00 90 00"


def test_acs_protected_byte_refuses_writes_forever(slot) -> None:
    card = _issued("acs")
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        assert x(conn, "FF 20 00 00 03 5A 1B 2C") == "90 07"
        assert x(conn, "FF D0 00 10 02 12 34") == "90 00"
        assert x(conn, "FF D1 00 10 02 12 34") == "90 00"
        assert x(conn, "FF B2 00 00 04") == "FF FF FC FF 90 00"  # P17, P18 cleared
    card = VirtualSLE4442.from_dict(card.to_dict())
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        assert x(conn, "FF 20 00 00 03 5A 1B 2C") == "90 07"
        assert x(conn, "FF D0 00 10 03 00 00 00") == "90 00"
        assert x(conn, "FF B0 00 10 03") == "12 34 00 90 00"  # byte 18 is not protected


def test_unlock_is_lost_at_power_cycle(slot) -> None:
    card = _issued("acs")
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        x(conn, "FF 20 00 00 03 5A 1B 2C")
        assert x(conn, "FF D0 00 40 01 11") == "90 00"
        assert x(conn, "FF B0 00 40 01") == "11 90 00"
    with inserted(card, slot) as conn:
        x(conn, "FF A4 00 00 01 06")
        x(conn, "FF D0 00 40 01 22")
        assert x(conn, "FF B0 00 40 01") == "11 90 00"


def test_omnikey_dialect_through_pcscd(slot) -> None:
    card = _issued("omnikey")
    with inserted(card, slot) as conn:
        assert x(conn, "FF A4 00 00 01 06") == "6D 00"  # no select in this dialect
        assert x(conn, "FF 20 00 00 03 00 00 00") == "63 C2"
        assert x(conn, "FF 20 00 00 03 5A 1B 2C") == "90 00"
        assert x(conn, "FF D6 00 40 02 AB CD") == "90 00"
        assert x(conn, "FF B0 00 40 02") == "AB CD 90 00"
        assert x(conn, "FF D2 00 01 03 00 00 00") == "6D 00"
    with inserted(card, slot) as conn:
        for _ in range(2):
            x(conn, "FF 20 00 00 03 00 00 00")
        assert x(conn, "FF 20 00 00 03 00 00 00") == "69 83"
    card = VirtualSLE4442.from_dict(card.to_dict())
    with inserted(card, slot) as conn:
        assert x(conn, "FF 20 00 00 03 5A 1B 2C") == "69 83"
        assert x(conn, "FF D6 00 40 01 00") == "90 00"
        assert x(conn, "FF B0 00 40 02") == "AB CD 90 00"


def test_station_issues_on_acs_and_sells_on_omnikey_through_pcscd_meter_reads_natively(
        slot, keys, wallet) -> None:
    """The vending office's writers are real PC/SC readers (pcscd + vpcd); the meter reads
    the same chip on its own bus."""
    card = SLE4442.blank_card({"dialect": "acs"})
    with inserted(card, slot) as conn:
        issued = SLE4442.station_writer(keys).personalise(
            conn, card_serial="00000000000000A1", meter_no=METER, key_revision=1)
    assert issued.meter_no == METER
    card = card.in_reader("omnikey")  # the card taken to the sales counter's OMNIKEY writer
    writer = SLE4442.station_writer(keys, options={"dialect": "omnikey"})
    with inserted(card, slot) as conn:
        writer.write_purchase(conn, Purchase(
            meter_no=METER, card_serial=issued.card_serial, sequence=1, credit=2000,
            credit_unit="money_cents", tariff_version=0, price_per_kwh=Decimal("0.5"),
            key_revision=1))
    out = SLE4442.meter_reader(wallet, METER, keys, key_revision=1).insert(
        card.meter_slot(), datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    assert out.accepted and out.applied_sequence == 1
    with inserted(card, slot) as conn:
        assert writer.read_readback(conn).fields["remaining"] == 2000
