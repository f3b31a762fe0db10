"""Which receipt printer a vending station has, and its profile (paper, code page, cutter)."""

from __future__ import annotations

import codecs
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Printable columns of Font A on an 80 mm roll and Font B on a 58 mm roll (Epson TM layout).
COLUMNS = {80: 48, 58: 42}


class PrinterSettings(BaseModel):
    """`[printer]` of a bench or station file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(
        default=None, description="tcp://HOST[:9100] (network), usb://VID:PID (USB, hex ids), "
        "or a serial device / pyserial URL; default on an emulated bench: its printer")
    profile: str = Field(default="TM-T88V", description="python-escpos capability profile "
                         "of the model (code page numbers, cutter, QR support)")
    paper_mm: Literal[58, 80] = 80
    code_page: str = Field(default="CP858", description="the printer's code page for text "
                           "beyond ASCII (CP858 has the euro sign, CP437 has none)")
    cutter: bool = True
    baudrate: Annotated[int, Field(gt=0, le=921_600)] = 19200
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 3.0

    @field_validator("code_page")
    @classmethod
    def _known_code_page(cls, name: str) -> str:
        try:
            codecs.lookup(name.replace("_", "-"))
        except LookupError:
            raise ValueError(f"{name!r} is not a code page (e.g. CP858, CP437, CP1252)") \
                from None
        return name

    @property
    def columns(self) -> int:
        return COLUMNS[self.paper_mm]

    def at(self, url: str) -> PrinterSettings:
        """The same printer profile at another address (the emulated bench's)."""
        return self.model_copy(update={"url": url})
