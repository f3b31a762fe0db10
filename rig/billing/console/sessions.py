"""Console login sessions, kept server-side: the cookie holds only a random token.

A session knows its operator, role and CSRF token. Nothing secret is derived from the cookie
and nothing is signed, so there is no server key to manage: a restart simply logs everyone
out (their work is in the database, not in the session). Idle sessions expire.
"""

from __future__ import annotations

import secrets
import threading
import time
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
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)

    def flash(self, kind: str, text: str) -> None:
        self.flashes.append((kind, text))

    def pop_flashes(self) -> list[tuple[str, str]]:
        out, self.flashes = self.flashes, []
        return out


class SessionStore:
    """Token → session, thread-safe (sync routes run in a thread pool)."""

    def __init__(self, idle_timeout_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_timeout_s = idle_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, ConsoleSession] = {}

    def create(self, operator: str, role: OperatorRole) -> ConsoleSession:
        session = ConsoleSession(secrets.token_urlsafe(32), operator, role,
                                 secrets.token_urlsafe(32), self._clock())
        with self._lock:
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
            if now - session.last_seen > self.idle_timeout_s:
                del self._sessions[token]
                return None
            session.last_seen = now
            return session

    def drop(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)


class LoginThrottle:
    """After ``max_failures`` wrong passwords for one name, that name may not log in for
    ``lockout_s`` seconds — guessing passwords through the login page becomes too slow."""

    def __init__(self, max_failures: int = 5, lockout_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def locked_for(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: it may try now)."""
        now = self._clock()
        with self._lock:
            recent = [t for t in self._failures.get(name.lower(), [])
                      if now - t < self.lockout_s]
            self._failures[name.lower()] = recent
            if len(recent) < self.max_failures:
                return 0.0
            return self.lockout_s - (now - recent[-self.max_failures])

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name.lower(), []).append(self._clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.lower(), None)
