"""The console sells a memory-card meter: its card writer writes each card in the card format
of the meter's profile as the centre registered it (SLE 4442 here), through the station's
writer options (an OMNIKEY writer that issues through ACS), on the emulated bench's real
PC/SC reader and through the console's own web pages: set up the card, sell, write, the
meter applies it, the readback comes home balanced."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from rig.billing import BillingCentre, VendStatus, open_billing
from rig.card_formats.sle4442.card import VirtualSLE4442
from rig.card_formats.sle4442.layout import PURCHASE_AT, PurchaseBlock
from rig.errors import ConfigError
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench, lab_master_key
from rig.station.console import PcscCardWriter

from .conftest import csrf_of, login, make_client, open_shift, seed

PROFILE = "dlt645-1p-memory-card"
OMNIKEY = {"dialect": "omnikey", "issue_dialect": "acs"}


@dataclass
class Desk:
    bench: EmulatedBench
    centre: BillingCentre
    writer: PcscCardWriter
    meter_no: str
    card: str


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    db = tmp_path_factory.mktemp("console-memory-card") / "billing.sqlite"
    centre = open_billing(f"sqlite:///{db}")
    with EmulatedBench(load_profile(PROFILE), card_options=OMNIKEY) as bench:
        assert bench.parts is not None
        meter_no, card = bench.meter.meter_no, uuid.uuid4().hex[:16].upper()
        seed(centre, meter_no=meter_no, card=card, profile=PROFILE,
             commissioning_wh=bench.meter.engine.energy_wh)
        writer = PcscCardWriter(centre, lab_master_key(), bench.parts.card_reader,
                                card_options=OMNIKEY)
        yield Desk(bench, centre, writer, meter_no, card)
    centre.close()


def test_the_console_sells_a_memory_card_meter_in_its_cards_format(desk: Desk) -> None:
    client: TestClient = make_client(desk.centre, desk.writer)
    desk.bench.move_card("writer")
    sam = login(client, "sam")
    r = client.post("/supervisor/cards/setup", data={"csrf": sam, "meter_no": desk.meter_no})
    assert f"Card {desk.card} set up for meter {desk.meter_no}" in r.text, r.text
    chip = desk.bench.card.app
    assert isinstance(chip, VirtualSLE4442) and chip.chip.protection != 0xFFFFFFFF  # issued
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})

    carol = login(client, "carol")
    open_shift(client, carol)
    preview = client.post("/vend/preview", data={"csrf": carol, "meter_no": desk.meter_no,
                                                 "amount": "20.00"})
    rid = preview.text.split('name="request_id" value="')[1].split('"')[0]
    client.post("/vend/confirm", data={"csrf": carol, "meter_no": desk.meter_no,
                                       "amount": "20.00", "request_id": rid})
    [vend] = desk.centre.vends_for_meter(desk.meter_no)
    r = client.post(f"/vends/{vend.vend_id}/write", data={"csrf": carol})
    assert f"Card {desk.card} written" in r.text, r.text
    assert desk.centre.vend_by_id(vend.vend_id).status is VendStatus.WRITTEN
    block = PurchaseBlock.decode(bytes(chip.chip.main[PURCHASE_AT:PURCHASE_AT + 32]))
    assert block is not None and (block.sequence, block.credit) == (vend.sequence, vend.credit)

    outcome = desk.bench.move_card("meter")  # the memory-card meter reads it
    assert outcome is not None and outcome.applied_sequence == vend.sequence, outcome
    desk.bench.move_card("writer")
    r = client.post(f"/meters/{desk.meter_no}/readback", data={"csrf": carol})
    assert "Readback uploaded" in r.text, r.text
    assert desk.centre.vend_by_id(vend.vend_id).status is VendStatus.CONFIRMED


def test_a_writer_option_no_card_format_has_is_refused_naming_it(desk: Desk) -> None:
    with pytest.raises(ConfigError, match=r"card writer 'R': no installed card format has the "
                                          r"option speed"):
        PcscCardWriter(desk.centre, lab_master_key(), "R", card_options={"speed": "fast"})
