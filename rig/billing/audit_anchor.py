"""Signed checkpoints of the audit chain's head, kept outside the database.

A keyed chain (:mod:`rig.billing.audit`) cannot be rewritten without the key, but it can be
cut: delete the newest events, or all of them, or put back an older copy of the database, and
what is left still verifies. A checkpoint — ``{seq, hash, key_id, at}`` and an HMAC of it under
the audit key — written to a file the operator chooses (another disk, another host's mount, a
write-once store) says "the chain had event ``seq`` with this hash"; verification then demands
that event, so anything cut before the newest checkpoint is detected.

Each process that writes events writes a checkpoint at its first append and then whenever the
chain has grown by ``checkpoint_events`` since its last one, or ``checkpoint_seconds`` have
passed; and once more when the centre is closed. A checkpoint costs one ``fsync`` of the
anchor file, after the transaction has committed: the sale itself never waits for it. Only
events after the newest checkpoint can be cut unnoticed.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.billing.audit_key import AuditConfig, AuditKey

log = logging.getLogger(__name__)
_DOMAIN = b"rig-audit-checkpoint:"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    key_id: str
    at: str  # UTC, ISO 8601

    def body(self) -> bytes:
        return _DOMAIN + json.dumps({"at": self.at, "hash": self.hash, "key_id": self.key_id,
                                     "seq": self.seq}, sort_keys=True,
                                    separators=(",", ":")).encode()

    def line(self, key: AuditKey) -> str:
        return json.dumps({"seq": self.seq, "hash": self.hash, "key_id": self.key_id,
                           "at": self.at, "mac": key.mac(self.body())}) + "\n"


@dataclass(frozen=True)
class AnchorContents:
    checkpoints: tuple[Checkpoint, ...]  # signed by the key
    problems: tuple[str, ...]  # lines that are not checkpoints of this key
    notes: tuple[str, ...]  # e.g. a torn last line (a process killed mid-write)


def write_checkpoint(path: Path, key: AuditKey, seq: int, digest: str) -> Checkpoint:
    """Append one signed checkpoint to ``path`` (created 0600) and fsync it."""
    cp = Checkpoint(seq, digest, key.key_id, datetime.now(UTC).isoformat())
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, cp.line(key).encode())
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return cp


def read_anchor(path: Path, key: AuditKey) -> AnchorContents:
    """Every checkpoint in ``path`` whose MAC holds under ``key``; every other line is a
    problem (an altered or forged checkpoint), except a torn last line."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return AnchorContents((), (), ())
    lines = text.split("\n")
    torn = lines.pop() if lines else ""  # "" when the file ends with a newline
    good: list[Checkpoint] = []
    problems: list[str] = []
    for number, raw in enumerate(lines, 1):
        try:
            item = json.loads(raw)
            cp = Checkpoint(int(item["seq"]), str(item["hash"]), str(item["key_id"]),
                            str(item["at"]))
            mac = str(item["mac"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"{path}:{number} is not a checkpoint")
            continue
        if cp.key_id != key.key_id:
            problems.append(f"{path}:{number} is signed with audit key {cp.key_id}, not "
                            f"{key.key_id}")
        elif not hmac.compare_digest(mac, key.mac(cp.body())):
            problems.append(f"{path}:{number}: checkpoint of event {cp.seq} was altered or "
                            "forged (its MAC does not hold)")
        else:
            good.append(cp)
    notes = (f"{path}: a torn last line (a writer stopped mid-line) was ignored",) if torn else ()
    return AnchorContents(tuple(good), tuple(problems), notes)


def check(contents: AnchorContents, hashes: dict[int, str], head: int) -> list[str]:
    """What the chain (``hashes``: seq → hash of every event, ``head`` the newest seq) lacks
    against the checkpoints."""
    problems = list(contents.problems)
    for cp in contents.checkpoints:
        stored = hashes.get(cp.seq)
        if stored is None:
            problems.append(f"checkpoint of {cp.at} names event {cp.seq}, but the chain ends at "
                            f"event {head}: events {head + 1}–{cp.seq} or more were removed "
                            "(tail truncated, log emptied or an older copy put back)")
        elif not hmac.compare_digest(stored, cp.hash):
            problems.append(f"event {cp.seq} is not the one checkpointed at {cp.at}: the chain "
                            "was replaced or rewritten")
    return problems


class Anchoring:
    """When this process writes checkpoints (see the module doc); thread-safe."""

    def __init__(self, config: AuditConfig) -> None:
        assert config.key is not None and config.anchor is not None
        self._key = config.key
        self.path = config.anchor
        self._events = config.checkpoint_events
        self._seconds = config.checkpoint_seconds
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None  # newest this process appended
        self._anchored_seq: int | None = None  # newest it checkpointed
        self._anchored_at = 0.0

    def appended(self, head: tuple[int, str]) -> None:
        """A transaction that appended events up to ``head`` has committed."""
        with self._lock:
            if self._head is None or head[0] > self._head[0]:
                self._head = head
            due = (self._anchored_seq is None
                   or self._head[0] - self._anchored_seq >= self._events
                   or time.monotonic() - self._anchored_at >= self._seconds)
            if due:
                self._write()

    def flush(self) -> None:
        """Checkpoint the newest head this process appended, if not done yet."""
        with self._lock:
            if self._head is not None and self._head[0] != self._anchored_seq:
                self._write()

    def checkpoint(self, head: tuple[int, str]) -> None:
        """Checkpoint ``head`` now (a verified head; an error writing it is raised)."""
        with self._lock:
            write_checkpoint(self.path, self._key, *head)
            if self._anchored_seq is None or head[0] > self._anchored_seq:
                self._anchored_seq, self._anchored_at = head[0], time.monotonic()

    def _write(self) -> None:
        assert self._head is not None
        try:
            write_checkpoint(self.path, self._key, *self._head)
        except OSError as e:  # the sale has committed: report, and try again next time
            log.error("cannot write an audit checkpoint to %s: %s", self.path, e.strerror)
            return
        self._anchored_seq, self._anchored_at = self._head[0], time.monotonic()
