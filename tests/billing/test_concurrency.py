"""Several vending stations — threads and separate processes, each with its own engine — vend
for the same meters at once on one SQLite file while bank statements are imported: no
duplicate and no gap in any meter's purchase sequence, and no bank payment applied twice."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

from rig.billing import open_billing
from rig.billing.bank import import_statement, payments
from rig.station import loadgen

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")
STATIONS = ["T1", "T2", "P1", "P2"]


def statement(path: Path, meters: list[str], first: int, count: int) -> Path:
    rows = [f"PAY-{k},2024-01-02,{k % 7 + 1}.{k % 100:02d},EUR,{meters[k % len(meters)]}"
            for k in range(first, first + count)]
    path.write_text("entry_ref,booking_date,amount,currency,reference\n" + "\n".join(rows) + "\n")
    return path


def importer(url: str, files: list[Path]) -> int:
    centre = open_billing(url)
    try:
        return sum(len(import_statement(centre, f).matched) for f in files)
    finally:
        centre.close()


def test_threads_and_processes_share_meters_and_bank_payments(billing_url, tmp_path) -> None:
    url = billing_url
    meters = loadgen.meter_numbers(3)
    with open_billing(url) as centre:
        loadgen.prepare(centre, meters=meters, stations=STATIONS)
        import_statement(centre, statement(tmp_path / "s1.csv", meters, 0, 12))
    s2 = statement(tmp_path / "s2.csv", meters, 12, 9)
    s1 = tmp_path / "s1.csv"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(3, mp_context=spawn) as procs, ThreadPoolExecutor(3) as threads:
        futures = [procs.submit(loadgen.run_station, url, st, meters, 15, k)
                   for k, st in enumerate(STATIONS) if st.startswith("P")]
        futures += [threads.submit(loadgen.run_station, url, st, meters, 15, k)
                    for k, st in enumerate(STATIONS) if st.startswith("T")]
        # the same statements imported again, concurrently, from another process and a thread
        imports = [procs.submit(importer, url, [s2, s1]), threads.submit(importer, url, [s2, s1])]
        made = [v for f in futures for v in f.result()]
        imported = sorted(f.result() for f in imports)
    assert imported == [0, 9]  # exactly one of the two importers recorded the new statement
    with open_billing(url) as centre:
        for no in meters:  # a last presentation drains payments imported late in the run
            loadgen.present(centre, no, request_id=f"drain-{no}", amount=Decimal("1.00"),
                            station="T1")
        for no in meters:
            vends = centre.vends_for_meter(no)
            seqs = [v.sequence for v in vends]
            assert seqs == list(range(1, len(seqs) + 1)), f"meter {no}: {seqs}"
            assert centre.meter(no).last_sequence == len(seqs)
            mine = sorted(s for m_, s, _, _ in made if m_ == no)
            assert mine == [v.sequence for v in vends if not v.request_id.startswith("drain")]
        assert Counter(r for _, _, r, _ in made).most_common(1)[0][1] == 1
        paid = payments(centre)
        assert len(paid) == 21 and {p.status for p in paid} == {"vended"}
        by_vend: dict[int, Decimal] = {}
        for p in paid:
            by_vend[p.vend_id] = by_vend.get(p.vend_id, Decimal(0)) + p.amount  # type: ignore[index]
        bank_vends = {v.vend_id: v for no in meters for v in centre.vends_for_meter(no)
                      if v.tender == "bank"}
        assert set(by_vend) == set(bank_vends)
        for vid, total in by_vend.items():
            assert bank_vends[vid].amount == total  # each payment is in exactly one vend
        assert sum(by_vend.values()) == sum(p.amount for p in paid)
        assert any(t == "bank" for *_, t in made) and any(t == "cash" for *_, t in made)
        assert centre.verify_audit_chain().ok
