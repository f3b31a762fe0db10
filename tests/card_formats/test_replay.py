"""A saved APDU trace replays: a prepaid cycle's card session (writer and meter, secrets
redacted) replays clean against a blank card of its format and against a meter in the
recorded state; a card or meter that behaves differently is reported at the step, with both
status words (or both commands), and secret exchanges are counted as skipped, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rig.card.apdu import INS_UPDATE_BINARY
from rig.card.application import CardApplication
from rig.card.keys import MasterKey
from rig.card.trace import ApduTrace, TracedTransport, load_trace
from rig.cli.main import app
from rig.faults.card_world import MASTER, NOW, READBACK_MASTER, make_world
from rig.profile import load_profile
from rig.sim.card_replay import replay_against_card, replay_against_meter


def recorded_cycle(tmp_path: Path) -> Path:
    """Issue, vend, insert, read back; then a second vend and insertion: saved as a file."""
    w = make_world(personalise=False)
    trace = ApduTrace()
    w.station.trace = trace
    w.station.personalise(w.slot(), card_serial="C0FFEE0000000001", meter_no=w.meter_no,
                          key_revision=1)
    for sequence, credit in ((1, 3000), (2, 1500)):
        w.station.write_vend(w.slot(), w.vend(sequence, credit))
        outcome = w.terminal.insert(TracedTransport(w.slot(), trace, "meter"), NOW)
        assert outcome.applied_sequence == sequence
        w.station.read_readback(w.slot())
    return trace.save(tmp_path / "apdu-trace.jsonl", card_format="rigpp")


def test_a_recorded_cycle_replays_clean_against_a_card(tmp_path: Path) -> None:
    trace = load_trace(recorded_cycle(tmp_path))
    report = replay_against_card(trace)
    assert report.clean, report.to_text()
    secret = sum(1 for e in trace.entries if e.redacted)
    assert secret > 0 and report.skipped_secret == secret  # keys and cryptograms
    assert report.matched == len(trace.entries) - secret
    assert f"{secret} skipped (secret)" in report.to_text()


class _WornCard(CardApplication):
    """A card whose EEPROM fails every write at offset 0 of a data file after issue."""

    def process(self, apdu: bytes) -> bytes:
        if self.operational and apdu[1] == INS_UPDATE_BINARY and apdu[2:4] == b"\0\0":
            return b"\x65\x81"
        return super().process(apdu)


def test_a_card_that_behaves_differently_is_reported_with_both_status_words(
        tmp_path: Path) -> None:
    trace = load_trace(recorded_cycle(tmp_path))
    report = replay_against_card(trace, _WornCard())
    assert not report.clean
    first = report.differences[0]
    recorded = trace.entries[first.step - 1]
    assert recorded.command[1] == INS_UPDATE_BINARY and recorded.command[2:4] == b"\0\0"
    assert (first.recorded[-2:], first.replayed) == (b"\x90\x00", b"\x65\x81")
    assert f"step {first.step} [" in report.to_text()
    assert "recorded SW 9000, replayed SW 6581" in report.to_text()


def test_the_meter_sessions_replay_clean_against_a_meter_in_the_recorded_state(
        tmp_path: Path) -> None:
    trace = load_trace(recorded_cycle(tmp_path))
    report = replay_against_meter(trace, load_profile(), MASTER,
                                  readback_master=READBACK_MASTER, at=NOW)
    assert report.clean, report.to_text()
    assert report.skipped_secret == 2  # the meter's EXTERNAL AUTHENTICATE, twice
    assert report.matched == sum(1 for e in trace.entries if e.terminal == "meter") - 2


def test_a_meter_of_another_issuer_is_reported_where_it_leaves_the_recorded_session(
        tmp_path: Path) -> None:
    trace = load_trace(recorded_cycle(tmp_path))
    report = replay_against_meter(trace, load_profile(), MasterKey(bytes(range(16))),
                                  readback_master=READBACK_MASTER, at=NOW)
    assert not report.clean
    # it refuses the purchase MAC: the recorded authentication and readback never come
    assert any(d.what == "command" and d.replayed == b"" for d in report.differences)


def test_rig_card_replay_says_what_differs_and_exits_by_it(tmp_path: Path) -> None:
    path = recorded_cycle(tmp_path)
    clean = CliRunner().invoke(app, ["card", "replay", str(path)])
    assert clean.exit_code == 0, clean.output
    assert "0 differ" in clean.output
    broken = tmp_path / "broken.jsonl"
    broken.write_text(path.read_text().replace('"response": "9000"', '"response": "6A82"', 1))
    differs = CliRunner().invoke(app, ["card", "replay", str(broken)])
    assert differs.exit_code == 1 and "recorded SW 6A82, replayed SW 9000" in differs.output


@pytest.mark.parametrize(("content", "problem"), [
    ("", "empty file"),
    ('{"rig_apdu_trace": 1}\n{"t": 0}\n', "line 2"),
    ('{"something": 1}\n', "line 1: not an rig APDU trace header"),
])
def test_a_bad_trace_file_is_one_line_naming_the_file(tmp_path: Path, content: str,
                                                      problem: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    run = CliRunner().invoke(app, ["card", "replay", str(path)])
    assert run.exit_code == 2
    assert f"APDU trace {path}" in run.output and problem in run.output
    assert "Traceback" not in run.output
