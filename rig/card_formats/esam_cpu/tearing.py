"""Card tearing on the esam-cpu format: the card pulled before every command of a session.

A CPU card writes each UPDATE BINARY atomically (its operating system's anti-tearing: a
pulled card keeps the old or the new file, never a mix), so the cut points are the command
boundaries. Two sessions move credit: the station's purchase write and the meter's
insertion (ESAM credited, registers, return-write file). After each cut the world recovers
the way people do (the station writes the same vend again, the customer inserts the card
again) and the case compares the credit sold with the credit the meter applied, and the
meter's ESAM wallet with its registers. Used by the tests and bench/faults.py; the wallet
(the meter's registers) comes from the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rig.card.keys import lab_test_key
from rig.card_formats.esam_cpu.card import CardSlot, VirtualEsamCpuCard
from rig.card_formats.esam_cpu.format import ESAM_CPU
from rig.card_formats.interface import MasterKeys, MeterWallet
from rig.card_formats.tearing import C1, C2, NOW, TearingFigures, tearing_vend, wallet_credit
from rig.errors import CardError
from rig.esam.esam import commissioned
from rig.esam.keys import KeyState, LabKeyService

METER = "000000002025"
SERIAL = "C9C0C9C0C9C0C901"


class _Counting:
    def __init__(self, card: VirtualEsamCpuCard) -> None:
        self.slot, self.count = CardSlot(card), 0

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        return self.slot.transmit(apdu)


class _World:
    """One issued card, one meter with its ESAM (private keys), purchase 1 applied."""

    def __init__(self, make_wallet: Callable[[], MeterWallet]) -> None:
        master = lab_test_key()
        self.esam = commissioned(METER, bytes.fromhex("0000000000002025"), KeyState.PRIVATE,
                                 LabKeyService.from_master(master))
        keys = MasterKeys(master)
        self.card = ESAM_CPU.blank_card()
        self.writer = ESAM_CPU.station_writer(keys)
        self.writer.personalise(CardSlot(self.card), card_serial=SERIAL, meter_no=METER,
                                key_revision=1)
        self.wallet = make_wallet()
        self.reader = ESAM_CPU.meter_reader(self.wallet, METER,
                                            MasterKeys(master, None, self.esam), key_revision=1)
        self.start = wallet_credit(self.wallet)
        self.writer.write_purchase(CardSlot(self.card), tearing_vend(METER, SERIAL, 1, C1))
        self.insert()

    def insert(self, tear: int | None = None) -> int:
        """One insertion (pulled before command ``tear``); returns the commands sent."""
        slot = _Counting(self.card)
        self.card.tear_after = tear
        try:
            self.reader.insert(slot, NOW + timedelta(minutes=1))
        finally:
            self.card.tear_after = None
        return slot.count

    def sell(self, tear: int | None = None) -> int | None:
        """Write vend 2; the commands sent, None if the card was pulled."""
        slot = _Counting(self.card)
        self.card.tear_after = tear
        try:
            self.writer.write_purchase(slot, tearing_vend(METER, SERIAL, 2, C2))
        except CardError:
            return None
        finally:
            self.card.tear_after = None
        return slot.count

    def judge(self, figures: TearingFigures) -> None:
        """Count the case: the registers and the ESAM wallet against the credit sold, and
        the return-write record (unrecovered if it never caught up with the meter)."""
        applied, esam = wallet_credit(self.wallet) - self.start, self.esam.wallet.total
        readback = self.writer.read_readback(CardSlot(self.card))
        figures.count(lost=applied < C1 + C2 or esam < C1 + C2,
                      duplicated=applied > C1 + C2 or esam > C1 + C2,
                      unrecovered=readback.fields["last_sequence"] != 2)


def purchase_write_campaign(make_wallet: Callable[[], MeterWallet]) -> TearingFigures:
    """Vend 2's write pulled before each of its commands; the station writes it again (the
    centre was never told it was written), then the customer inserts the card, twice."""
    commands = _World(make_wallet).sell()
    assert commands is not None
    figures = TearingFigures()
    for cut in range(commands):
        world = _World(make_wallet)
        if world.sell(tear=cut) is not None:
            raise AssertionError(f"cut {cut}: the write was not torn")
        world.insert()  # the torn card in the meter first: no new credit
        world.sell()
        world.insert()
        world.insert()
        world.judge(figures)
    return figures


def meter_session_campaign(make_wallet: Callable[[], MeterWallet]) -> TearingFigures:
    """The meter's insertion after vend 2 pulled before each of its commands; the customer
    inserts the card again (the station refuses a third vend until the return-write record
    shows vend 2)."""
    world = _World(make_wallet)
    world.sell()
    commands = world.insert()
    figures = TearingFigures()
    for cut in range(commands):
        world = _World(make_wallet)
        world.sell()
        world.insert(tear=cut)
        world.insert()
        world.judge(figures)
    return figures
