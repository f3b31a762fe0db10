"""rig's reader driver's event callback, called the way pcscd's event thread calls it.

pcscd uses a driver's own event thread only if `IFDHGetCapabilities` hands it a function for
`TAG_IFD_POLLING_THREAD_WITH_TIMEOUT`, and that function must return when a card comes or
goes, not at its timeout. This loads the built driver (native/pcsc-vreader, built by setup.sh
or `make -C native/pcsc-vreader`) with ctypes and checks exactly that, with a 60 s timeout a
return caused by the timeout could not hide behind; tests/sim/test_vreader.py checks the
driver under a real pcscd.
"""

from __future__ import annotations

import ctypes
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[2] / "native" / "pcsc-vreader" / "librig-vreader.so"
TAG_IFD_POLLING_THREAD_WITH_TIMEOUT = 0x0FB3
IFD_SUCCESS, IFD_ICC_PRESENT, IFD_ICC_NOT_PRESENT = 0, 615, 616
LUN = 5 << 16  # pcscd's reader number 5, slot 0
WAIT_MS = 60_000

pytestmark = pytest.mark.skipif(not LIBRARY.exists(),
                                reason=f"{LIBRARY} not built (make -C native/pcsc-vreader)")

EventFn = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_ulong, ctypes.c_int)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def reader() -> Iterator[tuple[ctypes.CDLL, int]]:
    lib = ctypes.CDLL(str(LIBRARY))
    lib.IFDHCreateChannel.argtypes = [ctypes.c_ulong, ctypes.c_ulong]
    lib.IFDHCloseChannel.argtypes = [ctypes.c_ulong]
    lib.IFDHICCPresence.argtypes = [ctypes.c_ulong]
    lib.IFDHGetCapabilities.argtypes = [ctypes.c_ulong, ctypes.c_ulong,
                                        ctypes.POINTER(ctypes.c_ulong), ctypes.c_void_p]
    port = _free_port()
    assert lib.IFDHCreateChannel(LUN, port) == IFD_SUCCESS
    yield lib, port
    assert lib.IFDHCloseChannel(LUN) == IFD_SUCCESS


def test_the_event_callback_returns_when_a_card_comes_and_goes(
        reader: tuple[ctypes.CDLL, int]) -> None:
    lib, port = reader
    size = ctypes.c_ulong(ctypes.sizeof(ctypes.c_void_p))
    pointer = ctypes.c_void_p()
    assert lib.IFDHGetCapabilities(LUN, TAG_IFD_POLLING_THREAD_WITH_TIMEOUT, ctypes.byref(size),
                                   ctypes.byref(pointer)) == IFD_SUCCESS
    assert size.value == ctypes.sizeof(ctypes.c_void_p) and pointer.value
    wait_for_change = EventFn(pointer.value)

    # pcscd's event thread: check presence, wait for a change, check again (twice)
    seen: list[tuple[int, int]] = []
    waiting = [threading.Event(), threading.Event()]

    def event_thread() -> None:
        lib.IFDHICCPresence(LUN)
        for step in range(2):
            waiting[step].set()
            rc = wait_for_change(LUN, WAIT_MS)
            seen.append((rc, lib.IFDHICCPresence(LUN)))

    thread = threading.Thread(target=event_thread, daemon=True)
    thread.start()
    assert waiting[0].wait(10)
    card = socket.create_connection(("127.0.0.1", port))
    assert waiting[1].wait(10), "the callback did not return when the card was inserted"
    assert seen == [(IFD_SUCCESS, IFD_ICC_PRESENT)]
    card.close()
    thread.join(10)
    assert not thread.is_alive(), "the callback did not return when the card was removed"
    assert seen[1] == (IFD_SUCCESS, IFD_ICC_NOT_PRESENT)
