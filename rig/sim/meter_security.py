"""The emulated ESAM meter's side of the DL/T 645 security commands (remote prepayment).

The firmware's :class:`rig.meter.dlt645.server.SecurityBank`: every command but identity
authentication needs a valid identity session (refused with the identity bit after its
timeout, in bench time); the ESAM checks the MACs and the customer; the meter applies a
purchase with the card's rules — purchase count exactly one ahead (equal: a repeated recharge;
otherwise a count error), the hoarding limit, the register's overflow — to its
:class:`rig.sim.prepaid.PrepaidEngine`. Nothing here changes a register before every check
has passed. The status query, the enciphered relay control and the running-information file
a read-back reaches (the State Grid layout, MAC'd under the meter's readback key so the billing
centre verifies it itself) are :mod:`rig.sim.meter_remote_control`'s.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rig.card.keys import MasterKey, derive_meter_readback_key, lab_readback_key
from rig.esam.esam import Esam, EsamError, EsamRefusal, Wallet
from rig.esam.keys import KeyId
from rig.esam.link import EsamLink
from rig.meter.dlt645 import security as sec
from rig.sim.meter_remote_control import RemoteControlCommands

if TYPE_CHECKING:
    from rig.sim.meter_firmware import EmulatedMeter

_SERR = {
    EsamRefusal.IDENTITY: sec.SERR_IDENTITY,
    EsamRefusal.NO_IDENTITY: sec.SERR_IDENTITY,
    EsamRefusal.MAC: sec.SERR_ESAM,
    EsamRefusal.AUTHENTICATION: sec.SERR_ESAM,
    EsamRefusal.KEY_PACKAGE: sec.SERR_ESAM,
    EsamRefusal.KEY_STATE: sec.SERR_ESAM,
    EsamRefusal.CUSTOMER: sec.SERR_CUSTOMER,
    EsamRefusal.NOT_OPENED: sec.SERR_CUSTOMER,  # no customer number to match yet
    EsamRefusal.PURCHASE_COUNT: sec.SERR_RECHARGE_COUNT,
    EsamRefusal.OVERFLOW: sec.SERR_HOARDING,
    EsamRefusal.FAULT: sec.SERR_ESAM,
}
NO_CUSTOMER = "000000000000"


def refusal(e: EsamError) -> sec.SecurityError:
    return sec.SecurityError(_SERR[e.refusal], str(e))


def key_info(esam: Esam | EsamLink) -> int:
    """The key state information a meter reports: 1 once every key is private, else 0."""
    return esam.key_state.code


class _BenchTrace:
    """The APDU trace the bench gives the meter (``meter.esam_trace``), if any, looked up at
    each exchange: the bench sets it after the firmware has started."""

    def __init__(self, meter: EmulatedMeter) -> None:
        self._m = meter

    def record(self, command: bytes, response: bytes, **details: Any) -> None:
        trace = self._m.esam_trace
        if trace is not None:
            trace.record(command, response, **details)


class MeterSecurity(RemoteControlCommands):
    """The security commands of one emulated ESAM meter (the caller holds the world still)."""

    def __init__(self, meter: EmulatedMeter, esam: Esam,
                 readback_master: MasterKey | None = None) -> None:
        self._m = meter
        self.esam = esam  # the chip; the firmware reaches it only over its bus, ``link``
        self.link = EsamLink.emulated(esam, clock=self._now, trace=_BenchTrace(meter))
        self._readback_key = derive_meter_readback_key(readback_master or lab_readback_key(),
                                                       meter.meter_no)

    def _now(self) -> datetime:
        return self._m.world.clock.now()

    def _check(self, key_id: KeyId, data: bytes, mac: bytes) -> None:
        try:
            self.link.check_session_mac(key_id, data, mac)
        except EsamError as e:
            raise refusal(e) from None

    # -- the session -------------------------------------------------------------------
    def identity(self, request: sec.IdentityRequest) -> sec.IdentityReply:
        try:
            rand2, serial = self.link.identity_authenticate(
                request.cipher1, request.rand1, request.factor)
        except EsamError as e:
            raise refusal(e) from None
        return sec.IdentityReply(rand2, serial)

    def set_identity_validity(self, request: sec.ValidityRequest) -> None:
        """From the next identity authentication on, it stays valid this many minutes."""
        if not 1 <= request.minutes <= 1440:
            raise sec.SecurityError(sec.SERR_OTHER, f"{request.minutes} minutes: 1 to 1440")
        self._check(KeyId.REMOTE_PARAMETER, request.mac_input, request.mac)
        self.link.set_identity_minutes(request.minutes)

    def end_identity(self) -> sec.InvalidationReply:
        self._check_session()
        try:
            self.link.end_identity()
            w, e = self.link.wallet, self._m.engine
            return sec.InvalidationReply(w.customer_no or NO_CUSTOMER, e.units(e.remaining),
                                         w.purchase_count, key_info(self.link))
        except EsamError as err:
            raise refusal(err) from None

    def _check_session(self) -> None:
        """The session holds, or SERR identity (the ESAM ended it)."""
        try:
            self.link.check_session()
        except EsamError as e:
            raise refusal(e) from None

    # -- purchases ---------------------------------------------------------------------
    def open_account(self, request: sec.PurchaseRequest) -> None:
        self._purchase(request, open_account=True)

    def recharge(self, request: sec.PurchaseRequest) -> None:
        self._purchase(request, open_account=False)

    def _purchase(self, request: sec.PurchaseRequest, *, open_account: bool) -> None:
        self._check(KeyId.REMOTE_CONTROL, request.mac1_input, request.mac1)
        self._check(KeyId.REMOTE_CONTROL, request.mac2_input, request.mac2)
        w, e = self._wallet(), self._m.engine
        if w.opened and w.customer_no != request.customer_no:
            raise sec.SecurityError(sec.SERR_CUSTOMER, f"account of customer {w.customer_no}")
        if not open_account and not w.opened:
            raise sec.SecurityError(sec.SERR_CUSTOMER, "the account is not opened")
        if request.purchase_count == w.purchase_count:
            raise sec.SecurityError(sec.SERR_REPEATED_RECHARGE,
                                    f"purchase {request.purchase_count} already applied")
        if request.purchase_count != w.purchase_count + 1:
            raise sec.SecurityError(sec.SERR_RECHARGE_COUNT,
                                    f"meter at {w.purchase_count}, purchase "
                                    f"{request.purchase_count}")
        if e.would_hoard(request.amount):
            raise sec.SecurityError(sec.SERR_HOARDING, "over the hoarding limit")
        try:
            self.link.credit(request.amount, request.purchase_count, request.customer_no,
                             open_account=open_account)
        except EsamError as err:
            raise refusal(err) from None
        now = self._now()
        before = e.remaining
        e.apply_purchase(request.purchase_count, request.amount, now)
        log = self._m.log
        log.last_purchase_at = now
        log.last_purchase_amount = e.credit_from_units(request.amount)
        log.remaining_before_purchase = before
        log.remaining_after_purchase = e.remaining

    def initialise_wallet(self, request: sec.WalletInitRequest) -> None:
        """The wallet (ESAM and registers) back to the preset, purchase count 0, unbound."""
        self._check(KeyId.REMOTE_CONTROL, request.mac1_input, request.mac1)
        self._check(KeyId.REMOTE_CONTROL, request.mac2_input, request.mac2)
        if request.purchase_count != 0:
            raise sec.SecurityError(sec.SERR_RECHARGE_COUNT,
                                    "a wallet initialisation sets the purchase count to 0")
        try:
            self.link.initialise_wallet(request.preset)
        except EsamError as err:
            raise refusal(err) from None
        e = self._m.engine
        preset = e.credit_from_units(request.preset)
        e.credit, e.emergency_outstanding = preset, Decimal(0)
        e.purchase_count = e.last_sequence = 0
        e.cumulative_purchase = Decimal(0)

    def write_plain(self, request: sec.PlainWriteRequest) -> None:
        """The price file: the tariff a purchase is consumed at (an older version than the
        meter's is acknowledged and changes nothing, as a card's is)."""
        self._check(KeyId.REMOTE_PARAMETER, request.mac_input, request.mac)
        if request.file_no != sec.FILE_PRICE or request.offset != 0 or len(request.data) != 8:
            raise sec.SecurityError(sec.SERR_OTHER, f"file {request.file_no:02X} offset "
                                    f"{request.offset}: only the 8-byte price file is written")
        version = int.from_bytes(request.data[:4], "big")
        price = Decimal(int.from_bytes(request.data[4:], "big")) / sec.PRICE_SCALE
        self._m.engine.apply_tariff(version, price)

    # -- keys ----------------------------------------------------------------------------
    def update_keys(self, request: sec.KeyUpdateRequest) -> None:
        """Install each sealed key (all or none): the MAC under the current master-control
        key, each package opening under it and naming the slot and state its info says."""
        self._check(KeyId.MASTER_CONTROL, request.mac_input, request.mac)
        try:  # the ESAM stages them all, then installs them all
            staged = self.link.stage_keys([record.key for record in request.records])
            for record, (installed, state) in zip(request.records, staged, strict=True):
                if installed.code != record.key_no or state.code != record.state:
                    raise EsamError(EsamRefusal.KEY_PACKAGE,
                                    f"key {record.key_no} state {record.state} carries "
                                    f"{installed.value} {state.value}")
            if staged:
                self.link.commit_keys()
        except EsamError as e:
            self._end_quietly()  # nothing installed, and the session ends
            raise refusal(e) from None

    def _end_quietly(self) -> None:
        with contextlib.suppress(EsamError):  # the refusal reported says more than this one
            self.link.end_identity()

    # -- read-back -----------------------------------------------------------------------
    def read_back(self, target: sec.ReadbackTarget) -> sec.ReadbackReply:
        """The purse or running-information file (or a slice of it) with the ESAM's MAC."""
        self._check_session()
        if target.directory != sec.DIRECTORY_APPLICATION:
            raise sec.SecurityError(sec.SERR_OTHER, f"no directory {target.directory:04X}")
        if target.file_no == sec.FILE_PURSE:
            content = self.purse()
        elif target.file_no == sec.FILE_RUNNING:
            content = self.running_record()
        else:
            raise sec.SecurityError(sec.SERR_OTHER, f"no file {target.file_no:04X}")
        end = len(content) if target.length == 0 else target.offset + target.length
        if end > len(content) or target.offset > len(content):
            raise sec.SecurityError(sec.SERR_OTHER, f"file {target.file_no:04X} holds "
                                    f"{len(content)} bytes")
        data = content[target.offset:end]
        try:
            mac = self.link.session_mac(KeyId.REMOTE_CONTROL, target.plain + data)
        except EsamError as e:
            raise refusal(e) from None
        return sec.ReadbackReply(target, data, mac)

    def purse(self) -> bytes:
        """Remaining (credit units), purchase count, customer number (zeros: not opened)."""
        w, e = self._wallet(), self._m.engine
        return (e.units(e.remaining).to_bytes(4, "big") + w.purchase_count.to_bytes(4, "big")
                + sec.customer_bytes(w.customer_no or NO_CUSTOMER))

    def _wallet(self) -> Wallet:
        try:
            return self.link.wallet
        except EsamError as e:
            raise refusal(e) from None

