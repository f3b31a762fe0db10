"""The card writer of a bench host relayed over TCP: the same card, APDUs and errors as the
local PC/SC reader (pcscd + vpcd), and a card powered down when its client goes away."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest

from rig.card.apdu import NoReaderError
from rig.card.pcsc import PcscReader
from rig.card.relay import CardRelay, RelayReader
from rig.errors import CardError
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench
from tests.lab.service import child_env

SELECT_MF = bytes.fromhex("00A40000023F00")


@pytest.fixture
def bench() -> EmulatedBench:
    with EmulatedBench(load_profile("dlt645-1p-money")) as b:
        yield b


def test_relayed_reader_talks_to_the_card_as_the_local_one_does(bench: EmulatedBench) -> None:
    reader = bench.parts.card_reader  # type: ignore[union-attr]
    with PcscReader(reader).wait_for_card(5) as local:
        atr, expected = local.atr, local.transmit(SELECT_MF)
    relay = CardRelay(reader).start()
    try:
        remote = RelayReader(relay.url)
        assert remote.name == f"{reader} via {relay.url}"
        assert remote.card_present()
        with remote.wait_for_card(5) as conn:
            assert conn.atr == atr
            assert conn.transmit(SELECT_MF) == expected
        with pytest.raises(CardError, match="connection already closed"):
            conn.transmit(SELECT_MF)
        remote.close()
    finally:
        relay.stop()


def test_one_client_at_a_time_and_the_next_one_once_it_has_gone(
        bench: EmulatedBench) -> None:
    """The relay serves the job holding the place; another client waits, and gets the card
    as soon as the first has gone (even without saying goodbye, as a killed job does)."""
    reader = bench.parts.card_reader  # type: ignore[union-attr]
    relay = CardRelay(reader).start()
    try:
        first = RelayReader(relay.url)
        expected = first.wait_for_card(5).transmit(SELECT_MF)
        with pytest.raises(CardError, match=f"card relay {relay.url}: hello failed"):
            RelayReader(relay.url, timeout=0.5)
        first.close()  # its socket closes with the card still powered
        second = RelayReader(relay.url, timeout=10)
        with second.wait_for_card(5) as conn:
            assert conn.transmit(SELECT_MF) == expected
        second.close()
    finally:
        relay.stop()


def test_card_removal_is_the_same_error_through_the_relay(bench: EmulatedBench) -> None:
    reader = bench.parts.card_reader  # type: ignore[union-attr]
    relay = CardRelay(reader).start()
    try:
        remote = RelayReader(relay.url)
        bench.move_card("hand")
        with pytest.raises(CardError, match=f"no card in reader {reader!r} within 0.3 s"):
            remote.wait_for_card(0.3)
        remote.close()
    finally:
        relay.stop()


def test_unreachable_relay_is_one_line_naming_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NoReaderError, match=rf"card relay rigcard://127.0.0.1:{port} not "
                       "reachable"):
        RelayReader(f"rigcard://127.0.0.1:{port}")
    with pytest.raises(NoReaderError, match="must look like rigcard://HOST:PORT"):
        RelayReader("rigcard://nowhere")


def test_rig_lab_relay_serves_a_reader_until_sigterm(bench: EmulatedBench) -> None:
    """`rig lab relay READER` (a real bench's card writer on its bench host) prints its URL,
    serves the card, and stops cleanly on SIGTERM."""
    reader = bench.parts.card_reader  # type: ignore[union-attr]
    proc = subprocess.Popen(
        [sys.executable, "-c", "from rig.cli.main import app; app()", "lab", "relay", reader],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("rigcard://127.0.0.1:")
        remote = RelayReader(url)
        with remote.wait_for_card(5) as conn:
            assert conn.transmit(SELECT_MF)[-2:]
        remote.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
