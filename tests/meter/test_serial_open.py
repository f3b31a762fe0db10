"""Opening a meter port that cannot be opened: the error names the port and the likely cause."""

from __future__ import annotations

import errno
import grp
import os
import tty
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from rig.bench.serial_proxy import SerialFaultProxy, SerialFaults
from rig.errors import ProtocolError
from rig.meter.dlt645.client import Dlt645Client
from rig.meter.serial_open import explain_open_failure, is_pseudo_terminal


@pytest.fixture
def pty_path() -> Iterator[str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave)
    finally:
        os.close(slave)
        os.close(master)


def test_8e1_on_a_pty_names_the_port_and_explains_parity(pty_path: str) -> None:
    """The first 8E1 open changes the rate too and is silently left 8N1; a second one asks
    for the parity alone, which the pty refuses with a bare (22, 'Invalid argument')."""
    assert is_pseudo_terminal(pty_path)
    Dlt645Client.open(pty_path, parity="E").close()
    with pytest.raises(ProtocolError) as refused:
        Dlt645Client.open(pty_path, parity="E")
    text = str(refused.value)
    assert f"cannot open DL/T 645 port '{pty_path}' at 8E1" in text
    assert "Invalid argument" in text
    assert "is a pseudo-terminal, which carries no parity bit" in text
    assert 'Open it 8N1 (parity "N")' in text


def test_missing_adapter_gets_a_no_such_device_hint_not_a_pty_one() -> None:
    with pytest.raises(ProtocolError) as missing:
        Dlt645Client.open("/dev/ttyUSB97")
    text = str(missing.value)
    assert "cannot open DL/T 645 port '/dev/ttyUSB97' at 8E1" in text
    assert "no such device" in text and "USB adapter" in text and "meter.port" in text
    assert "pseudo-terminal" not in text and "parity" not in text.split("—")[1]


def test_permission_denied_points_to_the_ports_group(tmp_path: Path) -> None:
    """As root nothing is denied, so the errno pyserial raises is handed in as it comes."""
    port = tmp_path / "ttyS9"
    port.touch()
    exc = serial.SerialException(errno.EACCES, f"could not open port {port}: [Errno 13] "
                                 f"Permission denied: '{port}'")
    try:
        dialout = grp.getgrnam("dialout").gr_gid
    except KeyError:
        pytest.skip("no dialout group on this machine")
    os.chown(port, -1, dialout)
    text = explain_open_failure(str(port), "8E1", exc, what="DL/T 645 port")
    assert text.startswith(f"cannot open DL/T 645 port '{port}' at 8E1: ")
    assert "Permission denied" in text  # the system's words stay
    assert "belongs to group 'dialout'" in text and "sudo usermod -aG dialout $USER" in text
    os.chown(port, -1, 0)
    assert "udev rule" in explain_open_failure(str(port), "8E1", exc)


def test_fault_proxy_names_the_meter_port_it_cannot_open() -> None:
    proxy = SerialFaultProxy("/dev/ttyUSB97", SerialFaults(), baudrate=2400, bytesize=8,
                             parity="E", stopbits=1)
    with pytest.raises(ProtocolError, match=r"cannot open meter port '/dev/ttyUSB97' at 8E1.*"
                                            r"no such device"):
        proxy.start()
