"""rig's client of a labgrid coordinator: places, reservations, acquire and release.

labgrid's own client session (gRPC) runs on an event loop in a background thread, so the
coordinator's keep-alive pings are answered while the job drives its bench for hours. labgrid
is imported here only, and only when a lab is used (`rig[lab]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from rig.errors import RigError
from rig.extras import require

T = TypeVar("T")
# A bench host starts its exporter (fork + exec) while this client's gRPC threads run; gRPC's
# fork handlers then only warn and can break its poller. Set before gRPC is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

DEFAULT_COORDINATOR = "127.0.0.1:20408"  # labgrid's default; $LG_COORDINATOR overrides it


class LabError(RigError):
    """The coordinator refused or could not be reached; the message names place and cause."""


def coordinator_address(given: str | None = None) -> str:
    """The coordinator to use: the one given, else $LG_COORDINATOR (labgrid's own variable)."""
    return given or os.environ.get("LG_COORDINATOR") or DEFAULT_COORDINATOR


@dataclass(frozen=True)
class Resource:
    """One exported resource of an acquired place, as the coordinator relays it."""

    name: str  # the resource's name in its exporter group ("meter", "load", ...)
    cls: str  # labgrid class: NetworkSerialPort (ser2net), or rig's RigLoad, RigCardRelay...
    params: Mapping[str, Any]
    avail: bool
    exporter: str


@dataclass(frozen=True)
class QueueState:
    """A waiting reservation: its position among those waiting for the same places."""

    position: int  # 1: next to be served
    waiting: int  # reservations waiting for the same places, this one included
    holders: tuple[str, ...]  # who holds the places it asks for (host/user)


class LabClient:
    """One session with the coordinator at `address` (HOST[:PORT]); close() ends it."""

    def __init__(self, address: str | None = None, timeout: float = 30.0) -> None:
        client = require("lab", "labgrid.remote.client", "a lab place")
        self._pb2 = require("lab", "labgrid.remote.generated.labgrid_coordinator_pb2",
                            "a lab place")
        self._common = require("lab", "labgrid.remote.common", "a lab place")
        self._grpc = require("lab", "grpc", "a lab place")
        self.address = coordinator_address(address)
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-session",
                                        daemon=True)
        self._thread.start()
        proxies = require("lab", "labgrid.util.proxy", "a lab place")

        async def start() -> Any:
            # gRPC's aio channel belongs to the loop it is made on: make it on ours.
            grpc_address = proxies.proxymanager.get_grpc_address(self.address,
                                                                 default_port=20408)
            session = client.ClientSession(grpc_address, self._loop)
            await session.start()
            return session

        quiet = _NotLabgrid()  # its "coordinator is unavailable": said once, below
        logging.getLogger().addFilter(quiet)
        try:
            self.session = self._run(start(), "connect")
        except Exception as e:
            self._stop_loop()
            raise LabError(f"labgrid coordinator {self.address} not reachable: {e}") from None
        finally:
            logging.getLogger().removeFilter(quiet)

    @property
    def user(self) -> str:
        """Who this session is to the coordinator (host/user; $LG_HOSTNAME, $LG_USERNAME)."""
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    def _run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.timeout)
        except self._grpc.aio.AioRpcError as e:
            raise LabError(f"{what}: the coordinator {self.address} refused: "
                           f"{e.details()}") from None
        except TimeoutError:
            future.cancel()
            raise LabError(f"{what}: no answer from the coordinator {self.address} within "
                           f"{self.timeout:g} s") from None

    def _call(self, rpc: str, what: str, **request: Any) -> Any:
        message = getattr(self._pb2, f"{rpc}Request")(**request)

        async def call() -> Any:  # the call object, too, must be made on the session's loop
            return await getattr(self.session.stub, rpc)(message)

        return self._run(call(), what)

    def sync(self) -> None:
        """Wait until this session has seen every change the coordinator made so far."""
        if not self._run(self.session.sync_with_coordinator(), "sync"):
            raise LabError(f"lost the labgrid coordinator {self.address}")

    # -- places ----------------------------------------------------------------------
    def places(self) -> dict[str, Any]:
        """Every place by name (labgrid's Place objects: tags, acquired, reservation)."""
        self.sync()
        return dict(self.session.places)

    def place(self, name: str) -> Any:
        places = self.places()
        if name not in places:
            raise LabError(f"no place {name!r} on the coordinator {self.address} (places: "
                           f"{', '.join(sorted(places)) or 'none'})")
        return places[name]

    def ensure_place(self, name: str, exporter: str, tags: Mapping[str, str]) -> None:
        """Create place `name` if missing, matching the exporter group of the same name, and
        set its tags (an administrator's step; a bench host does it when it starts)."""
        places = self.places()
        if name not in places:
            self._call("AddPlace", f"add place {name}", name=name)
        pattern = f"{exporter}/{name}/*"
        current = places.get(name)
        if current is None or (exporter, name, "*") not in {
                (m.exporter, m.group, m.cls) for m in current.matches}:
            self._call("AddPlaceMatch", f"match place {name}", placename=name, pattern=pattern)
        self._call("SetPlaceTags", f"tag place {name}", placename=name, tags=dict(tags))
        self.sync()

    def acquire(self, place: str) -> None:
        self._call("AcquirePlace", f"acquire place {place}", placename=place)
        self.sync()

    def release(self, place: str) -> None:
        """Release `place`, whoever holds it (labgrid's `release --kick` does the same)."""
        self._call("ReleasePlace", f"release place {place}", placename=place)
        self.sync()

    def resources(self, place: str) -> dict[str, Resource]:
        """The resources `place` acquired, by name; LabError if its exporter is gone."""
        found: dict[str, Resource] = {}
        for exporter, group, cls, name in self.place(place).acquired_resources:
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(name)
            if entry is None or not entry.data:
                raise LabError(f"place {place}: resource {exporter}/{group}/{cls}/{name} is "
                               f"gone (is the exporter {exporter} running?)")
            found[name] = Resource(name, entry.cls, dict(entry.params), bool(entry.avail),
                                   exporter)
        return found

    def exported_groups(self, exporter: str) -> set[str]:
        """The resource groups (places) `exporter` has announced with resources in them."""
        self.sync()
        groups = self.session.resources.get(exporter, {})
        return {g for g, res in groups.items() if any(r.data for r in res.values())}

    # -- reservations -----------------------------------------------------------------
    def reserve(self, tags: Mapping[str, str], prio: float = 0.0) -> str:
        """A reservation of any one place whose tags include `tags`; returns its token."""
        f = self._pb2.Reservation.Filter(filter=dict(tags))
        reply = self._call("CreateReservation", f"reserve {_tags(tags)}",
                           filters={"main": f}, prio=prio)
        return str(reply.reservation.token)

    def poll(self, token: str) -> tuple[str, str | None]:
        """(state, allocated place) of reservation `token`; polling keeps it alive."""
        reply = self._call("PollReservation", "poll reservation", token=token)
        res = self._common.Reservation.from_pb2(reply.reservation)
        allocated = res.allocations.get("main") or []
        return str(res.state.name), (allocated[0] if allocated else None)

    def queue(self, token: str) -> QueueState:
        """Where reservation `token` waits: its place among those asking for the same tags
        (labgrid serves them by priority, then age) and who holds those places now."""
        reply = self._call("GetReservations", "list reservations")
        reservations = [self._common.Reservation.from_pb2(r) for r in reply.reservations]
        mine = next((r for r in reservations if r.token == token), None)
        if mine is None:
            raise LabError(f"reservation {token} is gone (expired?)")
        wanted = mine.filters.get("main", {})
        same = sorted((r for r in reservations if r.filters.get("main", {}) == wanted
                       and r.state.name == "waiting"), key=lambda r: (-r.prio, r.created))
        holders = tuple(sorted({str(p.acquired) for p in self.places().values()
                                if p.acquired and wanted.items() <= p.tags.items()}))
        position = next((i for i, r in enumerate(same, 1) if r.token == token), 0)
        return QueueState(position, len(same), holders)

    def cancel(self, token: str) -> None:
        with contextlib.suppress(LabError):  # already gone (expired) is fine
            self._call("CancelReservation", "cancel reservation", token=token)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.session.stop(), "stop")
            self._run(self.session.close(), "close")
        self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()

    def __enter__(self) -> LabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _NotLabgrid(logging.Filter):
    """Drop what labgrid's client logs on the root logger (while connecting)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "labgrid" not in record.pathname


def _tags(tags: Mapping[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(tags.items()))
