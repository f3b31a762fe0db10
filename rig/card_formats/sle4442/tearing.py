"""Card tearing on the SLE 4442 format: the card pulled after every byte of a write.

The chip writes one byte per native UPDATE, so a pulled card keeps a prefix of any write. Two
writes move credit: the station's purchase block (32 bytes) and the meter's readback block
(64 bytes). Each cut point is one case; after the tear the world recovers the way people do
(the station writes the same vend again, the customer inserts the card again) and the case
compares the credit sold with the credit the meter applied. Used by the tests and
bench/faults.py; the wallet (the meter's registers) comes from the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rig.card.keys import lab_test_key
from rig.card_formats.interface import MasterKeys, MeterWallet, Purchase
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.card import WriterSlot
from rig.card_formats.sle4442.format import SLE4442
from rig.errors import CardError

METER = "000000001001"
SERIAL = "5A4C453434343201"
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
C1, C2 = 3000, 2500  # credit units of vends 1 and 2


@dataclass
class Figures:
    cases: int = 0
    lost: int = 0  # cases that ended with less credit applied than sold
    duplicated: int = 0  # cases that ended with more
    unrecovered: int = 0  # cases whose readback never caught up with the meter


def _vend(seq: int, credit: int) -> Purchase:
    return Purchase(meter_no=METER, card_serial=SERIAL, sequence=seq, credit=credit,
                    credit_unit="money_cents", tariff_version=0, price_per_kwh=Decimal(0),
                    key_revision=1)


class _World:
    """One issued card, one meter, purchase 1 applied: the state every case starts from."""

    def __init__(self, make_wallet: Callable[[], MeterWallet], dialect: str) -> None:
        self.keys = MasterKeys(lab_test_key())
        self.card = SLE4442.blank_card({"dialect": "acs"})
        SLE4442.station_writer(self.keys).personalise(
            WriterSlot(self.card), card_serial=SERIAL, meter_no=METER, key_revision=1)
        self.card = self.card.in_reader(dialect)
        self.writer = SLE4442.station_writer(self.keys, options={"dialect": dialect})
        self.wallet = make_wallet()
        self.reader = SLE4442.meter_reader(self.wallet, METER, self.keys, key_revision=1)
        self.start = self._credit()
        self.writer.write_purchase(WriterSlot(self.card), _vend(1, C1))
        self.insert()

    def _credit(self) -> int:
        """The customer's credit in card units (remaining less overdraft)."""
        values = self.wallet.readback_values(NOW)
        return int(values["remaining"]) - int(values["overdraft"])

    def insert(self, tear: int | None = None) -> None:
        self.card.tear_after(tear)
        try:
            self.reader.insert(self.card.meter_slot(), NOW + timedelta(minutes=1))
        finally:
            self.card.tear_after(None)

    def sell(self, tear: int | None = None) -> bool:
        """Write vend 2; False if the card was pulled."""
        self.card.tear_after(tear)
        try:
            self.writer.write_purchase(WriterSlot(self.card), _vend(2, C2))
        except CardError:
            return False
        finally:
            self.card.tear_after(None)
        return True

    def judge(self, figures: Figures) -> None:
        applied = self._credit() - self.start
        figures.cases += 1
        figures.lost += applied < C1 + C2
        figures.duplicated += applied > C1 + C2
        readback = self.writer.read_readback(WriterSlot(self.card))
        figures.unrecovered += readback.fields["last_sequence"] != 2


def purchase_write_campaign(make_wallet: Callable[[], MeterWallet],
                            dialect: str = "acs") -> Figures:
    """Vend 2's purchase block torn after 0..31 bytes; the station writes it again (the
    centre was never told it was written), then the customer inserts the card, twice."""
    figures = Figures()
    for cut in range(layout.BLOCK_SIZE):
        world = _World(make_wallet, dialect)
        if world.sell(tear=cut):
            raise AssertionError(f"cut {cut}: the write was not torn")
        world.insert()  # the torn card in the meter first: refused or no new credit
        world.sell()
        world.insert()
        world.insert()
        world.judge(figures)
    return figures


def readback_write_campaign(make_wallet: Callable[[], MeterWallet],
                            dialect: str = "acs") -> Figures:
    """The meter's readback after vend 2 torn after 0..63 bytes; the customer inserts the
    card again (the station refuses a third vend until the readback shows vend 2)."""
    figures = Figures()
    for cut in range(layout.READBACK_SIZE):
        world = _World(make_wallet, dialect)
        world.sell()
        world.insert(tear=cut)
        world.insert()
        world.judge(figures)
    return figures
