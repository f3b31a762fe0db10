"""A cap on request bodies, applied before authentication and parsing.

Without it a client that is not even logged in can make the server read and parse a body of
any size (a 100 MB JSON body cost 486 MB of memory before the 401). This ASGI middleware
answers 413 at once when ``Content-Length`` declares more than the cap, without reading a byte
of the body, and stops a body sent without a length (chunked) as soon as it passes the cap.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The largest legitimate body (a tariff with its blocks, a batch of readbacks) is a few kB.
DEFAULT_MAX_BODY_BYTES = 1 << 20


class BodyLimit:
    """Refuse request bodies above ``max_bytes`` with 413, reading none of a declared one."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be ≥ 0, not {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _reply(send, 400, "bad_request", "the Content-Length header is not a number")
            return
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, f"{declared} bytes", self.max_bytes)
            return
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    if not started:
                        await _refuse(send, f"more than {self.max_bytes} bytes", self.max_bytes)
                    return {"type": "http.disconnect"}  # the app stops reading here
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has gone out; whatever the app says after it is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app failed only because its body was cut off: the client already has a 413.


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent; -1 when it is not a plain number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 20 else -1
    return None


async def _refuse(send: Send, size: str, limit: int) -> None:
    await _reply(send, 413, "too_large",
                 f"the request body ({size}) is larger than the limit of {limit} bytes; "
                 "nothing was read or stored")


async def _reply(send: Send, code: int, error: str, detail: str) -> None:
    body = json.dumps({"error": error, "detail": detail, "reason": None}).encode()
    await send({"type": "http.response.start", "status": code, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
