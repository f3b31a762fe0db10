"""Response headers that keep the centre's pages out of other sites' frames and scripts.

Every response gets ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff`` and a
``Content-Security-Policy``. An HTML page's policy allows scripts only by the SHA-256 of the
inline scripts the page actually carries (computed from the body sent), so the console's few
lines of JavaScript run and an injected ``<script>`` would not; nothing may frame a page
(``frame-ancestors 'none'``), forms post only to this origin. The API's interactive docs
(``/docs``, ``/redoc``) load Swagger UI / ReDoc from the API itself (``/docs-assets``, files
installed with the package), so their policy trusts this origin and no CDN.

A plain ASGI middleware (no ``BaseHTTPMiddleware``): only HTML bodies are held until complete,
everything else streams through untouched. Headers already set by an inner app (the console
mounted in the API) are kept.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGE = ("default-src 'none'; {scripts}; style-src 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
DOCS = ("default-src 'none'; {scripts} 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc")
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def script_hashes(html: bytes) -> list[str]:
    """CSP sources (``'sha256-…'``) of every inline ``<script>`` in ``html``."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
            for body in _INLINE_SCRIPT.findall(html)]


def page_policy(path: str, html: bytes) -> str:
    hashes = " ".join(script_hashes(html))
    if path.endswith(DOCS_PATHS):
        return DOCS.format(scripts=f"script-src {hashes}".rstrip())
    return PAGE.format(scripts=f"script-src {hashes}" if hashes else "script-src 'none'")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response of ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        held: dict[str, Any] = {}
        body = bytearray()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if _content_type(headers).startswith(b"text/html"):
                    held["start"] = {**message, "headers": headers}
                    return
                await send({**message, "headers": _add(headers, _other_policy(headers))})
                return
            if message["type"] == "http.response.body" and "start" in held:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                start = held.pop("start")
                policy = page_policy(path, bytes(body))
                await send({**start, "headers": _add(start["headers"], policy)})
                await send({"type": "http.response.body", "body": bytes(body)})
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _content_type(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.lower()
    return b""


def _other_policy(headers: list[tuple[bytes, bytes]]) -> str | None:
    # A PDF opens in the browser's own viewer, which a default-src policy can block.
    return None if _content_type(headers).startswith(b"application/pdf") else NOT_A_PAGE


def _add(headers: list[tuple[bytes, bytes]], policy: str | None) -> list[tuple[bytes, bytes]]:
    present = {name.lower() for name, _ in headers}
    wanted = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff")]
    if policy is not None:
        wanted.append((b"content-security-policy", policy.encode()))
    return headers + [(n, v) for n, v in wanted if n not in present]
