"""Console login sessions, kept server-side: the cookie holds only a random token.

A session knows its operator, role, CSRF token and a stamp of the operator's password at
login. Nothing secret is derived from the cookie and nothing is signed, so there is no server
key to manage: a restart simply logs everyone out (their work is in the database, not in the
session). A session ends when idle too long, when it reaches its absolute lifetime, or when
the operator's password changes (the stamp no longer matches).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from rig.billing.types import OperatorRole


@dataclass
class ConsoleSession:
    token: str = field(repr=False)
    operator: str
    role: OperatorRole
    csrf: str = field(repr=False)
    last_seen: float
    created: float = 0.0
    password_stamp: str = field(default="", repr=False)
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def pop_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out


class SessionStore:
    """Token → session, thread-safe (sync routes run in a thread pool).

    ``idle_timeout_s``: a session unused this long ends; ``max_age_s``: every session ends
    this long after login, however busy it is.
    """

    def __init__(self, idle_timeout_s: float = 3600.0, max_age_s: float = 12 * 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if idle_timeout_s <= 0 or max_age_s <= 0:
            raise ValueError("session idle timeout and lifetime must be positive seconds")
        self.idle_timeout_s = idle_timeout_s
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, operator: str, role: OperatorRole,
               password_stamp: str = "") -> ConsoleSession:
        now = self._clock()
        session = ConsoleSession(secrets.token_urlsafe(32), operator, role,
                                 secrets.token_urlsafe(32), now, now, password_stamp)
        with self._lock:
            self._drop_expired(now)
            self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> ConsoleSession | None:
        if not token:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def drop(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def drop_operator(self, operator: str) -> int:
        """End every session of ``operator`` (their password changed); how many ended."""
        with self._lock:
            ended = [t for t, s in self._sessions.items() if s.operator == operator]
            for token in ended:
                del self._sessions[token]
            return len(ended)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: ConsoleSession, now: float) -> bool:
        return (now - session.last_seen > self.idle_timeout_s
                or now - session.created > self.max_age_s)

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[token]


@dataclass(slots=True)
class _Attempts:
    failures: list[float] = field(default_factory=list)  # the latest ≤ max_failures, oldest first
    in_flight: int = 0  # admitted attempts whose password is still being checked


class LoginThrottle:
    """After ``max_failures`` wrong passwords for one name, that name may not log in for
    ``lockout_s`` seconds — guessing passwords through the login page becomes too slow.

    Checking and counting are one step: :meth:`admit` reserves a place for an attempt before
    its password is checked and :meth:`settle` records the outcome, so attempts checked in
    parallel count against the limit while they run (200 at once admit ``max_failures``).
    At most ``max_names`` names are tracked: when full, names whose failures have expired go
    first, then the least recently tried name that is not locked out.
    """

    def __init__(self, max_failures: int = 5, lockout_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, max_names: int = 4096) -> None:
        if max_failures < 1 or lockout_s <= 0 or max_names < 1:
            raise ValueError("max_failures, lockout_s and max_names must be positive")
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.max_names = max_names
        self._clock = clock
        self._lock = threading.Lock()
        self._names: OrderedDict[str, _Attempts] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._names)

    def admit(self, name: str) -> float:
        """0.0 if ``name`` may try now — a place is then reserved until :meth:`settle` —
        else the seconds until it may try again."""
        key, now = name.lower(), self._clock()
        with self._lock:
            entry = self._names.get(key)
            if entry is None:
                if not self._make_room(now):
                    return self.lockout_s  # every tracked name is mid-attempt or locked
                entry = self._names[key] = _Attempts()
            self._names.move_to_end(key)
            self._forget_old(entry, now)
            if len(entry.failures) + entry.in_flight >= self.max_failures:
                if len(entry.failures) < self.max_failures:
                    return 1.0  # the remaining places are taken by attempts being checked
                return max(self.lockout_s - (now - entry.failures[0]), 1.0)
            entry.in_flight += 1
            return 0.0

    def settle(self, name: str, ok: bool, *, counted: bool = True) -> None:
        """The outcome of an attempt :meth:`admit` let through (``counted=False``: it got no
        answer, so it neither fails nor clears the count)."""
        key, now = name.lower(), self._clock()
        with self._lock:
            entry = self._names.get(key)
            if entry is None:
                return
            entry.in_flight = max(entry.in_flight - 1, 0)
            if ok and counted:
                entry.failures.clear()
            elif counted:
                entry.failures.append(now)
                del entry.failures[:-self.max_failures]
            if not entry.failures and not entry.in_flight:
                del self._names[key]

    def locked_for(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: it may try now); reserves nothing."""
        now = self._clock()
        with self._lock:
            entry = self._names.get(name.lower())
            if entry is None:
                return 0.0
            self._forget_old(entry, now)
            if len(entry.failures) < self.max_failures:
                return 0.0
            return self.lockout_s - (now - entry.failures[0])

    def _forget_old(self, entry: _Attempts, now: float) -> None:
        while entry.failures and now - entry.failures[0] >= self.lockout_s:
            del entry.failures[0]

    def _locked(self, entry: _Attempts) -> bool:
        return len(entry.failures) >= self.max_failures

    def _make_room(self, now: float) -> bool:
        """Room for one more name; False if every tracked name must be kept."""
        if len(self._names) < self.max_names:
            return True
        for key in list(self._names):  # least recently tried first
            entry = self._names[key]
            self._forget_old(entry, now)
            if not entry.failures and not entry.in_flight:
                del self._names[key]
        if len(self._names) < self.max_names:
            return True
        for key, entry in self._names.items():
            if not entry.in_flight and not self._locked(entry):
                del self._names[key]
                return True
        return False
