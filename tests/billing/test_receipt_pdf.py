"""PDF receipts: a valid PDF file (header, cross-reference table, trailer) whose text holds
every tariff component of the vend, read back from the uncompressed content stream."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from rig.billing.display import Display
from rig.billing.receipt_pdf import receipt_pdf, write_receipt_pdf
from tests.billing.ledger import every_component_vend

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
METER = "000000000300"


def pdf_objects(pdf: bytes) -> dict[int, int]:
    """Check the xref table against the file: every in-use entry points at its object."""
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[start:start + 4] == b"xref"
    head = re.match(rb"xref\s+0\s+(\d+)\s+", pdf[start:])
    assert head is not None
    count, pos = int(head.group(1)), start + head.end()
    offsets = {}
    for i in range(count):
        entry = pdf[pos + 20 * i:pos + 20 * (i + 1)]
        off, _gen, kind = entry.split()[:3]
        if kind == b"n":
            offsets[i] = int(off)
            assert re.match(rb"%d 0 obj" % i, pdf[int(off):]), f"xref entry {i} is wrong"
    assert b"trailer" in pdf[start:] and b"/Root" in pdf[start:]
    return offsets


def pdf_text(pdf: bytes) -> list[str]:
    """Literal strings shown by Tj/TJ in the (uncompressed) content streams."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        assert b"/FlateDecode" not in stream
        for lit in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream):
            text = re.sub(rb"\\([()\\])", rb"\1", lit).decode("latin-1")
            out.append(text)
    return out


@pytest.fixture
def vend(tmp_path):
    c, v = every_component_vend(f"sqlite:///{tmp_path / 'b.sqlite'}", METER)
    yield v
    c.close()


def test_pdf_is_valid_and_shows_every_component(vend, tmp_path) -> None:
    assert {line.label for line in vend.receipt} >= {"debt", "fixed", "energy", "tax"}
    pdf = write_receipt_pdf(vend, tmp_path / "r.pdf").read_bytes()
    assert len(pdf_objects(pdf)) >= 5
    text = "\n".join(pdf_text(pdf))
    for line in vend.receipt:
        row = next(t for t in pdf_text(pdf) if t.strip().startswith(Display.label(line.label))
                   and t.rstrip().endswith(f" {line.amount}"))
        assert row
        if line.detail:
            assert line.detail.replace("×", "x")[:20] in text
    assert sum(line.amount for line in vend.receipt) == vend.amount
    assert re.search(r"PAID\s+57\.35", text)
    assert f"credit    {Decimal(vend.credit) / 1000:.3f} kWh" in text and METER in text
    assert "VAT 15" in text and "levy 2.5" in text


def test_reprint_is_marked(vend) -> None:
    from dataclasses import replace

    text = "\n".join(pdf_text(receipt_pdf(replace(vend, reprint_count=2))))
    assert "*** REPRINT 2 ***" in text
    assert "REPRINT" not in "\n".join(pdf_text(receipt_pdf(vend)))
