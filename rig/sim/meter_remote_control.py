"""The emulated ESAM meter's status query, enciphered relay control and running information.

Mixed into :class:`rig.sim.meter_security.MeterSecurity` (which sets ``_m``, the meter, and
``esam``). Both commands need a valid identity session, as every security command but identity
authentication does. The relay command is deciphered and its MAC checked by the ESAM under
``remote-control``; a missing session or a wrong MAC is "password error / unauthorised" (DL/T
645 error bit 2), a command past its validity, a trip while the meter keeps power, or a command
rig does not know is "other error" (bit 0) — rig's mapping of the refusals onto the 1C error
word. The relay itself is the :class:`rig.sim.prepaid.PrepaidEngine`'s (a remote trip holds it
open until a remote close; credit rules still apply). Keep-power and the remote alarm are the
meter's state here, kept across power cycles like the NVM it stands for; keep-power shows in
status word 3 (bit 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from rig.card.keys import derive_readback_mac_key
from rig.card_formats.running_info import (
    NO_CUSTOMER,
    USAGE_FIELDS,
    AbnormalInsertion,
    RunningInfo,
    RunningRecord,
)
from rig.esam.esam import EsamError
from rig.esam.keys import KeyId
from rig.esam.link import EsamLink
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import RelayCommand
from rig.meter.dlt645.data_ids import SW3_KEEP_POWER

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter


@dataclass
class RemoteControlState:
    """What the remote control commands leave set on a meter besides its relay."""

    keep_power: bool = False
    alarm: bool = False


_STATES: WeakKeyDictionary[EmulatedMeter, RemoteControlState] = WeakKeyDictionary()


def control_state(meter: EmulatedMeter) -> RemoteControlState:
    return _STATES.setdefault(meter, RemoteControlState())


def status_bits(meter: EmulatedMeter) -> int:
    """Status word 3 bits the remote control state sets (keep-power)."""
    state = _STATES.get(meter)
    return SW3_KEEP_POWER if state is not None and state.keep_power else 0


class RemoteControlCommands:
    """Status query (078102FF), enciphered relay control (1C at 98H), file 0007's content."""

    _m: EmulatedMeter
    link: EsamLink
    _readback_key: bytes
    status_bits = staticmethod(status_bits)  # for the firmware's status word 3

    def _session_now(self) -> datetime:
        """The bench time now, inside a valid identity session (SERR bit 3 if none)."""
        if not self.link.identity_valid():
            self.link.end_identity()
            raise sec.SecurityError(sec.SERR_IDENTITY, "no valid identity authentication")
        return self._m.world.clock.now()

    def status(self) -> sec.StatusReply:
        """The ESAM's remaining amount and purchase count, each MAC'd, customer, key state."""
        self._session_now()
        w, e = self.link.wallet, self._m.engine
        draft = sec.StatusReply(e.units(e.remaining), bytes(4), w.purchase_count, bytes(4),
                                w.customer_no or NO_CUSTOMER, self.link.key_state.code)
        mac1 = self.link.session_mac(KeyId.REMOTE_CONTROL, draft.remaining_input)
        mac2 = self.link.session_mac(KeyId.REMOTE_CONTROL, draft.count_input)
        return sec.StatusReply(draft.remaining, mac1, draft.purchase_count, mac2,
                               draft.customer_no, draft.key_info)

    def remote_control(self, control: sec.EncipheredControl) -> None:
        """Decipher and check the relay command, then act on it (nothing changes before every
        check passed). PermissionError: no session or a bad MAC; ValueError: refused."""
        now = self._m.world.clock.now()
        try:
            self.link.check_session_mac(KeyId.REMOTE_CONTROL, control.mac_input, control.mac)
            block = self.link.open_sealed(KeyId.REMOTE_CONTROL, control.cipher)
        except EsamError as e:
            raise PermissionError(f"enciphered relay control: {e}") from None
        command = sec.ControlCommand.decode(block)
        if command.valid_until < self._m.meter_now().replace(tzinfo=None):
            raise ValueError(f"relay command expired at {command.valid_until:%Y-%m-%d %H:%M:%S}")
        self._apply(command.command, now)

    def _apply(self, command: int, now: datetime) -> None:
        state, engine = control_state(self._m), self._m.engine
        if command == RelayCommand.TRIP:
            if state.keep_power:
                raise ValueError("the meter keeps power: a trip is refused until its release")
            engine.remote_relay(False, now)
        elif command in (RelayCommand.CLOSE_ALLOWED, RelayCommand.CLOSE_DIRECT):
            engine.remote_relay(True, now)  # credit rules may still keep it open
        elif command in (RelayCommand.ALARM, RelayCommand.ALARM_RELEASE):
            state.alarm = command == RelayCommand.ALARM
        elif command in (RelayCommand.KEEP_POWER, RelayCommand.KEEP_POWER_RELEASE):
            state.keep_power = command == RelayCommand.KEEP_POWER
        else:
            raise ValueError(f"relay command {command:02X} is not one rig knows")

    def running_record(self) -> bytes:
        """File 0007: the State Grid running information and rig's extension, MAC'd under the
        meter's readback key (rig.card_formats.running_info)."""
        m = self._m
        now = m.world.clock.now()
        v = m.engine.readback_values(now)
        last = m.log.abnormal_cards[0] if m.log.abnormal_cards else None
        info = RunningInfo(m.meter_no, self.link.wallet.customer_no or NO_CUSTOMER,
                           v["remaining"], v["purchase_count"], v["overdraft"],
                           self.link.key_state, len(KeyId), m.log.illegal_card_refusals,
                           m.meter_now())
        abnormal = (AbnormalInsertion() if last is None else
                    AbnormalInsertion(last.error, last.command_header, last.response_status))
        record = RunningRecord(info, {name: v[name] for name in USAGE_FIELDS}, abnormal)
        key = derive_readback_mac_key(self._readback_key, m.terminal.key_revision)
        return record.sign(key).to_bytes()
