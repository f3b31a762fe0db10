"""Open the configured receipt printer through python-escpos and ask its real-time status.

A network printer is raw TCP (port 9100 unless the URL says otherwise), a USB printer is
found by vendor and product id (pyusb), anything else is a serial port or a pyserial URL. The
status comes from the ESC/POS real-time requests (DLE EOT 1, 2, 4), answered even while the
printer is offline, so a fault is named before any receipt is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from rig.errors import RigError
from rig.extras import MissingExtra, require
from rig.printer.escpos_cache import use_cache
from rig.printer.settings import PrinterSettings

RAW_TCP_PORT = 9100


class PrinterFault(RigError):
    """The receipt did not print; ``reason`` is short (paper out, cover open, offline, not
    answering, unreachable), the message says it to the cashier."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    cover_open: bool
    paper_out: bool
    paper_low: bool

    def fault(self, where: str) -> PrinterFault | None:
        """What stops printing, most specific first; None when the printer is ready."""
        if self.paper_out:
            return PrinterFault("paper out", f"the receipt printer at {where} is out of paper")
        if self.cover_open:
            return PrinterFault("cover open", f"the receipt printer at {where} has its "
                                "cover open")
        if not self.online:
            return PrinterFault("offline", f"the receipt printer at {where} is offline")
        return None


def _serial_printer_class(escpos: Any) -> type:
    """A python-escpos printer over pyserial's serial_for_url (device paths and URLs)."""

    class PyserialPrinter(escpos.Escpos):  # type: ignore[misc, name-defined]
        def __init__(self, url: str, baudrate: int, timeout: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._url, self._baudrate, self._timeout = url, baudrate, timeout

        def open(self, raise_not_found: bool = True) -> None:
            import serial

            self.device = serial.serial_for_url(self._url, baudrate=self._baudrate,
                                                timeout=self._timeout,
                                                write_timeout=self._timeout)

        def _raw(self, msg: bytes) -> None:
            self.device.write(msg)

        def _read(self) -> bytes:
            data: bytes = self.device.read(1)
            return data

        def close(self) -> None:
            port = getattr(self, "_device", None)
            if port:
                port.close()
                self._device = None

    return PyserialPrinter


def open_escpos(settings: PrinterSettings) -> Any:
    """A connected python-escpos printer for ``settings`` (PrinterFault if unreachable)."""
    url = settings.url or ""
    if not url:
        raise PrinterFault("unconfigured", "no receipt printer is configured ([printer] url)")
    try:
        require("printer", "escpos", "printing receipts")
        use_cache()
        escpos = require("printer", "escpos.escpos", "printing receipts")
        printers = require("printer", "escpos.printer", "printing receipts")
        capabilities = require("printer", "escpos.capabilities", "printing receipts")
    except MissingExtra as e:
        raise PrinterFault("not installed", str(e)) from None
    check_profile(capabilities, settings)
    parts = urlsplit(url)
    try:
        if parts.scheme == "tcp":
            p = printers.Network(parts.hostname or "", parts.port or RAW_TCP_PORT,
                                 timeout=settings.timeout_s, profile=settings.profile)
        elif parts.scheme == "usb":
            require("printer", "usb.core", "a USB receipt printer")
            vid, _, pid = parts.netloc.partition(":")
            p = printers.Usb(int(vid, 16), int(pid, 16), timeout=int(settings.timeout_s * 1000),
                             profile=settings.profile)
        else:
            p = _serial_printer_class(escpos)(url, settings.baudrate, settings.timeout_s,
                                              profile=settings.profile)
        p.open()
    except ValueError as e:
        raise PrinterFault("unconfigured", f"printer url {url!r}: {e}") from None
    except Exception as e:  # DeviceNotFoundError, USBNotFoundError, SerialException, OSError
        raise PrinterFault("unreachable", f"cannot reach the receipt printer at {url}: "
                           f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return p


def check_profile(capabilities: Any, settings: PrinterSettings) -> None:
    """The model's python-escpos profile exists and has the configured code page."""
    try:
        profile = capabilities.get_profile(settings.profile)
    except KeyError:
        raise PrinterFault("printer profile", f"[printer] profile {settings.profile!r} is not "
                           "a python-escpos printer profile (e.g. TM-T88V, TM-T20II, "
                           "POS-5890, default)") from None
    pages = profile.get_code_pages()
    if settings.code_page.upper() not in {str(name).upper() for name in pages}:
        have = ", ".join(sorted(n for n in pages if n not in ("Unknown", "Broken")))
        raise PrinterFault("printer profile", f"printer profile {settings.profile} has no "
                           f"code page {settings.code_page} (it has: {have})")


def _query(p: Any, n: int, where: str) -> int:
    try:
        reply: bytes = p.query_status(bytes((0x10, 0x04, n)))
    except (TimeoutError, OSError):
        reply = b""
    if not reply:
        raise PrinterFault("not answering", f"the receipt printer at {where} does not answer "
                           "(switched off, unplugged or hung)")
    return reply[-1]


def read_status(p: Any, where: str) -> PrinterStatus:
    """DLE EOT 1 (online), 2 (cover), 4 (paper roll sensor)."""
    printer, cause, roll = _query(p, 1, where), _query(p, 2, where), _query(p, 4, where)
    return PrinterStatus(online=not printer & 0x08, cover_open=bool(cause & 0x04),
                         paper_out=bool(roll & 0x60) or bool(cause & 0x20),
                         paper_low=bool(roll & 0x0C))
