"""A picture of the paper the emulated printer cut: the evidence a lab keeps of a receipt.

Text in a monospace font at the printer's columns (bold where printed bold), QR codes drawn
from their data, barcodes as a frame with their data, raster images as grey blocks of their
size, feeds as blank paper, and a
dashed cut line. Pillow and qrcode come with rig[printer] (python-escpos needs both).
"""

from __future__ import annotations

import io
from typing import Any

from rig.extras import require
from rig.sim.escpos_parser import Feed, PrintedCode, PrintedImage, PrintedLine, PrintedReceipt

DOTS = 576  # an 80 mm roll's printable width at 203 dpi (58 mm: 384)
MARGIN = 8
FONT_PX = 19  # 48 columns of DejaVu Sans Mono fill 576 dots


def _font(image_font: Any, bold: bool) -> Any:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    try:
        return image_font.truetype(name, FONT_PX)
    except OSError:  # no DejaVu on this machine: Pillow's own font
        return image_font.load_default(FONT_PX)


def receipt_png(receipt: PrintedReceipt, *, dots: int = DOTS) -> bytes:
    """The receipt as a PNG of the paper roll, top to bottom."""
    pil = require("printer", "PIL.Image", "rendering a printed receipt")
    draw_mod = require("printer", "PIL.ImageDraw", "rendering a printed receipt")
    image_font = require("printer", "PIL.ImageFont", "rendering a printed receipt")
    qrcode = require("printer", "qrcode", "rendering a printed receipt's QR code")
    fonts = {False: _font(image_font, False), True: _font(image_font, True)}
    line_h = FONT_PX + 4
    blocks: list[tuple[int, Any]] = []  # (height, item)
    for item in receipt.items:
        if isinstance(item, PrintedLine):
            blocks.append((line_h * (2 if item.double else 1), item))
        elif isinstance(item, Feed):
            blocks.append((line_h * item.lines, item))
        elif isinstance(item, PrintedImage):
            blocks.append((item.height, item))
        else:
            qr = _qr_image(qrcode, item) if item.kind == "qr" else None
            blocks.append(((qr.size[1] if qr else line_h * 3) + 8, (item, qr)))
    height = MARGIN * 2 + sum(h for h, _ in blocks) + 40
    paper = pil.new("L", (dots, height), 255)
    draw = draw_mod.Draw(paper)
    y = MARGIN
    for h, item in blocks:
        if isinstance(item, PrintedLine):
            font = fonts[item.bold]
            width = draw.textlength(item.text, font=font)
            x = {"left": MARGIN, "center": (dots - width) / 2,
                 "right": dots - MARGIN - width}[item.align]
            draw.text((x, y), item.text, fill=0, font=font)
        elif isinstance(item, PrintedImage):
            draw.rectangle((MARGIN, y, MARGIN + item.width, y + item.height), fill=160)
        elif isinstance(item, tuple):
            code, qr = item
            if qr is not None:
                paper.paste(qr, ((dots - qr.size[0]) // 2, y + 4))
            else:
                _bars(draw, code, y, dots, fonts[False])
        y += h
    if receipt.cut:
        for x in range(0, dots, 16):
            draw.line((x, y + 12, x + 8, y + 12), fill=0, width=2)
        draw.text((MARGIN, y + 16), f"{receipt.cut} cut", fill=0, font=fonts[False])
    out = io.BytesIO()
    paper.save(out, format="PNG")
    return out.getvalue()


def _qr_image(qrcode: Any, code: PrintedCode) -> Any:
    qr = qrcode.QRCode(box_size=4, border=2)
    qr.add_data(code.data)
    qr.make(fit=True)
    return qr.make_image().get_image().convert("L")


def _bars(draw: Any, code: PrintedCode, y: int, dots: int, font: Any) -> None:
    """A barcode's place on the paper, framed, with the data it encodes (its bars are the
    printer's business: the evidence is what it was asked to encode)."""
    draw.rectangle((MARGIN, y, dots - MARGIN, y + 3 * (FONT_PX + 4)), outline=0, width=2)
    draw.text((MARGIN * 2, y + FONT_PX), f"barcode {code.data}", fill=0, font=font)
