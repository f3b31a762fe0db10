"""The office's status query and enciphered relay control of an ESAM meter over DL/T 645.

Beside :mod:`rig.station.remote_vend` (same identity session, same pluggable key service):
:func:`read_status` asks the meter's ESAM for its remaining amount, purchase count, customer
and key state (078102FF) and has the key service verify the two MACs, then reads the relay and
keep-power state from status word 3 (the status query's public layout has no relay field).
:func:`send_control` enciphers a relay command block (trip, close allowed, direct close,
alarm, alarm release, keep power, its release) with its validity time under the meter's
``remote-control`` key and MACs the cipher with the session's random 2, as the meter's ESAM
checks it (docs/esam.md). Keys never leave the key service.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rig.esam.keys import KeyId, KeyState
from rig.meter.dlt645 import data_ids as di
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import RelayCommand
from rig.station.remote_vend import RemoteDelivery, RemoteError, RemoteSession


@dataclass(frozen=True)
class MeterStatus:
    """What the office learns from a status query and status word 3."""

    remaining: int  # credit units, MAC-verified
    purchase_count: int  # MAC-verified
    customer_no: str  # 000000000000: not opened
    key_state: KeyState
    relay_open: bool
    keep_power: bool


def read_status(s: RemoteSession) -> MeterStatus:
    """078102FF inside ``s``, its MACs verified (RemoteError if not), and status word 3."""
    reply = s.client.status_query(operator=s.operator)
    for what, data, mac in (("remaining amount", reply.remaining_input, reply.remaining_mac),
                            ("purchase count", reply.count_input, reply.count_mac)):
        if not s.keys.mac_ok(KeyId.REMOTE_CONTROL, s.state, s.factor, data, s.rand2, mac):
            raise RemoteError(f"status query: the ESAM's MAC on the {what} does not verify "
                              "(not this meter's ESAM, or the data was changed)")
    if reply.key_info not in (0, 1):
        raise RemoteError(f"status query: key state {reply.key_info} is neither 0 nor 1")
    word = s.client.read(di.STATUS_WORD_3)
    if not isinstance(word, int):
        raise RemoteError(f"status word 3 read as {word!r}, not a status word")
    return MeterStatus(reply.remaining, reply.purchase_count, reply.customer_no,
                       (KeyState.PUBLIC, KeyState.PRIVATE)[reply.key_info],
                       bool(word & di.SW3_RELAY_OPEN), bool(word & di.SW3_KEEP_POWER))


def enciphered(s: RemoteSession, command: RelayCommand | int,
               valid_until: dt.datetime) -> sec.EncipheredControl:
    """The cipher and MAC of a relay command for the meter ``s`` is authenticated to."""
    block = sec.ControlCommand(int(command), valid_until).encode()
    cipher = s.keys.encrypt(KeyId.REMOTE_CONTROL, s.state, s.factor, block)
    return sec.EncipheredControl(cipher, s.keys.mac(KeyId.REMOTE_CONTROL, s.state, s.factor,
                                                    cipher, s.rand2))


def send_control(s: RemoteSession, command: RelayCommand | int,
                 valid_until: dt.datetime) -> sec.EncipheredControl:
    """Send the enciphered relay command; returns what was sent (a test replays it). The
    meter's refusal is a MeterAbnormalReply with its DL/T 645 error word."""
    control = enciphered(s, command, valid_until)
    s.client.enciphered_relay_control(control, operator=s.operator)
    return control


def remote_control(delivery: RemoteDelivery, command: RelayCommand | int,
                   valid_until: dt.datetime) -> MeterStatus:
    """One session: the relay command, then the meter's status as it stands after it."""
    with delivery.session() as s:
        send_control(s, command, valid_until)
        return read_status(s)


def meter_status(delivery: RemoteDelivery) -> MeterStatus:
    with delivery.session() as s:
        return read_status(s)
