"""A real uvicorn server on a free loopback port, in a thread of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from rig.billing import BillingCentre
from rig.billing.api import create_app


@contextmanager
def serving(centre: BillingCentre) -> Iterator[str]:
    """Serve ``centre`` over TCP (port chosen by the OS); yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(centre), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="billing-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the billing API server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
