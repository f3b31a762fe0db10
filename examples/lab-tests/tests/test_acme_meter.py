"""Our own tests of the ACME-1P, on rig's bench fixtures and rig.testing's doubles."""

from __future__ import annotations

from decimal import Decimal

from rig.load import ElectronicLoad
from rig.meter.dlt645.client import Dlt645Client
from rig.meter.dlt645.frame import Frame, encode_frame
from rig.testing import ScriptedInstrument, ScriptedSerial

OUR_ADDRESS = "000000002024"


def test_the_bench_runs_our_profile(meter_profile, bench_config) -> None:
    assert meter_profile.name == "acme-1p-money"
    assert meter_profile.identity.maker == "ACME Metering"
    assert bench_config.station_id == "ACME-LAB-EMU"


def test_our_meter_answers_on_the_emulated_bench(bench) -> None:
    assert bench.meter.read_address() == OUR_ADDRESS
    assert bench.identity["meter_profile"] == "acme-1p-money"
    assert "public test key" in bench.identity["master_key"]  # an emulated bench's key
    bench.load.set_power(Decimal(500))
    bench.load.input_on()
    bench.load.input_off()


def test_our_load_dialect_exact_scpi() -> None:
    instrument = ScriptedInstrument([
        # each setting command is checked with *ESR? (IEEE 488.2): 0 means no error bit set
        ("*IDN?", "ACME,LOAD-9,0001,1.0"), ("*CLS", None), ("*ESR?", "0"),
        ("INP OFF", None), ("*ESR?", "0"),
    ])
    with ElectronicLoad.open(instrument.resource, dialect="generic-scpi",
                             timeout_ms=1000) as load:
        assert load.idn == "ACME,LOAD-9,0001,1.0"
    instrument.verify()


def test_reading_our_address_over_dlt645() -> None:
    request = bytes.fromhex("FE FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16")
    answer = encode_frame(Frame(OUR_ADDRESS, 0x93, bytes.fromhex(OUR_ADDRESS)[::-1]))
    port = ScriptedSerial([(request, answer)])
    assert Dlt645Client(port, timeout=0.1).read_address() == OUR_ADDRESS
    port.assert_done()
