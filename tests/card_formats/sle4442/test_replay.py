"""`rig card replay` of a memory-card run: the trace a real `rig run` saved on the SLE 4442
profile (ACS, and OMNIKEY issuing through ACS) replays with no difference against a blank
card, presenting this lab's own PSC where the trace redacted it and sending the meter's
chip-bus commands through the card's meter slot; a card that is genuinely different (a
changed purchase byte, a locked card, a card under another issuer's keys) still differs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.bench.config import BenchConfig
from rig.card.keys import lab_test_key
from rig.card.trace import ApduTrace, SavedTrace, TracedTransport
from rig.card_formats.interface import MasterKeys
from rig.card_formats.sle4442.format import SLE4442
from rig.card_formats.sle4442.psc import meter_psc
from rig.cli.main import app
from rig.faults.card_world import MASTER, NOW, OTHER_MASTER, READBACK_MASTER, SERIAL, make_world
from rig.profile import load_profile
from rig.scenarios.prepaid_cycle import CycleParams
from rig.scenarios.runner import run_prepaid_cycle
from rig.sim.card_replay import replay_against_meter
from rig.sim.virtual_card import VirtualCard

PROFILE = "dlt645-1p-memory-card"
DIALECTS = {"acs": {"dialect": "acs"}, "omnikey": {"dialect": "omnikey", "issue_dialect": "acs"}}


@pytest.fixture(scope="module", params=list(DIALECTS))
def run_trace(request: pytest.FixtureRequest, bench_config: BenchConfig,
              tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The apdu-trace.jsonl of one real prepaid cycle on the memory-card profile."""
    if bench_config.kind != "emulated":
        pytest.skip("the emulated memory-card meter and its card")
    card = bench_config.card.model_copy(update=DIALECTS[request.param])
    config = bench_config.model_copy(update={"profile": PROFILE, "time_scale": 36000.0,
                                             "card": card})
    run_dir = tmp_path_factory.mktemp(f"run-{request.param}")
    run = run_prepaid_cycle(config, params=CycleParams(amount=Decimal("20.00")),
                            run_dir=run_dir)
    if run.error is not None:
        raise run.error
    return run_dir / "apdu-trace.jsonl"


def entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()[1:]]


def replay(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["card", "replay", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_a_memory_card_run_replays_with_no_difference(run_trace: Path) -> None:
    saved = entries(run_trace)
    psc = meter_psc(MasterKeys(lab_test_key()), "000000004442", 1).hex().upper()
    assert psc not in run_trace.read_text("utf-8")  # the trace holds no PSC to replay from
    secret = [e for e in saved if e["command_redacted"]]
    assert len(secret) >= 8  # the writer's PSC presentations and changes, the meter's compares
    meter = [e for e in saved if e["terminal"] == "meter"]
    assert meter and all(len(str(e["command"])) <= 6 for e in meter)  # 3-byte chip commands
    cut = sum(int(str(e["response_redacted"])) for e in saved)
    assert cut > 0  # the security memory's answers

    code, out = replay(str(run_trace))
    assert code == 0, out
    assert (f"replayed {len(saved)} exchanges of a sle4442 trace against the card: "
            f"{len(saved)} as recorded ({len(secret)} with this lab's own secret in place of "
            f"the redacted one), 0 differ, 0 skipped (secret); {cut} response bytes redacted "
            "in the trace, not compared") in out


def test_a_changed_purchase_byte_shows_where_it_is_read(run_trace: Path,
                                                        tmp_path: Path) -> None:
    lines = run_trace.read_text("utf-8").splitlines()
    # the purchase block written at 20h (ACS FF D0, OMNIKEY FF D6): its credit's last byte
    at = next(i for i, line in enumerate(lines[1:], 1)
              if json.loads(line)["command"][:4] in ("FFD0", "FFD6")
              and json.loads(line)["command"][6:8] == "20")
    entry = json.loads(lines[at])
    command = bytearray(bytes.fromhex(entry["command"]))
    command[5 + 7] ^= 0x01  # purchase block +7: the credit's low byte
    entry["command"] = command.hex().upper()
    lines[at] = json.dumps(entry)
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(lines) + "\n", "utf-8")

    code, out = replay(str(changed))
    assert code == 1, out
    assert f"step {at + 1} [" in out and "READ BINARY offset 32: response differs" in out
    assert "[meter] READ MAIN MEMORY at 00h: response differs: recorded 256 bytes, " \
           "replayed 256, first difference at byte 39" in out  # 20h + 7


def test_a_locked_card_differs_at_its_first_psc(run_trace: Path, tmp_path: Path) -> None:
    options = json.loads(run_trace.read_text("utf-8").splitlines()[0])["options"]
    card = SLE4442.blank_card(options)
    card.chip.error_counter = 0  # three wrong PSCs before: locked for ever
    saved = tmp_path / "locked-card.json"
    VirtualCard(card, format_name="sle4442").save(saved)

    code, out = replay(str(run_trace), "--card", str(saved))
    assert code == 1, out
    first = out.splitlines()[0]  # the first presentation, on the ACS writer
    assert "INS 20: response differs: recorded SW 9007, replayed SW 9000" in first


def test_a_memory_card_run_replays_against_a_meter_up_to_its_registers(
        run_trace: Path) -> None:
    """Against a meter, the security memory's answers the trace cut come from a card of the
    trace's format driven by the recorded commands (with this lab's PSC): the meter verifies
    its PSC and goes on; only its readback, which carries its registers and the time, differs
    from a meter not in the recorded state."""
    code, out = replay(str(run_trace), "--against", "meter", "--profile", PROFILE)
    assert code == 1, out
    *differences, summary = out.strip().splitlines()
    assert differences and all(re.search(r"\[meter\] UPDATE MAIN MEMORY at [89A-F][0-9A-F]h: "
                                         r"command differs", d) for d in differences), out
    assert "3 skipped (secret)" not in summary or "response bytes redacted" in summary


def test_a_recorded_memory_card_cycle_replays_clean_against_a_meter_in_the_recorded_state(
        ) -> None:
    """Issue, vend, insert, read back, twice, in-process at a fixed time: the meter sessions
    replay with no difference against a new meter of the same profile."""
    w = make_world(personalise=False, card_format_name="sle4442")
    trace = ApduTrace()
    w.station.trace = trace
    w.station.personalise(w.slot(), card_serial=SERIAL, meter_no=w.meter_no, key_revision=1)
    for sequence, credit in ((1, 3000), (2, 1500)):
        w.station.write_vend(w.slot(), w.vend(sequence, credit))
        outcome = w.terminal.insert(TracedTransport(w.meter_slot(), trace, "meter"), NOW)
        assert outcome.applied_sequence == sequence
        w.station.read_readback(w.slot())
    saved = SavedTrace("sle4442", {"dialect": "acs"}, trace.entries)
    report = replay_against_meter(saved, load_profile(PROFILE), MASTER,
                                  readback_master=READBACK_MASTER, at=NOW)
    assert report.clean, report.to_text()
    meter = [e for e in trace.entries if e.terminal == "meter"]
    assert report.exchanges == len(meter) and report.skipped_secret == 6  # 3 compares x 2
    assert report.bytes_not_compared == 4 * sum(e.command[:1] == b"\x31" for e in meter)
    other = replay_against_meter(saved, load_profile(PROFILE), OTHER_MASTER,
                                 readback_master=READBACK_MASTER, at=NOW,
                                 card_keys=MasterKeys(MASTER))
    assert not other.clean  # a meter of another issuer: its PSC does not open the card,
    first = other.differences[0]  # so it leaves where the recorded meter wrote its readback
    assert (first.name, first.replayed) == ("UPDATE MAIN MEMORY at 80h", b"")
