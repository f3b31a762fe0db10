"""Each reader dialect's pseudo-APDUs, byte for byte as docs/card-formats/sle4442.md tables
them: the station's encoding, and the virtual reader's answers."""

import pytest

from rig.card_formats.sle4442 import dialects
from rig.card_formats.sle4442.card import VirtualSLE4442
from rig.card_formats.sle4442.dialects import acs, omnikey
from rig.card_formats.sle4442.dialects.base import PscRefused
from rig.errors import CardError, ConfigError


class Recorder:
    """A transport that keeps what the station sent and answers from the virtual card."""

    def __init__(self, card: VirtualSLE4442) -> None:
        self.card = card
        self.sent: list[str] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(apdu.hex(" ").upper())
        return self.card.process(apdu)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_acs_encodings_are_the_manual_bytes() -> None:
    assert acs.select_card_type() == h("FF A4 00 00 01 06")
    assert acs.read(0x20, 0x10) == h("FF B0 00 20 10")
    assert acs.write(0x40, h("01 02")) == h("FF D0 00 40 02 01 02")
    assert acs.present_psc(h("FF FF FF")) == h("FF 20 00 00 03 FF FF FF")
    assert acs.change_psc(h("12 34 56")) == h("FF D2 00 01 03 12 34 56")
    assert acs.read_error_counter() == h("FF B1 00 00 04")
    assert acs.read_protection() == h("FF B2 00 00 04")
    assert acs.write_protection(0x04, h("01")) == h("FF D1 00 04 01 01")


def test_acs_virtual_reader_answers_the_manual_responses() -> None:
    card = VirtualSLE4442(dialect="acs")
    x = lambda apdu: card.process(h(apdu))  # noqa: E731
    assert x("FF B0 00 00 04") == h("69 85")  # no SELECT_CARD_TYPE yet (rig's choice)
    assert x("FF A4 00 00 01 06") == h("90 00")
    assert x("FF B0 00 00 04") == h("A2 13 10 91 90 00")
    assert x("FF B1 00 00 04") == h("07 00 00 00 90 00")
    assert x("FF B2 00 00 04") == h("FF FF FF FF 90 00")
    assert x("FF 20 00 00 03 00 00 00") == h("90 06")  # SW2 = error counter
    assert x("FF 20 00 00 03 FF FF FF") == h("90 07")  # verified
    assert x("FF D0 00 20 02 AA BB") == h("90 00")
    assert x("FF B0 00 20 02") == h("AA BB 90 00")
    assert x("FF D1 00 00 04 A2 13 10 91") == h("90 00")
    assert x("FF B2 00 00 04") == h("F0 FF FF FF 90 00")  # P1..P4 cleared: bytes 0..3
    assert x("FF D2 00 01 03 12 34 56") == h("90 00")
    assert x("FF A4 00 00 01 05") == h("6A 81")  # an SLE 4428 type: not this card
    assert x("FF D6 00 20 01 00") == h("6D 00")  # OMNIKEY's write: not ACS
    assert x("00 B0 00 00 04") == h("6E 00")


def test_omnikey_encodings_and_answers() -> None:
    assert omnikey.read_binary(0x20, 0x10) == h("FF B0 00 20 10")
    assert omnikey.update_binary(0x40, h("01 02")) == h("FF D6 00 40 02 01 02")
    assert omnikey.verify(h("FF FF FF")) == h("FF 20 00 00 03 FF FF FF")
    card = VirtualSLE4442(dialect="omnikey")
    x = lambda apdu: card.process(h(apdu))  # noqa: E731
    assert x("FF B0 00 00 04") == h("A2 13 10 91 90 00")  # no select needed
    assert x("FF 20 00 00 03 00 00 00") == h("63 C2")
    assert x("FF 20 00 00 03 FF FF FF") == h("90 00")
    assert x("FF D6 00 20 01 AA") == h("90 00")
    assert x("FF B0 00 20 01") == h("AA 90 00")
    for lacking in ("FF A4 00 00 01 06", "FF D2 00 01 03 00 00 00", "FF B1 00 00 04",
                    "FF B2 00 00 04", "FF D1 00 00 01 A2", "FF D0 00 20 01 00"):
        assert x(lacking) == h("6D 00"), lacking
    card.reset()  # verified in this session: the chip lets its counter be erased until off
    assert x("FF 20 00 00 03 00 00 00") == h("63 C2")
    assert x("FF 20 00 00 03 00 00 00") == h("63 C1")
    assert x("FF 20 00 00 03 00 00 00") == h("69 83")  # blocked (rig's choice)


@pytest.mark.parametrize("name", dialects.DIALECTS)
def test_station_client_round_trip(name: str) -> None:
    card = VirtualSLE4442(dialect=name)
    rec = Recorder(card)
    c = dialects.client(name, rec)
    c.select()
    with pytest.raises(PscRefused, match="2 attempt"):
        c.present_psc(h("00 00 00"))
    c.present_psc(h("FF FF FF"))
    c.write(0x80, h("01 02 03"))
    assert c.read(0x80, 3) == h("01 02 03")
    first = {"acs": "FF A4 00 00 01 06", "omnikey": "FF 20 00 00 03 00 00 00"}[name]
    assert rec.sent[0] == first


def test_omnikey_lacks_psc_change_counter_and_protection_by_name() -> None:
    c = dialects.client("omnikey", Recorder(VirtualSLE4442(dialect="omnikey")))
    for op in (lambda: c.change_psc(h("00 00 00")), c.read_attempts_left,
               c.read_protection, lambda: c.write_protection(0, h("A2"))):
        with pytest.raises(CardError, match="the omnikey dialect has no such command"):
            op()


def test_a_status_word_the_station_does_not_expect_names_the_dialect() -> None:
    card = VirtualSLE4442(dialect="acs")  # an ACS card in front of an OMNIKEY client
    c = dialects.client("omnikey", Recorder(card))
    with pytest.raises(CardError, match=r"omnikey: READ BINARY .*SW 6985"):
        c.read(0, 4)
    with pytest.raises(CardError, match=r"omnikey: UPDATE BINARY.*does not have this command"):
        card.process(h("FF A4 00 00 01 06"))
        c.write(0x20, h("00"))


def test_acs_client_reads_acr38x_answers_with_protection_bytes_appended() -> None:
    class Acr38x:
        def transmit(self, apdu: bytes) -> bytes:
            return h("A2 13 10 91") + h("F0 FF FF FF") + h("90 00")

    assert dialects.client("acs", Acr38x()).read(0, 4) == h("A2 13 10 91")


def test_unknown_dialect_is_a_config_error_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"'gemalto'.*acs, omnikey"):
        dialects.client("gemalto", Recorder(VirtualSLE4442()))


def test_addresses_outside_the_memory_are_refused_before_sending() -> None:
    with pytest.raises(CardError, match="outside the 256-byte main memory"):
        acs.read(0xF0, 0x20)
    with pytest.raises(CardError, match=r"only bytes 0\.\.31"):
        acs.write_protection(0x1F, h("00 00"))


def test_the_issuing_dialects_named_are_those_whose_client_can_issue() -> None:
    """A profile's options are checked against dialect_names, read without importing the
    clients: its issuing dialects must be exactly those whose client sets a PSC and
    protection bits."""
    def can_issue(name: str) -> bool:
        client = dialects.client(name, Recorder(VirtualSLE4442(dialect=name)))
        return all(type(client).has(op) for op in dialects.ISSUING_COMMANDS)

    assert tuple(n for n in dialects.DIALECTS if can_issue(n)) == dialects.ISSUING
    assert dialects.ISSUING  # a blank card can be issued through some dialect
