"""The meter's ESAM dialogue on the emulated CPU-card bench, through its real interfaces:
a refusal by the ESAM is filed with the ESAM command's header and status word and read back
over DL/T 645 on the meter's pty; the dialogue is in the bench's saved APDU trace, keys and
key packages cut; ``rig card replay`` shows it without sending it to a card; and a real ESAM
behind a PC/SC reader is reached with the same link (the emulated chip as the vpcd card)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rig.card.pcsc import PcscReader
from rig.card.trace import ApduTrace, load_trace
from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.format import ESAM_CPU
from rig.esam.commands import EsamCommands
from rig.esam.esam import Esam, EsamError, EsamRefusal
from rig.esam.keys import KeyId, KeyState, LabKeyService, card_factor
from rig.esam.link import ESAM_TERMINAL, EsamLink
from rig.meter.card_errors import CardErrorCode as E
from rig.sim.card_replay import meter_sessions, replay_against_card
from rig.sim.emulated_bench import lab_master_key
from rig.sim.virtual_card import VirtualCard, VpcdLink
from tests.card_formats.esam_cpu.conftest import CARD_A, CpuBench, public_profile

CUSTOMER = "000000123456"


@pytest.mark.bench
def test_an_esam_refusal_is_recorded_with_the_esam_commands_header_and_status_word(
        cpu_bench: CpuBench) -> None:
    """A public-state card in the private meter: the ESAM's CHECK KEY STATE on card-purchase
    (slot 4) answers 6A88; the abnormal-insertion record, read over the pty, says so."""
    b = cpu_bench
    b.issue(CARD_A, revision=0)
    b.revision = 0
    b.sell(1)
    before = b.remaining()
    assert not b.insert().accepted
    refusals = b.refusals()
    record = refusals.last_record
    assert record is not None
    assert (record.error, record.card_serial) == (int(E.NOT_AUTHORISED), CARD_A)
    assert record.command_header == bytes.fromhex("801A000401")
    assert record.response_status == 0x6A88
    assert b.remaining() == before


@pytest.fixture
def traced_bench(tmp_path: Path) -> Iterator[tuple[CpuBench, ApduTrace]]:
    trace = ApduTrace()
    with CpuBench(public_profile(tmp_path)) as bench:
        bench.sim.apdu_trace = trace  # the meter slot's exchanges, and its ESAM's
        bench.writer = ESAM_CPU.station_writer(bench.keys, trace=trace)
        yield bench, trace


@pytest.mark.bench
def test_a_saved_runs_trace_shows_the_esam_dialogue_without_a_key(
        traced_bench: tuple[CpuBench, ApduTrace], tmp_path: Path) -> None:
    b, trace = traced_bench
    esam = b.sim.meter.esam
    assert esam is not None
    keys_before = [k for _, k in esam.to_image()["keys"].values()]
    b.issue(CARD_A)
    b.sell(1)
    assert b.insert().accepted
    b.issue("D0D0D0D0D0D0D004", kind="key_change")
    with b.at_writer() as conn:
        b.writer.write_key_change(conn, b.meter_no, 0, 1)
    outcome = b.insert()
    assert outcome.accepted and "private" in outcome.message
    assert esam.key_state is KeyState.PRIVATE

    saved = trace.save(tmp_path / "apdu-trace.jsonl", card_format="esam-cpu")
    text = saved.read_text(encoding="utf-8").lower()
    lab = LabKeyService.from_master(lab_master_key())
    secrets = keys_before + [k for _, k in esam.to_image()["keys"].values()]
    secrets += [lab.master(k, s).hex() for k in KeyId for s in KeyState]
    for card in b.cards.values():
        secrets += [k for _, k in card.to_dict()["keys"].values()]
    key_file = b.cards["D0D0D0D0D0D0D004"].to_dict()["files"][f"{layout.FID_KEY_UPDATE:04X}"]
    packages = layout.key_update_packages(bytes.fromhex(key_file))
    assert len(packages) == len(KeyId)
    for secret in secrets:  # no key anywhere in the run's trace
        assert secret not in text
    dialogue = [e for e in load_trace(saved).entries if e.terminal == ESAM_TERMINAL]
    said = json.dumps([e.to_json() for e in dialogue]).lower()
    for package in packages:  # nor a key package in the ESAM's dialogue
        assert package.hex() not in said
    names = [e.name for e in dialogue]
    for name in ("ESAM CHECK KEY STATE", "ESAM GET CHALLENGE", "ESAM VERIFY CARD",
                 "ESAM ANSWER CARD", "ESAM CARD MAC", "ESAM CREDIT", "ESAM KEY UPDATE"):
        assert name in names
    updates = [e for e in dialogue if e.name == "ESAM KEY UPDATE" and e.command[2] != 2]
    assert len(updates) == len(KeyId)
    assert all(e.command_redacted == 32 and e.response[-2:] == b"\x90\x00" for e in updates)
    credit = next(e for e in dialogue if e.name == "ESAM CREDIT")
    assert credit.command.hex().upper().startswith("804201000E")  # the open account

    report = replay_against_card(load_trace(saved))
    assert report.esam_exchanges == len(dialogue)
    assert f"{len(dialogue)} exchanges with the meter's ESAM not replayed" in report.to_text()
    assert all(d.terminal != ESAM_TERMINAL for d in report.differences)
    # the ESAM dialogue inside an insertion does not cut it in pieces: two insertions
    assert len(meter_sessions(load_trace(saved))) == 2


def test_the_link_reaches_an_esam_behind_a_pcsc_reader(slot: Any) -> None:
    """A lab's meter-board ESAM in a reader: the same link over pyscard + pcscd (here the
    emulated chip is the vpcd card), answers and refusals alike."""
    esam = Esam.manufactured("000000001365", bytes.fromhex("0000000000002025"))
    chip = EsamCommands(esam, clock=lambda: datetime(2026, 12, 3, 10, 0))
    card = VirtualCard(chip)  # type: ignore[arg-type]  # a chip, not a card format's card
    with VpcdLink(card, slot), PcscReader(slot.reader_name).wait_for_card(5) as conn:
        assert conn.atr == chip.atr
        link = EsamLink(conn)
        assert link.serial == bytes.fromhex("0000000000002025")
        lab = LabKeyService(bytes(range(32)), "test lab")
        serial = "A1B2C3D4E5F60718"
        challenge = link.challenge(8)
        link.check_card(serial, challenge, lab.cryptogram(
            KeyId.CARD_INTERNAL, KeyState.PUBLIC, card_factor(serial), challenge))
        link.credit(1000, 1, CUSTOMER, open_account=True)
        assert (link.wallet.total, link.wallet.customer_no) == (1000, CUSTOMER)
        with pytest.raises(EsamError) as e:
            link.credit(1000, 1, CUSTOMER)  # the same purchase again
        assert (e.value.refusal, e.value.status_word) == (EsamRefusal.PURCHASE_COUNT, 0x9303)
        assert e.value.header == bytes.fromhex("804200000E")
        assert conn.transmit(bytes.fromhex("80990000")) == bytes.fromhex("6D00")
    assert esam.wallet.purchase_count == 1
