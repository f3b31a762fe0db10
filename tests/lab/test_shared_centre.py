"""The certification suite on two pytest-xdist workers, one emulated bench each, sharing one
billing centre served on PostgreSQL: no cross-talk between the benches' meters."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from rig.billing import open_billing
from rig.profile import available_profiles, load_profile
from tests.lab.service import REPO, child_env, served_centre

# Requirements that register a meter and vend one to three times each, and one that needs the
# centre on bench time (skipped: a served centre keeps real time), on one profile of each card
# format the centre reads readbacks of (rigpp on IEC 62056 with energy credit, SLE 4442, the
# ESAM CPU card); every profile runs the whole suite on its own centre elsewhere. All six
# profiles cost this test 30 s of CPU, half of it in more of the same vends.
PROFILES = ("iec62056-1p-energy", "dlt645-1p-memory-card", "dlt645-1p-cpu-card")
SELECTION = (f"(buy_and_insert or replayed or reconciliation or tariff_change) and "
             f"({' or '.join(PROFILES)})")


def test_two_workers_share_one_served_centre(pg_url: str, tmp_path: Path) -> None:
    with served_centre(pg_url, tmp_path) as served:
        bench = tmp_path / "lab-bench.toml"
        bench.write_text(f'kind = "emulated"\ntime_scale = 36000.0\n\n[billing]\n'
                         f'url = "{served.url}"\ntoken_file = "{served.token_file}"\n')
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-rs", "-p", "no:cacheprovider", "-n", "2",
             "--bench", str(bench), "--alluredir", str(tmp_path / "allure"),
             "rig/suites/certification", "-k", SELECTION],
            cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=900)
    output = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, output
    workers = set(re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED", run.stdout))
    assert workers == {"gw0", "gw1"}, output  # both workers ran tests, each on its own bench
    counts = re.search(r"(\d+) passed, (\d+) skipped", run.stdout)
    assert set(PROFILES) <= set(available_profiles())
    expected = 3 * len(PROFILES)
    assert counts is not None, output
    assert (int(counts[1]), int(counts[2])) == (expected, len(PROFILES)), output
    assert "keeps its own clock" in run.stdout, output  # the -rs skip reason

    defaults = {load_profile(name).protocol.address for name in PROFILES}
    with open_billing(pg_url) as centre:
        meters = centre.meters()
        # One meter per test, each under its own address, none under a profile's default.
        assert len(meters) == expected
        assert not defaults & {m.meter_no for m in meters}
        for meter in meters:
            sequences = sorted(v.sequence for v in centre.vends_for_meter(meter.meter_no))
            assert sequences == list(range(1, meter.last_sequence + 1)), meter.meter_no
            assert meter.last_sequence >= 1, meter.meter_no
        # The reconciliation requirement vends three times per meter.
        assert sorted(m.last_sequence for m in meters).count(3) >= len(PROFILES)
        report = centre.verify_audit_chain()
        assert report.ok, report
