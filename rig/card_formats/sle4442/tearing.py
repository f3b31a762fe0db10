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
from datetime import timedelta

from rig.card.keys import lab_test_key
from rig.card_formats.interface import MasterKeys, MeterWallet
from rig.card_formats.sle4442 import layout
from rig.card_formats.sle4442.card import WriterSlot
from rig.card_formats.sle4442.format import SLE4442
from rig.card_formats.tearing import C1, C2, NOW, TearingFigures, tearing_vend, wallet_credit
from rig.errors import CardError

METER = "000000001001"
SERIAL = "5A4C453434343201"


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
        self.start = wallet_credit(self.wallet)
        self.writer.write_purchase(WriterSlot(self.card), tearing_vend(METER, SERIAL, 1, C1))
        self.insert()

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
            self.writer.write_purchase(WriterSlot(self.card), tearing_vend(METER, SERIAL, 2, C2))
        except CardError:
            return False
        finally:
            self.card.tear_after(None)
        return True

    def judge(self, figures: TearingFigures) -> None:
        """Count the case: the registers against the credit sold, and the readback
        (unrecovered if it never caught up with the meter)."""
        applied = wallet_credit(self.wallet) - self.start
        readback = self.writer.read_readback(WriterSlot(self.card))
        figures.count(lost=applied < C1 + C2, duplicated=applied > C1 + C2,
                      unrecovered=readback.fields["last_sequence"] != 2)


def purchase_write_campaign(make_wallet: Callable[[], MeterWallet],
                            dialect: str = "acs") -> TearingFigures:
    """Vend 2's purchase block torn after 0..31 bytes; the station writes it again (the
    centre was never told it was written), then the customer inserts the card, twice."""
    figures = TearingFigures()
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
                            dialect: str = "acs") -> TearingFigures:
    """The meter's readback after vend 2 torn after 0..63 bytes; the customer inserts the
    card again (the station refuses a third vend until the readback shows vend 2)."""
    figures = TearingFigures()
    for cut in range(layout.READBACK_SIZE):
        world = _World(make_wallet, dialect)
        world.sell()
        world.insert(tear=cut)
        world.insert()
        world.judge(figures)
    return figures
