"""The status query and the enciphered relay control against the emulated ESAM meter over a
real pty, driven by the office (rig.station.remote_control) with the lab key service: each
refused without a valid identity authentication and after its timeout, a forged or replayed
MAC and a stale validity refused with their DL/T 645 error bits, the relay state read back
over DL/T 645 changing, a trip refused while the meter keeps power."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta

import pytest

from rig.esam.keys import KeyState
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import MeterAbnormalReply, RelayCommand, SecurityRefused
from rig.sim.meter_remote_control import control_state
from rig.station.remote_control import (
    enciphered,
    meter_status,
    read_status,
    remote_control,
    send_control,
)
from rig.station.remote_vend import RemoteError, RemoteSession

from .test_meter_security import Bench, opened

ERR_OTHER, ERR_UNAUTHORISED = 0x01, 0x04


@pytest.fixture
def bench() -> Iterator[Bench]:
    with closing(Bench()) as b:
        yield b


def later(b: Bench, minutes: float = 5) -> datetime:
    """A validity time ``minutes`` ahead of the meter's clock."""
    return b.meter.meter_now().replace(tzinfo=None) + timedelta(minutes=minutes)


def word3(b: Bench) -> int:
    word = b.client.read(di.STATUS_WORD_3)
    assert isinstance(word, int)
    return word


def error_word(call: object) -> int:
    with pytest.raises(MeterAbnormalReply) as e:
        call()  # type: ignore[operator]
    return e.value.error_word


def test_the_status_query_reports_the_wallet_with_verified_macs(bench: Bench) -> None:
    opened(bench, 2000).end()
    status = meter_status(bench.office)
    assert (status.remaining, status.purchase_count, status.customer_no, status.key_state,
            status.relay_open, status.keep_power) == (2000, 1, "000000123456",
                                                     KeyState.PUBLIC, False, False)


def test_a_status_answer_from_another_session_does_not_verify(bench: Bench) -> None:
    s = opened(bench)
    stale = RemoteSession(s.client, s.keys, s.state, s.factor, bytes(4), s.esam_serial,
                          s.operator)  # the office's random 2 is not the meter's
    with pytest.raises(RemoteError, match="MAC on the remaining amount does not verify"):
        read_status(stale)


def test_status_and_control_are_refused_without_identity_authentication(bench: Bench) -> None:
    with pytest.raises(SecurityRefused) as e:
        bench.client.status_query()
    assert e.value.error_word == sec.SERR_IDENTITY
    forged = sec.EncipheredControl(bytes(16), bytes(4))
    assert error_word(lambda: bench.client.enciphered_relay_control(forged)) \
        == ERR_UNAUTHORISED
    assert not bench.meter.engine.relay_closed  # nothing changed: no credit, still open


def test_status_and_control_are_refused_after_the_session_timed_out(bench: Bench) -> None:
    s = opened(bench)
    bench.minutes(1441)  # past the profile's identity validity (1440 minutes)
    assert error_word(lambda: send_control(s, RelayCommand.TRIP, later(bench))) \
        == ERR_UNAUTHORISED
    with pytest.raises(SecurityRefused) as e:
        read_status(s)
    assert e.value.error_word == sec.SERR_IDENTITY
    assert bench.meter.engine.relay_closed and not word3(bench) & di.SW3_RELAY_OPEN


def test_a_trip_and_a_close_change_the_relay_read_back_over_dlt645(bench: Bench) -> None:
    opened(bench).end()
    assert not word3(bench) & di.SW3_RELAY_OPEN
    status = remote_control(bench.office, RelayCommand.TRIP, later(bench))
    assert status.relay_open and word3(bench) & di.SW3_RELAY_OPEN
    status = remote_control(bench.office, RelayCommand.CLOSE_ALLOWED, later(bench))
    assert not status.relay_open and not word3(bench) & di.SW3_RELAY_OPEN


def test_a_forged_or_replayed_command_is_refused(bench: Bench) -> None:
    s = opened(bench)
    genuine = enciphered(s, RelayCommand.TRIP, later(bench))
    forged = sec.EncipheredControl(genuine.cipher, bytes([genuine.mac[0] ^ 1]) + genuine.mac[1:])
    assert error_word(lambda: bench.client.enciphered_relay_control(forged)) \
        == ERR_UNAUTHORISED
    other = bench.office.authenticate()  # a new session: the old MAC is a replay now
    assert error_word(lambda: bench.client.enciphered_relay_control(genuine)) \
        == ERR_UNAUTHORISED
    assert not read_status(other).relay_open


def test_a_command_past_its_validity_is_refused(bench: Bench) -> None:
    s = opened(bench)
    stale = bench.meter.meter_now().replace(tzinfo=None) - timedelta(seconds=1)
    assert error_word(lambda: send_control(s, RelayCommand.TRIP, stale)) == ERR_OTHER
    assert not read_status(s).relay_open


def test_keep_power_refuses_a_trip_until_its_release(bench: Bench) -> None:
    s = opened(bench)
    send_control(s, RelayCommand.KEEP_POWER, later(bench))
    assert word3(bench) & di.SW3_KEEP_POWER and read_status(s).keep_power
    assert error_word(lambda: send_control(s, RelayCommand.TRIP, later(bench))) == ERR_OTHER
    assert not read_status(s).relay_open
    bench.meter.power_down()
    bench.meter.power_up()  # keep-power outlives a power cycle (the session does not)
    s = bench.office.authenticate()
    assert read_status(s).keep_power
    send_control(s, RelayCommand.KEEP_POWER_RELEASE, later(bench))
    send_control(s, RelayCommand.TRIP, later(bench))
    status = read_status(s)
    assert status.relay_open and not status.keep_power


def test_alarm_and_its_release(bench: Bench) -> None:
    s = opened(bench)
    send_control(s, RelayCommand.ALARM, later(bench))
    assert control_state(bench.meter).alarm
    send_control(s, RelayCommand.ALARM_RELEASE, later(bench))
    assert not control_state(bench.meter).alarm
    assert error_word(lambda: send_control(s, 0x4A, later(bench))) == ERR_OTHER
