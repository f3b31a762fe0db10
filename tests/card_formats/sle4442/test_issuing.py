"""An OMNIKEY writer sells but cannot issue (no CHANGE PSC, no WRITE PROTECTION): the station
issues through an issuing writer of another dialect (`issue_dialect`), and without one an
OMNIKEY bench gets one error naming the dialect and what to configure, its card untouched.
On the emulated bench the virtual card answers the issuing dialect while it is issued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig
from rig.billing.connect import connect_billing
from rig.card_formats.interface import MasterKeys, Purchase
from rig.card_formats.sle4442.format import SLE4442
from rig.cli.main import app
from rig.errors import CardError, ConfigError
from rig.report.record import RunRecord
from rig.scenarios import certification
from rig.scenarios.steps import BenchSteps

from .conftest import METER, Slot

SERIAL = "00000000000000A1"
OMNIKEY_ISSUING = {"dialect": "omnikey", "issue_dialect": "acs"}
# A real bench's set-up: the ACS issuing writer is a second PC/SC reader (on the emulated
# bench, a second vpcd reader holding the same card).
ISSUE_READER = {**OMNIKEY_ISSUING, "issue_reader": "emulated"}


def _purchase(sequence: int = 1, meter_no: str = METER) -> Purchase:
    return Purchase(meter_no=meter_no, card_serial=SERIAL, sequence=sequence, credit=2000,
                    credit_unit="money_cents", tariff_version=0,
                    price_per_kwh=Decimal(0), key_revision=1)


def test_omnikey_without_an_issuing_writer_names_what_to_configure(keys: MasterKeys) -> None:
    card = SLE4442.blank_card({"dialect": "omnikey"})
    before = card.chip.to_dict()
    writer = SLE4442.station_writer(keys, options={"dialect": "omnikey"})
    with pytest.raises(CardError) as e:
        writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("omnikey: CHANGE PSC and WRITE PROTECTION")
    assert 'issue_dialect = "acs"' in message and "issue_reader" in message
    assert card.chip.to_dict() == before  # refused before the card changed


def test_omnikey_station_issues_through_the_acs_issuing_writer_and_sells(
        keys: MasterKeys) -> None:
    card = SLE4442.blank_card(OMNIKEY_ISSUING)
    writer = SLE4442.station_writer(keys, options=OMNIKEY_ISSUING)
    issued = writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER,
                                key_revision=1)
    assert (issued.card_serial, issued.meter_no) == (SERIAL, METER)
    assert card.chip.error_counter == 0x07  # the meter's PSC verified after the change
    assert card.chip.protection & 0x1FF0 == 0  # layout version and serial frozen

    slot = Slot(card)  # a new session: the card is back in the OMNIKEY writer
    assert card.front.__class__.__name__ == "OmnikeyFrontEnd"
    assert writer.write_purchase(slot, _purchase()).sequence == 1
    assert writer.read_purchase(Slot(card)).credit == 2000  # type: ignore[union-attr]

    other = "990000001001"  # re-bound to another meter through the issuing writer again
    writer.personalise(Slot(card), card_serial=SERIAL, meter_no=other, key_revision=1)
    assert writer.identify(Slot(card)).meter_no == other
    assert writer.read_purchase(Slot(card)) is None  # the old meter's purchase erased
    assert writer.write_purchase(Slot(card), _purchase(meter_no=other)).meter_no == other


def test_a_real_omnikey_reader_without_issue_reader_says_to_name_it(keys: MasterKeys) -> None:
    """A card that answers only OMNIKEY (a real OMNIKEY reader: 6D 00 to ACS's select)."""
    card = SLE4442.blank_card({"dialect": "omnikey"})
    before = card.chip.to_dict()
    writer = SLE4442.station_writer(keys, options=OMNIKEY_ISSUING)
    with pytest.raises(CardError, match=r"^acs: the card did not answer the issuing dialect "
                                        r"in this omnikey writer .*6D ?00.*issue_reader"):
        writer.personalise(Slot(card), card_serial=SERIAL, meter_no=METER, key_revision=1)
    assert card.chip.to_dict() == before


def test_an_issuing_dialect_must_be_able_to_issue(keys: MasterKeys) -> None:
    with pytest.raises(ConfigError, match=r"issue_dialect: the omnikey dialect cannot issue a "
                                          r"card .*issuing dialects: acs"):
        SLE4442.station_writer(keys, options={"dialect": "omnikey", "issue_dialect": "omnikey"})
    config = BenchConfig(profile="dlt645-1p-memory-card",
                         card={"dialect": "omnikey", "issue_dialect": "omnikey"})
    with pytest.raises(ConfigError, match=r"issue_dialect: 'omnikey' is not one of acs"), \
            open_bench(config):
        pass


@pytest.fixture
def memory_card_steps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BenchSteps]:
    config = BenchConfig(profile="dlt645-1p-memory-card", time_scale=36000.0,
                         card=request.param)
    with open_bench(config) as bench, \
            connect_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}",
                            clock=bench.clock.now) as billing:
        yield BenchSteps(bench, billing, RunRecord("certification", identity={}))


@pytest.mark.bench
@pytest.mark.parametrize("memory_card_steps", [{"dialect": "acs"}, OMNIKEY_ISSUING,
                                               ISSUE_READER],
                         ids=["acs", "omnikey-issuing-acs", "omnikey-issue-reader"],
                         indirect=True)
def test_card_for_another_meter_scenario_passes_in_each_dialect(
        memory_card_steps: BenchSteps) -> None:
    """The suite's fastest scenario issues the card, sells and re-binds it to another meter:
    every step the OMNIKEY writer cannot do alone."""
    certification.card_for_another_meter_is_refused(memory_card_steps)
    assert str(memory_card_steps.record.outcome) == "pass"


@pytest.mark.bench
@pytest.mark.parametrize("memory_card_steps", [{"dialect": "omnikey"}], ids=["omnikey"],
                         indirect=True)
def test_an_omnikey_bench_without_issuing_writer_fails_in_one_line(
        memory_card_steps: BenchSteps) -> None:
    with pytest.raises(CardError, match=r"^omnikey: CHANGE PSC and WRITE PROTECTION: .*"
                                        r'issue_dialect = "acs"'):
        certification.card_for_another_meter_is_refused(memory_card_steps)


@pytest.mark.bench
def test_rig_run_issues_in_the_issuing_readers_writer_and_sells_in_the_omnikey_one(
        tmp_path: Path, bench_config: BenchConfig) -> None:
    """`rig run` on an OMNIKEY bench whose config names an issue_reader: the card is issued
    through a second PC/SC reader in the ACS dialect (the code path of a real bench: the
    writer waits for the card there) and sold through the OMNIKEY reader, which never hears
    an ACS command; the cycle balances and its trace replays clean."""
    if bench_config.kind != "emulated":
        pytest.skip("the emulated memory-card meter and its card")
    bench = tmp_path / "omnikey.toml"
    bench.write_text('kind = "emulated"\nprofile = "dlt645-1p-memory-card"\n'
                     'time_scale = 36000.0\n[card]\ndialect = "omnikey"\n'
                     'issue_dialect = "acs"\nissue_reader = "emulated"\n', "utf-8")
    run = CliRunner().invoke(app, ["run", "--bench", str(bench), "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    [trace_file] = tmp_path.glob("prepaid-cycle-*/apdu-trace.jsonl")
    header, *lines = trace_file.read_text("utf-8").splitlines()
    issue_reader = json.loads(header)["options"]["issue_reader"]
    used: dict[str, set[str]] = {}
    for entry in map(json.loads, lines):
        if entry["terminal"] != "meter":
            reader, _, dialect = entry["terminal"].rpartition(" [")
            used.setdefault(f"{reader} [{dialect}", set()).add(entry["command"][:4])
    assert f"{issue_reader} [acs]" in used and "FFA4" in used[f"{issue_reader} [acs]"]
    assert "FFD2" in used[f"{issue_reader} [acs]"]  # the PSC set in the issuing writer
    selling = [t for t in used if t.endswith("[omnikey]")]
    assert len(selling) == 1 and not selling[0].startswith(issue_reader)
    assert "FFD6" in used[selling[0]]  # the vend written through the OMNIKEY reader
    assert not any(t.endswith("[acs]") and not t.startswith(issue_reader) for t in used)
    replay = CliRunner().invoke(app, ["card", "replay", str(trace_file)])
    assert replay.exit_code == 0 and " 0 differ" in replay.output, replay.output
