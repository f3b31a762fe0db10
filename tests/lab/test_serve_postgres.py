"""`rig billing serve` on PostgreSQL (uvicorn in its own process, real TCP) with several HTTP
stations vending to the same meters at once: every sequence issued once, none skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rig.billing import open_billing
from rig.station import loadgen
from tests.lab.service import served_centre, station_cashiers
from tests.lab.stations import run_stations

STATIONS = [f"DESK-{i}" for i in range(4)]
METERS = loadgen.meter_numbers(3)
STEPS = 6


def test_concurrent_http_stations_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    with open_billing(pg_url) as centre:
        loadgen.prepare(centre, meters=METERS, stations=STATIONS)
    cashiers = station_cashiers(pg_url, STATIONS)  # what each counter station holds
    with served_centre(pg_url, tmp_path) as served:
        made, _ = run_stations(served.url, cashiers, STATIONS, lambda _: METERS, STEPS)

    assert len(made) == len(STATIONS) * STEPS  # each presentation ended in a vend
    assert len({request_id for _, _, request_id in made}) == len(made)
    per_meter = Counter(meter for meter, _, _ in made)
    with open_billing(pg_url) as centre:
        for meter in METERS:
            ledger = sorted(v.sequence for v in centre.vends_for_meter(meter))
            # The stations raced for these meters: no sequence twice, none skipped.
            assert ledger == list(range(1, per_meter[meter] + 1)), (meter, ledger)
            assert sorted(seq for m, seq, _ in made if m == meter) == ledger
            assert centre.meter(meter).last_sequence == per_meter[meter]
        assert centre.verify_audit_chain().ok
