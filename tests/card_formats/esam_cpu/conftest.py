"""Shared parts of the esam-cpu tests: an emulated bench of the shipped CPU-card meter reached
through its real interfaces (the writer through pcscd + vpcd, the meter's registers and
abnormal-insertion record over its pty), plus in-process parts for the card's own tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from rig.card.pcsc import PcscConnection, PcscReader
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.card import VirtualEsamCpuCard
from rig.card_formats.esam_cpu.format import ESAM_CPU
from rig.card_formats.esam_cpu.writer import EsamCpuWriter
from rig.card_formats.interface import InsertionOutcome, MasterKeys, Purchase
from rig.meter.client import CardRefusals, MeterClient, open_meter
from rig.profile import MeterProfile, load_profile
from rig.sim.emulated_bench import EmulatedBench, lab_master_key
from rig.sim.vpcd import SlotBusyError

PROFILE = "dlt645-1p-cpu-card"
PROFILE_FILE = Path(__file__).parents[3] / "rig/data/meter_profiles" / f"{PROFILE}.toml"
CARD_A = "A0A0A0A0A0A0A001"  # the account's card
CARD_B = "B0B0B0B0B0B0B002"  # a replacement


def public_profile(tmp_path: Path) -> MeterProfile:
    """The shipped meter as it leaves the factory: ESAM in the public key state."""
    text = PROFILE_FILE.read_text(encoding="utf-8")
    text = text.replace('key_state = "private"', 'key_state = "public"').replace(
        "key_revision = 1 ", "key_revision = 0 ")
    path = tmp_path / f"{PROFILE}-public.toml"
    path.write_text(text, encoding="utf-8")
    return load_profile(str(path))


class CpuBench:
    """One emulated CPU-card meter; the card's writer is a PC/SC reader (vpcd)."""

    def __init__(self, profile: MeterProfile) -> None:
        self.profile = profile
        self.meter_no = profile.protocol.address
        self.sim = EmulatedBench(profile, noise=False)
        self.keys = MasterKeys(lab_master_key())
        self.writer: EsamCpuWriter = ESAM_CPU.station_writer(self.keys)
        self.revision = profile.card.key_revision
        self.cards: dict[str, VirtualEsamCpuCard] = {}
        self.meter: MeterClient | None = None

    def __enter__(self) -> CpuBench:
        try:
            parts = self.sim.start()
        except SlotBusyError as e:  # other benches hold every reader: contention
            pytest.skip(str(e))
        self.reader = parts.card_reader
        self.meter = open_meter(self.profile, parts.meter_port)
        self.meter.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.meter is not None:
            self.meter.__exit__(None, None, None)
        self.sim.stop()

    # -- the card ---------------------------------------------------------------------
    def hand_over(self, serial: str) -> None:
        """The customer presents card ``serial`` (a blank one the first time)."""
        self.sim.move_card("hand")
        card = self.cards.setdefault(serial, VirtualEsamCpuCard())
        self.sim.card.app = card

    @contextlib.contextmanager
    def at_writer(self) -> Iterator[PcscConnection]:
        self.sim.move_card("writer")
        with PcscReader(self.reader).wait_for_card(10) as conn:
            yield conn

    def issue(self, serial: str, *, revision: int | None = None, kind: str = "user",
              customer_no: str | None = None) -> None:
        from rig.card_formats.interface import CardKind

        self.hand_over(serial)
        with self.at_writer() as conn:
            self.writer.personalise(conn, card_serial=serial, meter_no=self.meter_no,
                                    key_revision=self.revision if revision is None
                                    else revision, kind=CardKind(kind),
                                    customer_no=customer_no)

    def sell(self, sequence: int, credit: int = 1000) -> None:
        with self.at_writer() as conn:
            self.writer.write_purchase(conn, Purchase(
                meter_no=self.meter_no, card_serial="", sequence=sequence, credit=credit,
                credit_unit="money_cents", tariff_version=0, price_per_kwh=Decimal(0),
                key_revision=self.revision))

    def put_on_card(self, **changes: object) -> None:
        """The office writes the card-information file with these fields (its MAC good)."""
        with self.at_writer() as conn:
            client, serial, info = self.writer.open(conn)
            assert info is not None
            self.writer.write_info(client, serial, replace(info, **changes))

    def put_return(self, data: bytes) -> None:
        with self.at_writer() as conn:
            client, serial, info = self.writer.open(conn)
            assert info is not None
            self.writer.write_return(client, serial, info.key_state, data)

    def card_return(self) -> layout.ReturnRecord | None:
        with self.at_writer() as conn:
            client, _, _ = self.writer.open(conn)
            try:
                return layout.ReturnRecord.decode(client.read(layout.FID_RETURN))
            except Exception:
                return None

    def insert(self) -> InsertionOutcome:
        outcome = self.sim.move_card("meter")
        assert outcome is not None
        return outcome

    # -- the meter, over its pty --------------------------------------------------------
    def remaining(self) -> Decimal:
        assert self.meter is not None
        return self.meter.remaining_credit()

    def refusals(self) -> CardRefusals:
        assert self.meter is not None
        return self.meter.card_refusals()


@pytest.fixture
def cpu_bench() -> Iterator[CpuBench]:
    with CpuBench(load_profile(PROFILE)) as bench:
        yield bench


@pytest.fixture
def public_bench(tmp_path: Path) -> Iterator[CpuBench]:
    with CpuBench(public_profile(tmp_path)) as bench:
        yield bench
