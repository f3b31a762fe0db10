"""Open a meter's serial port, and say in plain words why it could not be opened.

pyserial reports a missing adapter, a permission problem and a pseudo-terminal's refusal of
parity alike as a bare errno (``(22, 'Invalid argument')``); a bench engineer needs the port,
the line settings asked for and the likely cause. Importing this module does not import
pyserial; `open_serial` does.
"""

from __future__ import annotations

import errno
import grp
import os
import stat
from typing import Any

from rig.errors import ProtocolError

#: Linux character-device majors of pseudo-terminal slaves: 136-143 Unix98 (/dev/pts/N),
#: 3 the legacy BSD ttyp* (Documentation/admin-guide/devices.txt).
_PTY_SLAVE_MAJORS = frozenset({3, *range(136, 144)})


def is_pseudo_terminal(path: str) -> bool:
    """True if `path` is the slave side of a pseudo-terminal (it carries no parity bit)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in _PTY_SLAVE_MAJORS


def line_settings(bytesize: int, parity: str, stopbits: float) -> str:
    """``8E1``-style text of the character format."""
    return f"{bytesize}{parity}{stopbits:g}"


def _errno_of(exc: BaseException) -> int | None:
    """The errno behind a pyserial, termios or OS error (termios.error only has args)."""
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _group_of(path: str) -> str:
    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return "dialout"


def explain_open_failure(path: str, settings: str, exc: BaseException, *,
                         what: str = "serial port") -> str:
    """One line: what failed (port, settings), the system's words, and what to do about it."""
    code = _errno_of(exc)
    head = f"cannot open {what} {path!r} at {settings}: {exc}"
    if code == errno.ENOENT or (code is None and path.startswith("/dev/")
                                and not os.path.exists(path)):
        return (f"{head} — no such device: is the USB adapter plugged in? "
                "(`ls /dev/ttyUSB* /dev/ttyACM* /dev/serial/by-id/`, `dmesg | tail`); "
                "check meter.port in the bench config")
    if code in (errno.EACCES, errno.EPERM):
        group = _group_of(path)
        if group == "root":
            return (f"{head} — permission denied: the port is root's alone; a udev rule "
                    "giving it to group 'dialout' (and your user in that group) fixes it")
        return (f"{head} — permission denied: the port belongs to group {group!r}; add your "
                f"user to it (`sudo usermod -aG {group} $USER`) and log in again")
    if code == errno.EBUSY:
        return f"{head} — the port is in use by another program (`fuser {path}`)"
    if code == errno.EINVAL and is_pseudo_terminal(path) and settings[1:2] != "N":
        return (f"{head} — {path} is a pseudo-terminal, which carries no parity bit: Linux "
                "keeps it at 8 data bits without parity and glibc's tcsetattr reports the "
                "refused parity as EINVAL. Open it 8N1 (parity \"N\"); a 7E1 protocol "
                "(IEC 62056-21) then sends its 7-bit characters as they are, or with the "
                "parity in bit 7 (see docs/protocols.md)")
    if code == errno.EINVAL:
        return f"{head} — the port refuses these line settings (rate, size, parity, stop bits)"
    return head


def open_serial(path_or_url: str, *, baudrate: int, bytesize: int, parity: str,
                stopbits: float, timeout: float, what: str = "serial port", **kw: Any) -> Any:
    """`serial.serial_for_url` with a `ProtocolError` that names the port and the cause."""
    import serial  # deferred: the emulated meter imports the protocol packages without pyserial

    try:
        return serial.serial_for_url(path_or_url, baudrate=baudrate, bytesize=bytesize,
                                     parity=parity, stopbits=stopbits, timeout=timeout, **kw)
    except Exception as exc:  # SerialException, ValueError, termios.error...
        raise ProtocolError(explain_open_failure(
            path_or_url, line_settings(bytesize, parity, stopbits), exc, what=what)) from exc
