"""rig.testing's public doubles catch a conversation that leaves the script."""

from __future__ import annotations

import pytest

from rig.errors import InstrumentError
from rig.load import ElectronicLoad
from rig.meter.dlt645.client import Dlt645Client
from rig.testing import ScriptedInstrument, ScriptedSerial


def test_scripted_instrument_reports_an_unexpected_command() -> None:
    instrument = ScriptedInstrument([("*IDN?", "rig,SimLoad-AC,SIM0001,0.1.0"),
                                     ("*RST", None)])
    with pytest.raises(InstrumentError), ElectronicLoad.open(instrument.resource,
                                                            timeout_ms=300):
        pass
    with pytest.raises(AssertionError, match=r"step 2: expected '\*RST', got '\*CLS'"):
        instrument.verify()


def test_scripted_serial_fails_on_other_bytes_and_on_a_short_conversation() -> None:
    port = ScriptedSerial([(b"\x01\x02", b"")])
    with pytest.raises(AssertionError, match="client wrote 01 03\n     expected 01 02"):
        port.write(b"\x01\x03")
    port = ScriptedSerial([(b"\xfe", b""), (b"\xff", b"")])
    port.write(b"\xfe")
    with pytest.raises(AssertionError, match="1 scripted exchange"):
        port.assert_done()
    client = Dlt645Client(ScriptedSerial([]), timeout=0.05, retries=0)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="script exhausted"):
        client.read_address()
