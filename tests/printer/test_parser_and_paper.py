"""The emulated printer's reading of ESC/POS beyond what rig sends (barcodes, raster images,
the paper sensor, split commands, garbage), the paper picture, and the bench file's
[printer] table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rig.bench.config import load_bench_config
from rig.errors import RigError
from rig.sim.emulated_printer import EmulatedPrinter
from rig.sim.escpos_parser import EscPosParser, PrintedImage
from rig.sim.receipt_png import receipt_png


def test_barcode_image_and_status_commands() -> None:
    d = Dummy()
    d.hw("INIT")
    d.textln("before")
    d.barcode("4006381333931", "EAN13", function_type="A")
    d.image(Image.new("1", (64, 16), 0))
    d.textln("after")
    d.cut(mode="PART")
    printer = EmulatedPrinter()
    printer.set_state(paper_out=True)
    p = EscPosParser(status=printer.status_byte)
    assert p.feed(d.output) == b""
    assert p.feed(b"\x10\x04\x04\x1dr\x01") == bytes([0x72, 0x0C])  # roll end, GS r 1: end
    (r,) = p.receipts
    assert r.lines == ["before", "after"] and r.cut == "partial"
    assert [(c.kind, c.data) for c in r.codes] == [("barcode", "4006381333931")]
    assert [i for i in r.items if isinstance(i, PrintedImage)] == [PrintedImage(64, 16)]
    assert p.unknown == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_are_read_without_an_exception(data: bytes) -> None:
    p = EscPosParser()
    p.feed(data)
    p.feed(b"\n")  # and the printer keeps reading afterwards


def test_the_paper_picture_grows_with_the_receipt() -> None:
    def picture(lines: int) -> Image.Image:
        p = EscPosParser()
        p.feed(b"\x1b@" + b"line\n" * lines + b"\x1d(k\x07\x001P0abc\x1d(k\x03\x001Q0\x1dV\x00")
        return Image.open(io.BytesIO(receipt_png(p.receipts[0])))

    short, long = picture(2), picture(20)
    assert short.format == "PNG" and short.width == long.width == 576
    assert long.height - short.height == 18 * 23  # one text line is 23 dots
    assert short.getextrema()[0] == 0  # ink: text, the QR code and the cut line


def test_bench_file_printer_table(tmp_path: Path) -> None:
    f = tmp_path / "lab.toml"
    f.write_text('[printer]\nurl = "tcp://10.0.0.7"\npaper_mm = 58\ncode_page = "CP1252"\n')
    printer = load_bench_config(f).printer
    assert printer is not None and (printer.url, printer.columns) == ("tcp://10.0.0.7", 42)
    f.write_text('[printer]\nurl = "tcp://10.0.0.7"\npaper_mm = 76\n')
    with pytest.raises(RigError, match=r"printer\.paper_mm"):
        load_bench_config(f)
    f.write_text('[printer]\ncode_page = "CP9999"\n')
    with pytest.raises(RigError, match="'CP9999' is not a code page"):
        load_bench_config(f)
