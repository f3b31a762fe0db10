"""IEEE 488.2 status reporting of the emulated instrument: status byte, standard event status
register and their enable registers.

Every error that enters the SCPI error queue also sets its class's bit in the standard event
status register (IEEE 488.2-1992 11.5.1; the code ranges are SCPI-1999 Vol. 2, 21.8): -1xx
command error (CME), -2xx execution error (EXE), -3xx and device-defined positive codes
device-dependent error (DDE), -4xx query error (QYE). The register powers on with PON set,
`*OPC` sets OPC, `*ESR?` reads and clears it, `*CLS` clears it. The status byte (11.2) is
computed when asked: bit 2 error/event queue not empty (SCPI-1999 Vol. 1, 9.1), bit 4 MAV
(a reply is waiting in the output queue), bit 5 ESB (an enabled event is set), bit 6 MSS (an
enabled status-byte bit is set); the questionable and operation summaries (bits 3, 7) stay 0:
the emulated load has no such conditions.
"""

from __future__ import annotations

import threading

# Standard event status register (IEEE 488.2 11.5.1.1)
OPC = 1 << 0  #: operation complete (*OPC)
RQC = 1 << 1  #: request control (not used: no GPIB controller here)
QYE = 1 << 2  #: query error
DDE = 1 << 3  #: device-dependent error
EXE = 1 << 4  #: execution error
CME = 1 << 5  #: command error
URQ = 1 << 6  #: user request (no front panel)
PON = 1 << 7  #: power on
ERROR_EVENTS = QYE | DDE | EXE | CME

# Status byte (IEEE 488.2 11.2.1, SCPI-1999 Vol. 1 9.1)
EAV = 1 << 2  #: error/event queue not empty
QUES = 1 << 3  #: questionable status summary
MAV = 1 << 4  #: message available
ESB = 1 << 5  #: event status summary
MSS = 1 << 6  #: master summary status (RQS on GPIB)
OPER = 1 << 7  #: operation status summary


def event_of_error(code: int) -> int:
    """The standard-event bit an error of `code` sets (SCPI-1999 Vol. 2, 21.8 code ranges)."""
    if -199 <= code <= -100:
        return CME
    if -299 <= code <= -200:
        return EXE
    if -499 <= code <= -400:
        return QYE
    return DDE  # -3xx device-specific, and positive device-defined codes


class StatusRegisters:
    """ESR, ESE and SRE of one instrument, shared by all its connections (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.esr = PON
        self.ese = 0
        self.sre = 0

    def event(self, bits: int) -> None:
        with self._lock:
            self.esr |= bits

    def read_esr(self) -> int:
        """`*ESR?`: the register's value; reading clears it (IEEE 488.2 10.12)."""
        with self._lock:
            value, self.esr = self.esr, 0
            return value

    def clear(self) -> None:
        """`*CLS`: clears the event register; the enable registers keep their values."""
        with self._lock:
            self.esr = 0

    def status_byte(self, *, queue_not_empty: bool, message_available: bool) -> int:
        """`*STB?`: bits 0-5 and 7 as they are now, bit 6 MSS; reading clears nothing."""
        with self._lock:
            stb = (EAV if queue_not_empty else 0) | (MAV if message_available else 0)
            if self.esr & self.ese:
                stb |= ESB
            if stb & self.sre & ~MSS:
                stb |= MSS
            return stb
