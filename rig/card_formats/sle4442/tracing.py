"""A transport that records the pseudo-APDUs it carries into an APDU trace, PSCs cut out."""

from __future__ import annotations

import time

from rig.card.session import ApduTransport
from rig.card.trace import ApduTrace

SECRET_INS = frozenset({0x20, 0xD2})  # PRESENT/VERIFY PSC, CHANGE PSC: the data is the PSC


class TracedTransport:
    def __init__(self, transport: ApduTransport, trace: ApduTrace, dialect: str) -> None:
        self.transport = transport
        self.trace = trace
        self.name = f"{getattr(transport, 'name', 'card')} [{dialect}]"

    def transmit(self, apdu: bytes) -> bytes:
        started = time.monotonic()
        response = self.transport.transmit(apdu)
        secret = len(apdu) > 1 and apdu[1] in SECRET_INS
        self.trace.record(apdu, response, terminal=self.name, secret=secret, started=started,
                          duration=time.monotonic() - started)
        return response
