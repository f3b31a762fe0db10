"""REST API of the billing centre (FastAPI): ``create_app(centre)``; ``rig billing serve``.

``create_app`` is imported on first use: the schemas in this package are also what the served
centre's client (``rig.billing.remote``) parses replies with, and a core install (no
``server`` extra, no FastAPI) must be able to import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rig.billing.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from rig.billing.api.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
