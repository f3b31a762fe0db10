"""REST API of the billing centre (FastAPI): ``create_app(centre)``; ``rig billing serve``."""

from rig.billing.api.app import create_app

__all__ = ["create_app"]
