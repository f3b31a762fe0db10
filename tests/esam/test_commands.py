"""The ESAM's command interface byte for byte: what the meter's EsamLink sends for each
operation, what the emulated chip answers, each refusal's status word, and the ISO/IEC 7816-4
answers to malformed commands (docs/esam.md, "The ESAM's commands")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.esam import command_set as cs
from rig.esam import crypto
from rig.esam.commands import EsamCommands
from rig.esam.esam import WALLET_MAX, Esam, EsamError, EsamRefusal
from rig.esam.keys import KeyId, KeyState, LabKeyService, card_factor
from rig.esam.link import EsamLink

METER = "000000001365"
SERIAL = bytes.fromhex("0000000000002025")
CARD = "A1B2C3D4E5F60718"
CUSTOMER = "000000123456"
T0 = datetime(2026, 12, 3, 10, 0)
LAB = LabKeyService(bytes(range(32)), "test lab")
PUBLIC = KeyState.PUBLIC


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def x(b: bytes) -> str:
    return b.hex(" ").upper()


class Bus:
    """The emulated chip on a bus that keeps every exchange (request, answer) as hex."""

    def __init__(self) -> None:
        n = iter(range(1, 10_000))
        self.esam = Esam.manufactured(METER, SERIAL, rng=lambda k: bytes([next(n)]) * k)
        self.now = T0
        self.chip = EsamCommands(self.esam, clock=lambda: self.now)
        self.log: list[tuple[str, str]] = []
        self.link = EsamLink(self)

    def transmit(self, apdu: bytes) -> bytes:
        answer = self.chip.process(apdu)
        self.log.append((x(apdu), x(answer)))
        return answer

    def last(self, call: Callable[[], object]) -> tuple[str, str]:
        call()
        return self.log[-1]

    def raw(self, apdu: str) -> str:
        return x(self.chip.process(h(apdu)))


@pytest.fixture
def bus() -> Iterator[Bus]:
    yield Bus()


def test_reading_the_chip(bus: Bus) -> None:
    assert bus.last(lambda: bus.link.challenge(8)) == (
        "00 84 00 00 08", "01 01 01 01 01 01 01 01 90 00")
    assert bus.last(lambda: bus.link.serial) == (
        "80 CA 00 00 14", "00 00 00 00 00 00 20 25 00 " + "00 " * 9 + "00 05 90 00")
    assert bus.link.key_state is PUBLIC and bus.link.identity_minutes == 5
    assert bus.last(lambda: bus.link.wallet) == (
        "80 48 00 00 0F", "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 90 00")
    assert not bus.link.wallet.opened
    assert bus.last(lambda: bus.link.check_key_state(KeyId.CARD_PURCHASE, PUBLIC)) == (
        "80 1A 00 04 01 00", "90 00")


def test_a_card_authenticated_and_its_macs(bus: Bus) -> None:
    factor = card_factor(CARD)
    challenge = h("1122334455667788")
    answer = LAB.cryptogram(KeyId.CARD_INTERNAL, PUBLIC, factor, challenge)
    assert bus.last(lambda: bus.link.check_card(CARD, challenge, answer)) == (
        "80 88 00 00 18 A1 B2 C3 D4 E5 F6 07 18 11 22 33 44 55 66 77 88 " + x(answer),
        "90 00")
    ours = LAB.cryptogram(KeyId.CARD_EXTERNAL, PUBLIC, factor, challenge)
    assert bus.last(lambda: bus.link.answer_card(CARD, challenge)) == (
        "80 82 00 00 10 A1 B2 C3 D4 E5 F6 07 18 11 22 33 44 55 66 77 88 08",
        x(ours) + " 90 00")
    iv, data = h("0A0B0C0D"), b"return-write"
    mac = LAB.mac(KeyId.CARD_RETURN, PUBLIC, factor, data, iv)
    assert bus.last(lambda: bus.link.card_mac(KeyId.CARD_RETURN, CARD, data, iv)) == (
        "80 FA 00 05 19 A1 B2 C3 D4 E5 F6 07 18 04 0A 0B 0C 0D " + x(data) + " 04",
        x(mac) + " 90 00")
    office = LAB.mac(KeyId.CARD_PURCHASE, PUBLIC, factor, data)
    assert bus.last(lambda: bus.link.check_card_mac(KeyId.CARD_PURCHASE, CARD, data, b"",
                                                    office)) == (
        "80 FA 01 04 19 A1 B2 C3 D4 E5 F6 07 18 00 " + x(data) + " " + x(office), "90 00")


def test_the_wallet_credited_and_initialised(bus: Bus) -> None:
    assert bus.last(lambda: bus.link.credit(1000, 1, CUSTOMER, open_account=True)) == (
        "80 42 01 00 0E 00 00 03 E8 00 00 00 01 00 00 00 12 34 56", "90 00")
    assert bus.last(lambda: bus.link.credit(250, 2, CUSTOMER)) == (
        "80 42 00 00 0E 00 00 00 FA 00 00 00 02 00 00 00 12 34 56", "90 00")
    assert bus.last(lambda: bus.link.wallet)[1] == (
        "00 00 04 E2 00 00 00 02 00 00 00 12 34 56 01 90 00")
    assert (bus.esam.wallet.total, bus.esam.wallet.purchase_count) == (1250, 2)
    assert bus.last(lambda: bus.link.initialise_wallet(500)) == (
        "80 4A 00 00 04 00 00 01 F4", "90 00")
    w = bus.link.wallet
    assert (w.total, w.purchase_count, w.customer_no) == (500, 0, None)


def test_key_update_stages_then_installs(bus: Bus) -> None:
    package = LAB.key_package(KeyId.REMOTE_PARAMETER, KeyState.PRIVATE, bus.esam.factor,
                              sealed_with=KeyId.MASTER_CONTROL, sealed_state=PUBLIC)
    assert len(package) == 32
    assert bus.last(lambda: bus.link.stage_keys([package])) == (
        "80 D4 00 00 20 " + x(package) + " 02", "08 01 90 00")
    assert bus.esam.state_of(KeyId.REMOTE_PARAMETER) is PUBLIC  # staged, not installed
    assert bus.last(bus.link.commit_keys) == ("80 D4 02 00 01", "00 90 00")
    assert bus.esam.state_of(KeyId.REMOTE_PARAMETER) is KeyState.PRIVATE
    assert bus.link.state_of(KeyId.REMOTE_PARAMETER) is KeyState.PRIVATE
    assert bus.raw("80 D4 02 00") == "69 85"  # nothing staged any more


def test_a_refused_package_installs_none_of_the_batch(bus: Bus) -> None:
    good = LAB.key_package(KeyId.REMOTE_PARAMETER, KeyState.PRIVATE, bus.esam.factor,
                           sealed_with=KeyId.MASTER_CONTROL, sealed_state=PUBLIC)
    with pytest.raises(EsamError) as e:
        bus.link.stage_keys([good, bytes(32)])
    assert (e.value.refusal, e.value.status_word) == (EsamRefusal.KEY_PACKAGE, 0x9401)
    assert e.value.header == h("80D4010020")
    assert bus.raw("80 D4 02 00") == "69 85"
    assert bus.esam.key_state is PUBLIC and bus.esam.state_of(KeyId.REMOTE_PARAMETER) is PUBLIC


def test_the_identity_session_and_its_macs(bus: Bus) -> None:
    rand1 = h("0102030405060708")
    cipher1 = LAB.cryptogram(KeyId.REMOTE_IDENTITY, PUBLIC, bus.esam.factor, rand1)
    assert bus.last(lambda: bus.link.identity_authenticate(cipher1, rand1, bus.esam.factor)) == (
        "80 08 00 00 18 " + x(cipher1) + " 01 02 03 04 05 06 07 08 00 00 00 00 00 00 13 65 0C",
        "01 01 01 01 00 00 00 00 00 00 20 25 90 00")
    rand2 = h("01010101")
    assert bus.last(bus.link.check_session) == ("80 0E 00 00", "90 00")
    data = b"read-back"
    mac = LAB.mac(KeyId.REMOTE_CONTROL, PUBLIC, bus.esam.factor, data, rand2)
    assert bus.last(lambda: bus.link.session_mac(KeyId.REMOTE_CONTROL, data)) == (
        "80 FC 00 07 09 " + x(data) + " 04", x(mac) + " 90 00")
    assert bus.last(lambda: bus.link.check_session_mac(KeyId.REMOTE_CONTROL, data, mac)) == (
        "80 FC 01 07 0D " + x(data) + " " + x(mac), "90 00")
    sealed = LAB.encrypt(KeyId.REMOTE_CONTROL, PUBLIC, bus.esam.factor, b"trip")
    assert bus.last(lambda: bus.link.open_sealed(KeyId.REMOTE_CONTROL, sealed)) == (
        "80 F8 00 07 10 " + x(sealed) + " 00", x(b"trip") + " 90 00")
    assert bus.last(lambda: bus.link.set_identity_minutes(30)) == (
        "80 0A 00 00 02 00 1E", "90 00")
    bus.link.identity_minutes = 45  # as Esam's attribute is set
    assert bus.log[-1] == ("80 0A 00 00 02 00 2D", "90 00")
    assert bus.esam.identity_minutes == bus.link.identity_minutes == 45
    assert bus.last(bus.link.end_identity) == ("80 0C 00 00", "90 00")
    assert bus.raw("80 0E 00 00") == "69 82"


def test_the_session_times_out_on_the_chips_clock(bus: Bus) -> None:
    rand1 = h("0102030405060708")
    bus.link.identity_authenticate(
        LAB.cryptogram(KeyId.REMOTE_IDENTITY, PUBLIC, bus.esam.factor, rand1), rand1,
        bus.esam.factor)
    bus.now = T0 + timedelta(minutes=4, seconds=59)
    assert bus.link.identity_valid()
    bus.now = T0 + timedelta(minutes=5)
    assert not bus.link.identity_valid()
    assert x(EsamCommands(bus.esam).process(h("80 0E 00 00"))) == "69 85"  # no clock


def test_long_data_goes_by_command_chaining(bus: Bus) -> None:
    rand1 = h("0102030405060708")
    bus.link.identity_authenticate(
        LAB.cryptogram(KeyId.REMOTE_IDENTITY, PUBLIC, bus.esam.factor, rand1), rand1,
        bus.esam.factor)
    data = bytes(range(256)) + bytes(44)  # 300 bytes: a key update's MAC input, say
    before = len(bus.log)
    mac = bus.link.session_mac(KeyId.MASTER_CONTROL, data)
    parts = bus.log[before:]
    assert [p[0][:14] for p in parts] == ["90 FC 00 09 F0", "80 FC 00 09 3C"]
    assert parts[0][1] == "90 00"
    assert mac == LAB.mac(KeyId.MASTER_CONTROL, PUBLIC, bus.esam.factor, data, h("01010101"))
    bus.link.check_session_mac(KeyId.MASTER_CONTROL, data, mac)
    # a chain interrupted by another command is refused, the chain dropped
    assert bus.raw("90 FC 01 09 02 AA BB") == "90 00"
    assert bus.raw("80 CA 00 00 14") == "68 83"
    assert bus.raw("80 CA 00 00 14").endswith("90 00")


def _opened(bus: Bus) -> None:
    bus.link.credit(1000, 1, CUSTOMER, open_account=True)


def _identity(bus: Bus, cipher: bytes | None = None) -> None:
    rand1 = h("0102030405060708")
    bus.link.identity_authenticate(cipher or LAB.cryptogram(
        KeyId.REMOTE_IDENTITY, PUBLIC, bus.esam.factor, rand1), rand1, bus.esam.factor)


REFUSALS: dict[EsamRefusal, tuple[Callable[[Bus], object], str, int]] = {
    EsamRefusal.KEY_STATE: (lambda b: b.link.check_key_state(KeyId.CARD_PURCHASE,
                                                             KeyState.PRIVATE),
                            "801A000401", 0x6A88),
    EsamRefusal.AUTHENTICATION: (lambda b: b.link.check_card(CARD, bytes(8), bytes(8)),
                                 "8088000018", 0x6300),
    EsamRefusal.MAC: (lambda b: b.link.check_card_mac(KeyId.CARD_PURCHASE, CARD, b"x", b"",
                                                      bytes(4)), "80FA01040E", 0x6988),
    EsamRefusal.IDENTITY: (lambda b: _identity(b, bytes(8)), "8008000018", 0x9101),
    EsamRefusal.NO_IDENTITY: (lambda b: b.link.session_mac(KeyId.REMOTE_CONTROL, b"x"),
                              "80FC000701", 0x6982),
    EsamRefusal.CUSTOMER: (lambda b: (_opened(b), b.link.credit(1, 2, "000000999999")),
                           "804200000E", 0x9301),
    EsamRefusal.OVERFLOW: (lambda b: b.link.credit(WALLET_MAX + 1, 1, CUSTOMER,
                                                   open_account=True), "804201000E", 0x9302),
    EsamRefusal.PURCHASE_COUNT: (lambda b: b.link.credit(1, 3, CUSTOMER, open_account=True),
                                 "804201000E", 0x9303),
    EsamRefusal.NOT_OPENED: (lambda b: b.link.credit(1, 1, CUSTOMER), "804200000E", 0x9304),
    EsamRefusal.KEY_PACKAGE: (lambda b: b.link.install_key(bytes(32)), "80D4000020", 0x9401),
}


@pytest.mark.parametrize("refusal", list(REFUSALS), ids=[r.name for r in REFUSALS])
def test_each_refusal_has_its_own_status_word(bus: Bus, refusal: EsamRefusal) -> None:
    call, header, sw = REFUSALS[refusal]
    with pytest.raises(EsamError) as e:
        call(bus)
    assert e.value.refusal is refusal
    assert (e.value.header.hex().upper(), e.value.status_word) == (header, sw)
    assert bus.log[-1][1] == f"{sw >> 8:02X} {sw & 0xFF:02X}"


def test_every_refusal_but_a_fault_is_answered_by_the_chip() -> None:
    assert set(REFUSALS) == set(EsamRefusal) - {EsamRefusal.FAULT}
    assert len(set(cs.REFUSAL_SW.values())) == len(cs.REFUSAL_SW)


MALFORMED = {
    "unknown class": ("A0 84 00 00 08", "6E 00"),
    "ISO class, not GET CHALLENGE": ("00 B0 00 00 08", "6D 00"),
    "unknown instruction": ("80 99 00 00", "6D 00"),
    "wrong P1": ("80 CA 01 00 14", "6A 86"),
    "no such key slot": ("80 1A 00 0A 01 00", "6A 86"),
    "Lc longer than the data": ("80 1A 00 04 05 00", "67 00"),
    "Lc of zero": ("80 1A 00 04 00 00", "67 00"),
    "too short for a header": ("80 CA 00", "67 00"),
    "missing data": ("80 42 00 00 02 00 00", "67 00"),
    "challenge of 2 bytes": ("00 84 00 00 02", "67 00"),
    "Le shorter than the answer": ("80 CA 00 00 02", "6C 14"),
    "customer number not BCD": ("80 42 01 00 0E 00 00 00 01 00 00 00 01 00 00 00 00 00 AB",
                                "6A 80"),
    "key state neither 0 nor 1": ("80 1A 00 04 01 07", "6A 80"),
    "commit with nothing staged": ("80 D4 02 00", "69 85"),
    "next package without a first": ("80 D4 01 00 02 00 00 02", "69 85"),
    "IV longer than the data": ("80 FA 00 05 0A 00 00 00 00 00 00 00 00 05 00", "67 00"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_commands_get_the_iso_status_words(bus: Bus, case: str) -> None:
    apdu, sw = MALFORMED[case]
    assert bus.raw(apdu) == sw


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_the_chip_answers_anything_with_a_status_word_and_never_throws(apdu: bytes) -> None:
    chip = Bus().chip
    answer = chip.process(apdu)
    assert len(answer) >= 2
    if not apdu.startswith(h("0084")):
        assert chip.esam.wallet.purchase_count == 0  # garbage never credits


def test_a_fault_on_the_bus_is_an_esam_error_with_the_header() -> None:
    class Gone:
        def transmit(self, apdu: bytes) -> bytes:
            raise OSError("reader unplugged")

    class Foreign:  # a real ESAM that does not know rig's command set
        def transmit(self, apdu: bytes) -> bytes:
            return h("6D00")

    with pytest.raises(EsamError) as e:
        EsamLink(Gone()).challenge(8)
    assert (e.value.refusal, e.value.header) == (EsamRefusal.FAULT, h("0084000008"))
    assert "reader unplugged" in str(e.value)
    with pytest.raises(EsamError) as e:
        EsamLink(Foreign()).credit(1, 1, CUSTOMER)
    assert (e.value.refusal, e.value.status_word) == (EsamRefusal.FAULT, 0x6D00)
    assert e.value.header == h("804200000E")


def test_crypto_sizes_the_table_relies_on() -> None:
    assert crypto.MAC_LEN == 4 and cs.INFO_LEN == 20 and cs.WALLET_LEN == 15
