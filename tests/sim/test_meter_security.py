"""The emulated ESAM meter answering the DL/T 645 security commands over a real pty, driven by
the office's remote delivery (rig.station.remote_vend) with the lab key service: each command
refused without a valid identity authentication and after its timeout in bench time, key
update public → private and back, a replayed recharge refused, the card's purchase rules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing.readback_keys import ReadbackKeyService
from rig.card_formats.running_readback import ESAM_RUNNING_V1
from rig.esam.keys import KeyState, LabKeyService
from rig.meter.dlt645 import security as sec
from rig.meter.dlt645.client import Dlt645Client, SecurityRefused
from rig.profile import load_profile
from rig.sim.emulated_bench import lab_master_key
from rig.sim.meter_firmware import EmulatedMeter
from rig.sim.pty_port import PtySerialEndpoint
from rig.sim.world import BenchWorld
from rig.station.remote_vend import RemoteDelivery, RemoteSession

from .test_firmware_protocols import HandClock

PROFILE = Path(__file__).parents[1] / "esam" / "profiles" / "dlt645-1p-esam-remote.toml"
CUSTOMER = "000000123456"
MAC0 = bytes(4)


class Bench:
    def __init__(self) -> None:
        self.profile = load_profile(str(PROFILE))
        self.clock = HandClock()
        self.world = BenchWorld(self.profile, self.clock, noise=False)  # type: ignore[arg-type]
        self.meter = EmulatedMeter(self.world, lab_master_key())
        self.pty = PtySerialEndpoint(self.meter.on_serial_bytes)
        self.client = Dlt645Client.open(self.pty.start(), parity="N",
                                        address=self.profile.protocol.address)
        self.keys = LabKeyService.from_master(lab_master_key())
        self.office = RemoteDelivery(self.client, self.keys, self.profile.protocol.address)

    def minutes(self, m: float) -> None:
        self.clock.t += m * 60

    def close(self) -> None:
        self.client.close()
        self.pty.stop()


@pytest.fixture
def bench() -> Iterator[Bench]:
    b = Bench()
    try:
        yield b
    finally:
        b.close()


def refused(call: Callable[[], object]) -> int:
    with pytest.raises(SecurityRefused) as e:
        call()
    return e.value.error_word


def opened(b: Bench, amount: int = 2000) -> RemoteSession:
    s = b.office.authenticate()
    s.purchase(amount, 1, CUSTOMER, open_account=True)
    return s


WITHOUT_SESSION: dict[str, Callable[[Dlt645Client], object]] = {
    "validity time": lambda c: c.set_identity_validity(sec.ValidityRequest(30, MAC0)),
    "invalidation": lambda c: c.end_identity(),
    "open account": lambda c: c.open_account(
        sec.PurchaseRequest(100, 1, MAC0, CUSTOMER, MAC0)),
    "recharge": lambda c: c.recharge(sec.PurchaseRequest(100, 1, MAC0, CUSTOMER, MAC0)),
    "wallet initialisation": lambda c: c.initialise_wallet(
        sec.WalletInitRequest(100, MAC0, 0, MAC0)),
    "key update": lambda c: c.update_keys(
        sec.KeyUpdateRequest((sec.KeyRecord(bytes(32), 1, 9, 9),), MAC0)),
    "read-back": lambda c: c.read_back(sec.ReadbackTarget(0, 0, sec.FILE_PURSE)),
    "price file": lambda c: c.write_plain(
        sec.PlainWriteRequest(sec.FILE_PRICE, 0, sec.price_file(9, 1), MAC0)),
}


@pytest.mark.parametrize("command", list(WITHOUT_SESSION))
def test_every_command_is_refused_without_identity_authentication(bench: Bench,
                                                                  command: str) -> None:
    assert refused(lambda: WITHOUT_SESSION[command](bench.client)) == sec.SERR_IDENTITY
    e, w = bench.meter.engine, bench.meter.esam.wallet  # type: ignore[union-attr]
    assert (e.remaining, e.purchase_count, w.purchase_count, w.customer_no) == (0, 0, 0, None)
    assert bench.meter.esam.key_state is KeyState.PUBLIC  # type: ignore[union-attr]


def test_identity_authentication_with_the_wrong_keys_is_refused(bench: Bench) -> None:
    wrong = RemoteDelivery(bench.client, bench.keys, bench.profile.protocol.address,
                           key_state=KeyState.PRIVATE)
    assert refused(wrong.authenticate) == sec.SERR_IDENTITY
    other = RemoteDelivery(bench.client, bench.keys, "000000009999")  # another meter's factor
    assert refused(other.authenticate) == sec.SERR_IDENTITY


def test_the_session_times_out_in_bench_time(bench: Bench) -> None:
    bench.minutes(60 * 23)  # the profile's 1440 minutes hold the first session this long
    bench.office.authenticate().set_identity_validity(5)
    s = bench.office.authenticate()
    bench.minutes(4.9)
    s.purchase(2000, 1, CUSTOMER, open_account=True)
    bench.minutes(0.2)
    assert refused(lambda: s.purchase(1000, 2, CUSTOMER, open_account=False)) \
        == sec.SERR_IDENTITY
    assert refused(s.purse) == sec.SERR_IDENTITY
    assert bench.meter.engine.remaining == Decimal("20.00")


def test_validity_time_applies_to_the_next_session(bench: Bench) -> None:
    s = bench.office.authenticate()
    s.set_identity_validity(1)
    s = bench.office.authenticate()
    bench.minutes(1.05)
    assert refused(s.purse) == sec.SERR_IDENTITY
    assert bench.meter.esam.identity_minutes == 1  # type: ignore[union-attr]


def test_invalidation_ends_the_session_and_reports_the_wallet(bench: Bench) -> None:
    s = opened(bench)
    report = s.end()
    assert report == sec.InvalidationReply(CUSTOMER, 2000, 1, 0)
    assert refused(s.purse) == sec.SERR_IDENTITY


def test_a_power_cycle_ends_the_session(bench: Bench) -> None:
    s = bench.office.authenticate()
    bench.meter.power_down()
    bench.meter.power_up()
    assert refused(s.purse) == sec.SERR_IDENTITY


def test_a_replayed_recharge_is_refused(bench: Bench) -> None:
    s = opened(bench)
    again = s.purchase(1000, 2, CUSTOMER, open_account=False)
    assert refused(lambda: bench.client.recharge(again)) == sec.SERR_REPEATED_RECHARGE
    s.end()
    bench.office.authenticate()  # a new session: the old frame's MACs are under old random 2
    assert refused(lambda: bench.client.recharge(again)) == sec.SERR_ESAM
    e = bench.meter.engine
    assert (e.remaining, e.purchase_count) == (Decimal("30.00"), 2)


def test_purchase_rules_are_the_cards(bench: Bench) -> None:
    s = bench.office.authenticate()
    assert refused(lambda: s.purchase(1000, 1, CUSTOMER, open_account=False)) \
        == sec.SERR_CUSTOMER  # recharge before the account is opened
    s.purchase(2000, 1, CUSTOMER, open_account=True)
    assert refused(lambda: s.purchase(1000, 3, CUSTOMER, open_account=False)) \
        == sec.SERR_RECHARGE_COUNT  # two ahead
    assert refused(lambda: s.purchase(1000, 2, "000000654321", open_account=False)) \
        == sec.SERR_CUSTOMER
    assert refused(lambda: s.purchase(48001, 2, CUSTOMER, open_account=False)) \
        == sec.SERR_HOARDING  # 20.00 + 480.01 > hoarding limit 500.00
    good = sec.PurchaseRequest(1000, 2, MAC0, CUSTOMER, MAC0)
    assert refused(lambda: bench.client.recharge(good)) == sec.SERR_ESAM  # no valid MAC
    s.purchase(48000, 2, CUSTOMER, open_account=False)  # exactly to the limit
    e = bench.meter.engine
    assert (e.remaining, e.purchase_count, e.last_sequence) == (Decimal("500.00"), 2, 2)


def test_wallet_initialisation_sets_the_preset(bench: Bench) -> None:
    s = opened(bench)
    s.initialise_wallet(500)
    e, w = bench.meter.engine, bench.meter.esam.wallet  # type: ignore[union-attr]
    assert (e.remaining, e.purchase_count, w.purchase_count, w.customer_no) == (
        Decimal("5.00"), 0, 0, None)
    s.purchase(1000, 1, CUSTOMER, open_account=True)
    assert e.remaining == Decimal("15.00")


def test_key_update_public_to_private_and_back(bench: Bench) -> None:
    esam = bench.meter.esam
    assert esam is not None
    bench.office.update_keys(KeyState.PRIVATE)
    assert esam.key_state is KeyState.PRIVATE
    public = RemoteDelivery(bench.client, bench.keys, bench.profile.protocol.address)
    assert refused(public.authenticate) == sec.SERR_IDENTITY
    with bench.office.session() as s:  # the office now authenticates with the private keys
        s.purchase(2000, 1, CUSTOMER, open_account=True)
    bench.office.update_keys(KeyState.PUBLIC)
    assert esam.key_state is KeyState.PUBLIC
    private = RemoteDelivery(bench.client, bench.keys, bench.profile.protocol.address,
                             key_state=KeyState.PRIVATE)
    assert refused(private.authenticate) == sec.SERR_IDENTITY
    assert public.authenticate().purse().purchase_count == 1


def test_a_key_update_under_keys_the_meter_lacks_installs_nothing(bench: Bench) -> None:
    s = bench.office.authenticate()
    s.state = KeyState.PRIVATE  # seals with (and MACs under) keys the meter does not hold
    assert refused(lambda: s.update_keys(KeyState.PRIVATE)) == sec.SERR_ESAM
    assert bench.meter.esam.key_state is KeyState.PUBLIC  # type: ignore[union-attr]


def test_the_running_record_reads_back_for_the_centre_to_verify(bench: Bench) -> None:
    opened(bench).end()
    raw = bench.office.running_record()
    assert raw[:4] == bytes.fromhex("68 11 00 2B")  # the State Grid running information first
    fields = ESAM_RUNNING_V1.fields(raw)
    assert (fields["meter_no"], fields["purchase_count"], fields["last_sequence"],
            fields["remaining"]) == (bench.profile.protocol.address, 1, 1, 2000)
    centre = ReadbackKeyService.default()
    assert ESAM_RUNNING_V1.mac_verifies(raw, centre.mac_key(bench.profile.protocol.address, 1))
    body = raw[:30] + bytes([raw[30] + 1]) + raw[31:47]  # one more purchase, checksum redone
    forged = body + bytes([sum(body) & 0xFF]) + raw[48:]
    assert ESAM_RUNNING_V1.fields(forged)["purchase_count"] == 2  # still a well-formed record
    assert not ESAM_RUNNING_V1.mac_verifies(
        forged, centre.mac_key(bench.profile.protocol.address, 1))


def test_the_price_file_sets_the_tariff_a_purchase_is_consumed_at(bench: Bench) -> None:
    s = bench.office.authenticate()
    s.set_price(2, Decimal("0.5283"))
    e = bench.meter.engine
    assert (e.tariff_version, e.price_per_kwh) == (2, Decimal("0.5283"))
    s.set_price(1, Decimal("0.9999"))  # an older version changes nothing
    assert (e.tariff_version, e.price_per_kwh) == (2, Decimal("0.5283"))
    bench.minutes(1441)  # past the profile's identity validity
    assert refused(lambda: s.set_price(3, Decimal("0.6"))) == sec.SERR_IDENTITY
    assert e.tariff_version == 2
