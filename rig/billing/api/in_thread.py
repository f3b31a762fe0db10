"""The REST API served by uvicorn in a thread of this process, on a loopback port the OS picks.

For what must reach the centre over real TCP from the same process: the API fuzz campaign
(rig.faults.api_fuzz) and the test suite's served-centre tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from rig.billing.api.app import create_app
from rig.billing.centre import BillingCentre


@contextmanager
def serving(centre: BillingCentre, *, log_level: str = "warning") -> Iterator[str]:
    """Serve ``centre`` over TCP (port chosen by the OS); yields the base URL."""
    server = uvicorn.Server(uvicorn.Config(create_app(centre), host="127.0.0.1", port=0,
                                           log_level=log_level))
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
