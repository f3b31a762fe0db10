"""Mutant ESAM meters: defects only a meter with an ESAM and a CPU card slot can carry.

Each is one wrong method of the meter's ESAM (``rig.esam.esam.Esam``: the key state, key
packages, wallet, MACs) or of the esam-cpu format's meter reader, as a firmware bug would be,
tied to the certified requirement whose scenario must fail on it (docs/certification.md,
"Mutant meters"). ``DEFECTS`` are this family's catalogue rows (joined by
rig.sim.defects.registry).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from rig.card_formats.esam_cpu import layout
from rig.card_formats.esam_cpu.reader import EsamCpuMeterReader, Plan
from rig.esam import crypto
from rig.esam.esam import Esam, EsamError
from rig.esam.keys import KeyId, KeyState
from rig.meter.card_errors import CardErrorCode
from rig.profile import MeterProfile
from rig.sim.defects.entry import Defect
from rig.sim.defects.requirements import BUY, CYCLES, KEY_STATE, MAC, TWO_AHEAD

if TYPE_CHECKING:
    from rig.card_formats.esam_cpu.apdus import CardClient
    from rig.sim.meter_firmware import EmulatedMeter



def esam_cpu(p: MeterProfile) -> bool:
    """The meter reads esam-cpu cards with its ESAM (the profile's [esam])."""
    return p.card.format == "esam-cpu" and p.esam is not None


# -- the ESAM --------------------------------------------------------------------------------
class _KeyStateUnchecked(Esam):
    """A card made for the other key state is not refused for it (it then fails later, at
    the authentication its keys cannot pass: the wrong reason, and a card of the meter's
    keys under the other state's name would pass)."""

    def check_key_state(self, key_id: KeyId, claimed: KeyState) -> None:
        return None


class _KeyUpdateNotApplied(Esam):
    """Key packages are opened (so they are checked) but never stored: the meter answers a
    key update and keeps its keys."""

    def install_key(self, package: bytes) -> KeyId:
        key_id, _, _ = _open(self, package)
        return key_id


def _open(esam: Esam, package: bytes) -> tuple[KeyId, KeyState, bytes]:
    trial = Esam.from_image(esam.meter_no, esam.to_image())
    key_id = Esam.install_key(trial, package)
    return key_id, trial.state_of(key_id), b""


class _WalletNotCredited(Esam):
    """The meter credits its registers but not its ESAM's wallet: the ESAM's purchase count
    stays behind, so the next purchase looks two ahead (and the account never opens)."""

    def credit(self, amount: int, purchase_count: int, customer_no: str, *,
               open_account: bool = False) -> None:
        return None


class _ReturnSealedWrong(Esam):
    """The return-write file is sealed under a key that is not the card's: the card refuses
    the UPDATE BINARY with MAC and keeps its old record."""

    def card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes = b"") -> bytes:
        mac = super().card_mac(key_id, card_serial, data, iv)
        return bytes(b ^ 0xA5 for b in mac) if key_id is KeyId.CARD_RETURN else mac


class _OfficeMacUnchecked(Esam):
    """The office's MAC over the purchase file (card-purchase) is not verified: a purchase
    altered on the card is credited."""

    def check_card_mac(self, key_id: KeyId, card_serial: str, data: bytes, iv: bytes,
                       given: bytes) -> None:
        if key_id is not KeyId.CARD_PURCHASE:
            super().check_card_mac(key_id, card_serial, data, iv, given)


def _esam(cls: type[Esam]) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        assert meter.esam is not None
        meter.esam.__class__ = cls
    return install


# -- the meter's card reader -----------------------------------------------------------------
class _KeyUpdateUnchecked(EsamCpuMeterReader):
    """A key-update card's packages are not tried all-or-nothing: those that open under the
    meter's master-control key are installed, the others skipped, and the card accepted (a
    forged card is acknowledged)."""

    def _check_key_update(self, client: CardClient, plan: Plan) -> None:
        raw = client.read(layout.FID_KEY_UPDATE)
        plan.packages = [p for p in layout.key_update_packages(raw) if _opens(self.esam, p)]


def _opens(esam: Esam, package: bytes) -> bool:
    try:
        _open(esam, package)
    except (EsamError, crypto.CryptoError):
        return False
    return True


class _TwoAheadCredited(EsamCpuMeterReader):
    """A purchase two or more ahead of the meter's count is credited (the missing counts
    skipped, in the ESAM too) instead of refused."""

    def _check_user(self, plan: Plan, raw_return: bytes, now: datetime) -> None:
        super()._check_user(plan, raw_return, now)
        refusal = plan.refusal
        if refusal is not None and refusal.code is CardErrorCode.PURCHASE_COUNT_ERROR:
            plan.refusal, plan.credit = None, True
            self.esam.wallet.purchase_count = plan.info.purchase_count - 1  # the gap skipped


class _NoReturnBeforeCountRefusal(EsamCpuMeterReader):
    """A purchase two ahead is refused without the running information written back first
    (the office cannot see where the meter stands)."""

    def _try_return(self, client: CardClient, plan: Plan, now: datetime) -> None:
        if plan.refusal is None:
            super()._try_return(client, plan, now)


def _reader(cls: type[EsamCpuMeterReader]) -> Callable[[EmulatedMeter], None]:
    def install(meter: EmulatedMeter) -> None:
        meter.terminal.__class__ = cls
    return install


DEFECTS: tuple[Defect, ...] = (
    Defect("esam-key-state-not-checked", KEY_STATE,
           "a card made for the other key state is not refused for its key state (it fails "
           "later, with the wrong reason)", _esam(_KeyStateUnchecked), esam_cpu),
    Defect("esam-key-update-unchecked", KEY_STATE,
           "a key-update card's packages not checked all or nothing: those that open are "
           "installed, a forged card is accepted", _reader(_KeyUpdateUnchecked), esam_cpu),
    Defect("esam-key-update-not-applied", KEY_STATE,
           "a key update is acknowledged but the ESAM keeps its keys",
           _esam(_KeyUpdateNotApplied), esam_cpu),
    Defect("esam-wallet-not-credited", CYCLES,
           "a purchase credits the registers but not the ESAM's wallet (its purchase count "
           "stays behind)", _esam(_WalletNotCredited), esam_cpu),
    Defect("esam-return-write-sealed-wrong", BUY,
           "the return-write file sealed under a wrong key: the card refuses it and keeps its "
           "old record", _esam(_ReturnSealedWrong), esam_cpu),
    Defect("esam-office-mac-not-checked", MAC,
           "the office's MAC over the purchase file not verified: a purchase altered on the "
           "card is credited", _esam(_OfficeMacUnchecked), esam_cpu),
    Defect("esam-purchase-two-ahead-credited", TWO_AHEAD,
           "a purchase two ahead of the meter's count is credited instead of refused",
           _reader(_TwoAheadCredited), esam_cpu),
    Defect("esam-no-return-write-before-count-refusal", TWO_AHEAD,
           "a purchase two ahead is refused without the running information written to the "
           "card first", _reader(_NoReturnBeforeCountRefusal), esam_cpu),
)
