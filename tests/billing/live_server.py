"""A real uvicorn server on a free loopback port, in a thread of the test process."""

from rig.billing.api.in_thread import serving

__all__ = ["serving"]
