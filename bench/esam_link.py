"""What the ESAM's APDU layer costs: each ESAM operation called on the emulated chip directly
vs over the meter's chip bus (EsamLink -> APDU -> EsamCommands -> Esam), and a whole esam-cpu
card session in the meter, in process, with its count of ESAM exchanges.

Run from the repo root: ``.venv/bin/python bench/esam_link.py [N]``.

The direct and the bus calls take turns (one of each per round) so both see the same machine
state; the figure is the median of N rounds, in microseconds, and the ratio bus/direct. The
card session is a purchase card inserted into a fresh meter (in-process card slot, no pcscd),
its median time beside the State Grid–style 3 s deadline. Prints a table and, last, one line
of flat JSON (name -> number).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from rig.card.keys import lab_test_key
from rig.card.trace import ApduTrace, TracedTransport
from rig.card_formats.esam_cpu.card import CardSlot
from rig.card_formats.esam_cpu.format import ESAM_CPU
from rig.card_formats.interface import MasterKeys, Purchase
from rig.esam.esam import Esam
from rig.esam.keys import KeyId, KeyState, LabKeyService, card_factor
from rig.esam.link import ESAM_TERMINAL, EsamLink
from rig.profile import load_profile
from rig.sim.meter_firmware import commissioned_esam
from rig.sim.prepaid import PrepaidEngine

PROFILE = "dlt645-1p-cpu-card"
CARD = "5E5E5E5E5E5E5E01"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _median_us(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def _pair(direct: Callable[[], object], bus: Callable[[], object], n: int) -> tuple[float, float]:
    d: list[float] = []
    b: list[float] = []
    for _ in range(n):
        for call, out in ((direct, d), (bus, b)):
            t = time.perf_counter()
            call()
            out.append(time.perf_counter() - t)
    return _median_us(d), _median_us(b)


def operations(n: int) -> dict[str, tuple[float, float]]:
    esam = Esam.manufactured("000000001365", bytes(8))
    link = EsamLink.emulated(esam)
    lab = LabKeyService(bytes(range(32)), "bench")
    challenge = bytes(8)
    answer = lab.cryptogram(KeyId.CARD_INTERNAL, KeyState.PUBLIC, card_factor(CARD), challenge)
    data = bytes(90)
    return {
        "get challenge": _pair(lambda: esam.challenge(8), lambda: link.challenge(8), n),
        "verify card": _pair(lambda: esam.check_card(CARD, challenge, answer),
                             lambda: link.check_card(CARD, challenge, answer), n),
        "card MAC (90 bytes)": _pair(
            lambda: esam.card_mac(KeyId.CARD_RETURN, CARD, data, challenge),
            lambda: link.card_mac(KeyId.CARD_RETURN, CARD, data, challenge), n),
        "key state": _pair(lambda: esam.key_state, lambda: link.key_state, n),
    }


def card_session(n: int) -> tuple[float, int]:
    """Median seconds of one accepted purchase insertion, and its ESAM exchanges."""
    profile = load_profile(PROFILE)
    writer = ESAM_CPU.station_writer(MasterKeys(lab_test_key()))
    times: list[float] = []
    exchanges = 0
    for _ in range(n):
        card = ESAM_CPU.blank_card()
        writer.personalise(CardSlot(card), card_serial=CARD, meter_no=profile.protocol.address,
                           key_revision=1)
        writer.write_purchase(CardSlot(card), Purchase(
            meter_no=profile.protocol.address, card_serial=CARD, sequence=1, credit=2000,
            credit_unit="money_cents", tariff_version=0, price_per_kwh=Decimal(0),
            key_revision=1))
        esam = commissioned_esam(profile, lab_test_key())
        reader = ESAM_CPU.meter_reader(PrepaidEngine(profile), profile.protocol.address,
                                       MasterKeys(lab_test_key(), None, esam), key_revision=1)
        trace = ApduTrace()
        t = time.perf_counter()
        outcome = reader.insert(TracedTransport(CardSlot(card), trace, "meter"), NOW)
        times.append(time.perf_counter() - t)
        assert outcome.accepted, outcome.message
        exchanges = sum(e.terminal == ESAM_TERMINAL for e in trace.entries)
    return statistics.median(times), exchanges


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    ops = operations(n)
    print(f"{'ESAM operation':24} {'direct µs':>10} {'over the bus µs':>16} {'ratio':>6}")
    figures: dict[str, float] = {}
    for name, (direct, bus) in ops.items():
        ratio = round(bus / direct, 2) if direct else 0.0
        print(f"{name:24} {direct:10.1f} {bus:16.1f} {ratio:6.2f}")
        key = name.split(" (")[0].replace(" ", "_")
        figures[f"{key}_direct_us"], figures[f"{key}_bus_us"] = direct, bus
        figures[f"{key}_ratio"] = ratio
    session, exchanges = card_session(max(5, n // 100))
    print(f"card session in the meter (in process): {session * 1000:.2f} ms, "
          f"{exchanges} ESAM exchanges (deadline 3 s)")
    figures["card_session_ms"] = round(session * 1000, 2)
    figures["card_session_esam_exchanges"] = exchanges
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
