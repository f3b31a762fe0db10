"""Virtual card reader slots: which TCP port feeds which PC/SC reader, and who owns it.

Two reader drivers can serve rig's virtual cards; `RIG_READERS` picks one (`reader_kind`):

- ``vreader``: rig's own driver (native/pcsc-vreader, installed by setup.sh). Eight
  one-slot readers, "rig vreader K 0K 00" on TCP 35971 + K (`RIG_VREADER_BASE_PORT` moves
  them, for a private pcscd). It tells pcscd of a card's arrival and departure at once, so
  a card move costs milliseconds instead of pcscd's 400 ms presence polls.
- ``vpcd``: Debian's vsmartcard driver, which pcscd polls. Its reader has two slots,
  "Virtual PCD 00 00" and "00 01" on TCP 35963 and 35964; setup.sh adds three more readers
  ("rig vpcd K 00 0S" on 35963 + 2K + S, each a copy of the driver, which keeps its slots in
  globals). Slot i is port 35963 + i.
- ``auto`` (the default): ``vreader`` when pcscd lists rig's readers, else ``vpcd``.

Two benches on one machine must never share a reader, so a slot is claimed with an
exclusive `flock` on a per-port lock file (released automatically if the process dies).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Sequence
from functools import cache
from types import TracebackType

from rig.errors import CardError, ConfigError

READERS_ENV = "RIG_READERS"
VREADER_PORT_ENV = "RIG_VREADER_BASE_PORT"
VPCD_BASE_PORT = 35963
VREADER_BASE_PORT = 35971
MAX_SLOTS = 8  # vreader: eight readers; vpcd: the Debian reader's two slots and three more
LOCK_DIR = "/tmp"
KINDS = ("auto", "vreader", "vpcd")


def _vreader_name(index: int) -> str:
    # pcscd numbers the readers sharing one driver library ("NN"), in load order
    return f"rig vreader {index} {index:02X} 00"


@cache
def _pcscd_has_vreaders() -> bool:
    """Whether pcscd lists rig's first reader (asked once per process)."""
    try:
        from smartcard.System import readers

        return _vreader_name(0) in {str(r) for r in readers()}
    except Exception:
        return False


def reader_kind() -> str:
    """The reader driver rig's virtual cards use: "vreader" or "vpcd" (see module doc)."""
    kind = os.environ.get(READERS_ENV, "auto").strip().lower() or "auto"
    if kind not in KINDS:
        raise ConfigError(f"{READERS_ENV}={kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "auto":
        return "vreader" if _pcscd_has_vreaders() else "vpcd"
    return kind


def vreader_base_port() -> int:
    """TCP port of rig vreader 0 (`RIG_VREADER_BASE_PORT`, else 35971)."""
    raw = os.environ.get(VREADER_PORT_ENV, "").strip()
    if not raw:
        return VREADER_BASE_PORT
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1024 <= port <= 65535 - MAX_SLOTS:
        raise ConfigError(f"{VREADER_PORT_ENV}={raw!r}: expected a TCP port "
                          f"1024..{65535 - MAX_SLOTS}")
    return port


def slot_port(index: int) -> int:
    """TCP port the virtual card of slot `index` connects to."""
    base = vreader_base_port() if reader_kind() == "vreader" else VPCD_BASE_PORT
    return base + index


def reader_name(index: int) -> str:
    """PC/SC name of slot `index` for the reader driver in use."""
    if reader_kind() == "vreader":
        return _vreader_name(index)
    reader, slot = divmod(index, 2)
    return f"Virtual PCD 00 {slot:02d}" if reader == 0 else f"rig vpcd {reader} 00 {slot:02d}"


class SlotBusyError(CardError):
    """The vpcd slot is already claimed by another bench/process."""


class VpcdSlot:
    """One virtual reader slot: its TCP port, its PC/SC reader name and its ownership lock."""

    def __init__(self, index: int) -> None:
        if not 0 <= index <= 99:
            raise ValueError(f"vpcd slot index {index} outside 0..99")
        self.index = index
        self.port = slot_port(index)
        self.reader_name = reader_name(index)
        self.lock_path = os.path.join(LOCK_DIR, f"rig-vpcd-{self.port}.lock")
        self._fd: int | None = None

    def __repr__(self) -> str:
        state = "claimed" if self.claimed else "free"
        return f"VpcdSlot({self.index}, port={self.port}, {state})"

    @property
    def claimed(self) -> bool:
        return self._fd is not None

    def claim(self) -> VpcdSlot:
        """Take the slot exclusively (non-blocking); SlotBusyError if someone else has it."""
        if self._fd is not None:
            return self
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SlotBusyError(f"vpcd slot {self.index} ({self.reader_name!r}, port "
                                f"{self.port}) is in use by another bench "
                                f"(lock {self.lock_path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def holder_pid(self) -> int | None:
        """The process id the current or last claimant wrote into the lock file, if any."""
        try:
            with open(self.lock_path) as f:
                return int(f.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> VpcdSlot:
        return self.claim()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def available_slots() -> int:
    """How many slots pcscd offers: the leading run of vpcd reader names it lists."""
    try:
        from smartcard.System import readers

        names = {str(r) for r in readers()}
    except Exception:
        return 2  # no PC/SC service to ask: the Debian driver's two slots
    count = 0
    while count < MAX_SLOTS and reader_name(count) in names:
        count += 1
    return count


_last_claimed: int | None = None  # the slot this process claimed last


def claim_free_slot(count: int | None = None, wait_s: float = 0.0, *,
                    indices: Sequence[int] | None = None) -> VpcdSlot:
    """Claim a free slot among 0..count-1 (or among `indices`), waiting up to `wait_s`
    for one to free up.

    `count` defaults to the slots pcscd offers. Benches on one machine queue for readers
    instead of failing at once; SlotBusyError names the lock files when none frees up in time.

    A process opening benches one after another (a test suite) tries the slots after the one
    it claimed last first: pcscd saw those readers empty long ago, whereas the card just
    pulled from the last one stays "present" until pcscd's next presence poll (up to 400 ms),
    which the new bench's first card insert would have to wait out.
    """
    global _last_claimed
    if indices is None:
        indices = range(max(available_slots(), 1) if count is None else count)
    order = list(indices)
    if _last_claimed in order:
        after = order.index(_last_claimed) + 1
        order = order[after:] + order[:after]
    deadline = time.monotonic() + wait_s
    while True:
        busy: SlotBusyError | None = None
        for index in order:
            try:
                slot = VpcdSlot(index).claim()
            except SlotBusyError as e:
                busy = e
            else:
                _last_claimed = index
                return slot
        if time.monotonic() >= deadline:
            if len(indices) == 1 and busy is not None:
                raise busy  # names the one slot asked for
            raise SlotBusyError(f"all {len(indices)} vpcd slots are in use "
                                "(locks /tmp/rig-vpcd-*.lock)")
        time.sleep(0.1)


def wait_until_reader_empty(reader: str, timeout_s: float = 2.0) -> bool:
    """Block until pcscd reports `reader` empty (True), or `timeout_s` passes (False).

    pcscd learns of a removed virtual card only at its next presence poll; a card inserted
    again before then lands in a reader that still holds the old, powered session. Without a
    PC/SC service to ask this returns False at once (nothing to wait for).
    """
    try:
        from smartcard import scard
    except ImportError:
        return False
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        return False
    try:
        deadline = time.monotonic() + timeout_s
        known = scard.SCARD_STATE_UNAWARE
        while True:
            wait_ms = 0 if known == scard.SCARD_STATE_UNAWARE else max(
                0, int((deadline - time.monotonic()) * 1000))
            rc, states = scard.SCardGetStatusChange(ctx, wait_ms, [(reader, known)])
            if rc not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT) or not states:
                return False
            _, event, _ = states[0]
            if event & scard.SCARD_STATE_EMPTY:
                return True
            if time.monotonic() >= deadline:
                return False
            known = event & ~scard.SCARD_STATE_CHANGED
    finally:
        scard.SCardReleaseContext(ctx)
