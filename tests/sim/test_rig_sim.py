"""`rig sim` as other programs see it: a separate process whose parts are ordinary devices."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import pyvisa

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig
from rig.card.pcsc import PcscReader
from rig.meter.dlt645 import Dlt645Client
from rig.meter.dlt645 import data_ids as di
from rig.profile import load_profile
from rig.sim.vpcd import MAX_SLOTS, SlotBusyError, VpcdSlot, reader_name

RIG = [sys.executable, "-m", "rig.cli.main"]


@pytest.fixture
def rig_sim() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    proc = subprocess.Popen([*RIG, "sim", "--json", "--time-scale", "3600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, f"rig sim printed nothing; stderr: {proc.stderr.read() if proc.stderr else ''}"
        yield proc, json.loads(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_parts_are_usable_by_other_programs(rig_sim: tuple[subprocess.Popen[str], dict]) -> None:
    _, parts = rig_sim
    profile = load_profile()
    assert parts["load_resource"].startswith("TCPIP0::127.0.0.1::")
    assert parts["load_resource"].endswith("::SOCKET")
    assert Path(parts["meter_port"]).exists()

    # Any DL/T 645 client on the pty (8N1: a pty carries no parity).
    with Dlt645Client.open(parts["meter_port"], parity="N", timeout=2.0) as meter:
        assert meter.read_address() == profile.protocol.address
        assert meter.read(di.REMAINING_AMOUNT) == Decimal("0.00")
        assert meter.read(di.STATUS_WORD_3) & di.SW3_RELAY_OPEN  # no credit yet: cut off

    # Any VISA program over pyvisa-py.
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(parts["load_resource"], read_termination="\n",
                                write_termination="\n", timeout=2000)
        assert inst.query("*IDN?").startswith("rig,SimLoad-AC,")
        inst.close()
    finally:
        rm.close()

    # Any PC/SC program: the card writer is a reader with the card in it.
    with PcscReader(parts["card_reader"]).wait_for_card(5) as conn:
        assert conn.atr


def test_sigterm_shuts_down_cleanly(rig_sim: tuple[subprocess.Popen[str], dict]) -> None:
    proc, parts = rig_sim
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert proc.stderr is not None
    assert "emulated bench stopped" in proc.stderr.read()
    # The load's socket is closed and the PC/SC reader is free for the next bench.
    port = int(parts["load_resource"].split("::")[2])
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    reader_index = next(i for i in range(MAX_SLOTS) if reader_name(i) == parts["card_reader"])
    slot = VpcdSlot(reader_index)
    try:
        slot.claim()
    except SlotBusyError:  # another bench of this run took the freed slot: fine, if not ours
        assert slot.holder_pid() != proc.pid
    finally:
        slot.release()


def test_interrupted_run_leaves_load_off(rig_sim: tuple[subprocess.Popen[str], dict]) -> None:
    """Leaving a bench by an exception switches the load input off (seen by another client)."""
    _, parts = rig_sim
    config = BenchConfig(sim_control=parts["control"])
    with pytest.raises(KeyboardInterrupt), open_bench(config) as bench:
        bench.load.set_power(Decimal(1500))
        bench.load.input_on()
        assert bench.load.input_state()
        raise KeyboardInterrupt
    rm = pyvisa.ResourceManager("@py")
    try:
        inst = rm.open_resource(parts["load_resource"], read_termination="\n",
                                write_termination="\n", timeout=2000)
        assert inst.query("INP?").strip() in {"0", "OFF"}
        inst.close()
    finally:
        rm.close()


def test_sim_refuses_unknown_profile() -> None:
    done = subprocess.run([*RIG, "sim", "--profile", "no-such-meter"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "no-such-meter" in done.stderr
    assert "known:" in done.stderr


def test_json_line_comes_first_and_fast() -> None:
    start = time.monotonic()
    proc = subprocess.Popen([*RIG, "sim", "--json"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert {"meter_port", "load_resource", "card_reader"} <= first.keys()
        assert time.monotonic() - start < 30
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_wire_pacing_power_cycle_and_cover_through_another_process() -> None:
    """`rig sim --wire-pacing`: replies take their wire time at 2400 8E1; the control channel
    powers the meter down (its port goes silent) and up (a power-down counted), and opens its
    cover (a tamper event), all seen by a plain DL/T 645 client on the pty."""
    from rig.bench.control import ControlClient
    from rig.meter.dlt645.client import MeterTimeout

    proc = subprocess.Popen([*RIG, "sim", "--json", "--wire-pacing"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        parts = json.loads(proc.stdout.readline())
        control = ControlClient(parts["control"])
        with Dlt645Client.open(parts["meter_port"], parity="N", timeout=2.0,
                               retries=0) as meter:
            meter.read_address()
            start = time.monotonic()
            assert meter.read(di.POWER_DOWN_COUNT) == 0
            # reply: 4 FE + 10 header + 4 DI + 3 data + CS + 16 = 23 characters of 11 bits
            assert time.monotonic() - start >= 23 * 11 / 2400
            assert control.call("meter_power", on=False)["powered"] is False
            with pytest.raises(MeterTimeout):
                meter.read(di.POWER_DOWN_COUNT)
            assert control.call("meter_power", on=True)["powered"] is True
            assert meter.read(di.POWER_DOWN_COUNT) == 1
            assert control.call("meter_cover", open=True)["tamper_count"] == 1
            assert meter.read(di.COVER_OPEN_COUNT) == 1
        control.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
