"""A supply cut at a chosen moment of a card session (rig.sim.supply_cut, the bench's
`meter_power` op with `during`): what the meter kept, what the card holds, and that the
purchase is applied exactly once when the card comes back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rig.card.session import CardSession, DirectTransport
from rig.card_formats.sle4442.card import VirtualSLE4442
from rig.card_formats.sle4442.chip import EC_FULL, FACTORY_PSC, UPDATE_MAIN, verify_psc
from rig.profile import load_profile
from rig.sim.emulated_bench import EmulatedBench
from rig.sim.supply_cut import CUT_MOMENTS, CuttingTransport, SupplyCut

from .test_firmware_events import card_with_a_purchase
from .test_firmware_protocols import Bench

# after the cut and power-up: (purchase applied, readback slots the card has under the meter's key)
KEPT = {"after check": (False, 0), "during credit transfer": (True, 0),
        "during readback write": (True, 0)}


@pytest.mark.parametrize("moment", CUT_MOMENTS)
def test_cut_at_each_moment_applies_the_purchase_exactly_once(moment: str) -> None:
    b = Bench("dlt645-1p-money")
    try:
        card, station = card_with_a_purchase(b)
        b.meter.armed_cut = moment  # type: ignore[assignment]
        cut = b.meter.insert_card(DirectTransport(card))
        assert not cut.accepted and "power failed" in cut.message and moment in cut.message
        assert not b.meter.powered and b.meter.armed_cut is None
        b.meter.power_up()
        e = b.meter.engine
        applied, valid_slots = KEPT[moment]
        assert e.remaining == (Decimal("20.00") if applied else 0)
        assert e.last_sequence == (1 if applied else 0)
        card.reset()
        key = b.meter.terminal.readback_mac_key
        slots = CardSession(DirectTransport(card)).readback_slots(key)
        assert sum(s is not None for s in slots) == valid_slots  # torn or never written
        card.reset()
        again = b.meter.insert_card(DirectTransport(card))
        assert again.accepted, again.message
        assert e.remaining == Decimal("20.00") and e.purchase_count == 1 and e.relay_closed
        card.reset()
        readback = station.read_readback(DirectTransport(card))
        assert readback.fields["last_sequence"] == 1
        assert readback.fields["power_down_count"] == 1
    finally:
        b.close()


def test_bench_refuses_an_unknown_moment_naming_the_known_ones() -> None:
    bench = EmulatedBench(load_profile("dlt645-1p-money"))  # the control server answers the
    with pytest.raises(ValueError) as refused:  # exception as {"ok": false, "error": ...}
        bench._on_control({"op": "meter_power", "on": False, "during": "at lunch"})
    assert str(refused.value) == "unknown supply cut moment 'at lunch' (one of: after check, " \
                                 "during credit transfer, during readback write)"
    assert bench.meter.powered and bench.meter.armed_cut is None


@pytest.mark.parametrize("moment", CUT_MOMENTS)
def test_cut_on_a_memory_cards_chip_bus_lands_at_the_same_moments(moment: str) -> None:
    """A memory-card meter talks to the chip in its own 3-byte commands: the check ends with
    the PSC verified, the credit transfer with the next command, and the readback write is
    torn after its first byte."""
    card = VirtualSLE4442()
    cut = CuttingTransport(card.meter_slot(), moment)  # type: ignore[arg-type]

    def bus(control: int, address: int, data: int = 0) -> bytes:
        return cut.transmit(bytes([control, address, data]))

    if moment == "after check":
        with pytest.raises(SupplyCut, match="after check"):
            verify_psc(bus, FACTORY_PSC)
        return
    assert verify_psc(bus, FACTORY_PSC) == EC_FULL  # the check: nothing cut yet
    with pytest.raises(SupplyCut, match=moment):
        bus(UPDATE_MAIN, 200, 0x55)
    assert card.chip.main[200] == (0x55 if moment == "during readback write" else 0xFF)
