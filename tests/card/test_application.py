"""Card-side APDU processor: every documented status word, and it never crashes."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.card.application import EF_SIZES, FID_PURCHASE, FID_READBACK, CardApplication


def run(app: CardApplication, hexapdu: str) -> str:
    return app.process(bytes.fromhex(hexapdu)).hex().upper()


@pytest.fixture
def app() -> CardApplication:
    return CardApplication(rng=lambda n: bytes(range(n)))


@pytest.fixture
def selected(app: CardApplication) -> CardApplication:
    assert run(app, "00A4040007F0524947505001") == "9000"
    return app


def test_select_application(app: CardApplication) -> None:
    assert run(app, "00A4040007F0524947505002") == "6A82"  # other AID
    assert run(app, "00A4020C020102") == "6985"  # EF before application
    assert run(app, "00A4040007F0524947505001") == "9000"
    assert run(app, "00A4040C07F0524947505001") == "9000"  # P2=0C: no FCI, same result


def test_select_ef(selected: CardApplication) -> None:
    assert run(selected, "00A4020C020102") == "9000"
    assert run(selected, "00A4020C020999") == "6A82"
    assert run(selected, "00A4020C03010203") == "6700"
    assert run(selected, "00A4010C020102") == "6A86"
    assert run(selected, "00A4020002010200") == "6A86"


def test_read_update_binary(selected: CardApplication) -> None:
    assert run(selected, "00B0000004") == "6986"  # no EF selected
    assert run(selected, "00D6000001AA") == "6986"
    assert run(selected, "00A4020C020102") == "9000"
    assert run(selected, "00D6000203AABBCC") == "9000"
    assert run(selected, "00B0000005") == "0000AABBCC9000"
    size = EF_SIZES[FID_PURCHASE]
    assert run(selected, f"00B000{size:02X}01") == "6B00"  # offset at end of EF
    assert run(selected, f"00B00000{size + 1:02X}") == f"6C{size:02X}"  # Le too big
    assert run(selected, f"00B000{size - 1:02X}00") == "6C01"  # Le=00 means 256
    assert run(selected, f"00D6{size - 1:04X}02AABB") == "6700"  # write past the end
    assert run(selected, f"00D6{size:04X}01AA") == "6B00"
    assert run(selected, "00B0800001") == "6A86"  # SFI addressing
    assert run(selected, "00B00000") == "6700"  # no Le
    assert run(selected, "00D60000") == "6700"  # no data
    assert run(selected, "00D6000001AA00") == "6700"  # Le on UPDATE
    assert run(selected, "00D6000005AA") == "6700"  # Lc longer than data
    assert selected.read_ef(FID_PURCHASE)[:5] == bytes.fromhex("0000AABBCC")


def test_get_challenge(selected: CardApplication) -> None:
    assert run(selected, "0084000008") == "00010203040506079000"
    assert selected.last_challenge == bytes(range(8))
    assert run(selected, "0084000004") == "6700"
    assert run(selected, "0084010008") == "6A86"


def test_class_and_instruction(app: CardApplication) -> None:
    assert run(app, "80A4040007F0524947505001") == "6E00"
    assert run(app, "00CA000000") == "6D00"
    assert run(app, "00B2010400") == "6D00"  # READ RECORD: transparent EFs only
    assert run(app, "00A4") == "6700"
    assert run(app, "") == "6700"
    assert run(app, "00B000000000") == "6700"  # extended length not supported


def test_reset_forgets_selection_keeps_data(selected: CardApplication) -> None:
    run(selected, "00A4020C020104")
    assert run(selected, "00D6000001AA") == "9000"
    selected.reset()
    assert run(selected, "00B0000001") == "6986"
    assert selected.read_ef(FID_READBACK)[0] == 0xAA


def test_persistence_round_trip(selected: CardApplication) -> None:
    selected.write_ef(FID_PURCHASE, b"\x01\x02", offset=3)
    copy = CardApplication.from_dict(selected.to_dict())
    assert copy.to_dict() == selected.to_dict()
    assert set(selected.to_dict()["efs"]) == {"0100", "0101", "0102", "0103", "0104", "0105"}
    with pytest.raises(ValueError):
        selected.write_ef(FID_PURCHASE, bytes(49))


@settings(max_examples=300)
@given(st.one_of(
    st.binary(max_size=300),
    st.tuples(st.sampled_from([0xA4, 0xB0, 0xD6, 0x84, 0x82, 0x44]), st.binary(max_size=3),
              st.binary(max_size=260)).map(lambda t: bytes([0, t[0]]) + t[1] + t[2])))
def test_process_never_raises(apdu: bytes) -> None:
    app = CardApplication()
    for prefix in (None, "00A4040007F0524947505001", "00A4020C020101"):
        if prefix:
            app.process(bytes.fromhex(prefix))
        r = app.process(apdu)
        assert isinstance(r, bytes) and len(r) >= 2
        assert r[-2] in (0x90, 0x61, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F)
