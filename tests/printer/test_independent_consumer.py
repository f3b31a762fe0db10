"""python-escpos (the library rig prints with) and the emulated printer's own ESC/POS reading
agree on what was printed: the bytes the library's Dummy printer captures parse to exactly
the lines, QR code and cut the library was asked for, and what the emulated printer cut from
a real TCP print is the same receipt."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.billing.types import VendResult
from rig.printer.escpos_receipt import vend_lines, vend_reference, write_lines
from rig.printer.settings import PrinterSettings
from rig.printer.station_printer import ReceiptPrinter
from rig.sim.emulated_printer import EmulatedPrinter
from rig.sim.escpos_parser import EscPosParser

# What a CP858 receipt printer can print: printable ASCII and the code page's upper half.
CP858 = sorted({bytes([b]).decode("cp858") for b in range(0x20, 0x100) if b != 0x7F}
               - {"\xa0"})


def dummy_bytes(lines: list[str], s: PrinterSettings, reference: str | None) -> bytes:
    d = Dummy(profile=s.profile)
    write_lines(d, lines, s, reference=reference)
    return bytes(d.output)


def parse_in_pieces(data: bytes, piece: int = 5) -> EscPosParser:
    """The stream as TCP may deliver it: commands split across reads."""
    p = EscPosParser()
    for i in range(0, len(data), piece):
        p.feed(data[i:i + piece])
    return p


def test_a_vend_receipt_reads_back_as_the_library_wrote_it(vend: VendResult,
                                                          printer: EmulatedPrinter) -> None:
    s = PrinterSettings(url=printer.url, timeout_s=1.0)
    lines = vend_lines(vend, s.columns)
    parsed = parse_in_pieces(dummy_bytes(lines, s, vend_reference(vend)))
    assert parsed.unknown == []
    (receipt,) = parsed.receipts
    assert receipt.lines == [line.rstrip() for line in lines]
    assert [(c.kind, c.data) for c in receipt.codes] == [("qr", vend_reference(vend))]
    assert receipt.cut == "full"

    outcome = ReceiptPrinter(s).print_vend(vend)
    assert outcome.printed, outcome
    (on_paper,) = printer.received()
    assert on_paper.to_dict() == receipt.to_dict()
    assert printer.unknown == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(st.sampled_from(CP858), max_size=60), min_size=1, max_size=8),
       st.sampled_from([58, 80]), st.booleans())
def test_any_code_page_text_reads_back_exactly(lines: list[str], paper: int,
                                               cutter: bool) -> None:
    s = PrinterSettings(paper_mm=58 if paper == 58 else 80, cutter=cutter)
    parsed = parse_in_pieces(dummy_bytes(lines, s, None), piece=3)
    if cutter:
        (receipt,) = parsed.receipts
        assert receipt.cut == "full"
    else:  # no cutter: fed out, never cut
        assert parsed.receipts == []
        receipt = parsed.current
    assert receipt.lines == [line.rstrip() for line in lines]
    assert parsed.unknown == []


def test_the_euro_sign_goes_out_in_the_code_page_and_comes_back() -> None:
    s = PrinterSettings(code_page="CP858")
    data = dummy_bytes(["energy      € 12.50"], s, None)
    assert b"\x1bt\x13" in data  # ESC t 19: CP858
    assert b"\xd5 12.50" in data  # € is 0xD5 in CP858
    (receipt,) = parse_in_pieces(data).receipts
    assert receipt.lines == ["energy      € 12.50"]
    assert receipt.code_pages == {"cp858"}


@pytest.mark.parametrize("code_page", ["CP437", "CP850"])
def test_a_code_page_without_the_sign_is_refused_before_printing(
        code_page: str, vend: VendResult, printer: EmulatedPrinter) -> None:
    s = PrinterSettings(url=printer.url, code_page=code_page, timeout_s=1.0)
    rp = ReceiptPrinter(s)
    with pytest.raises(Exception, match=f"code page {code_page} .* cannot print '€'"):
        rp.print_lines(["PAID        € 15.50"])
    assert printer.received() == []
