"""Fault campaigns: per fault class, how many cases were tried and how many lost or duplicated
credit (the goal is 0), plus what the serial checksum let through.

Run from the repo root: ``.venv/bin/python bench/faults.py [--cycles N] [--replies N]``.
Serial classes run full prepaid cycles on emulated benches (one vpcd reader each, queued);
card classes run every tear point and every flipped bit in-process; instrument faults run
the cycle with the load failing mid-test. docs/faults.md says what each figure means.
Prints a table and, last, one line of flat JSON (name -> number) for CI to parse.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from rig.bench.serial_proxy import SerialFaults
from rig.card_formats.tearing import TearingFigures
from rig.faults import card_corruption, card_tearing
from rig.faults.api_fuzz import run_api_fuzz
from rig.faults.billing_kill import run_kill_campaign
from rig.faults.instrument_campaign import CASES, run_instrument_case
from rig.faults.serial_audit import checksum_escapes
from rig.faults.serial_campaign import run_serial_case

DLT645, IEC = "dlt645-1p-money", "iec62056-1p-energy"
# class -> (meter profile, fault rates for a seed, description)
SERIAL_CLASSES: dict[str, tuple[str, Callable[[int], SerialFaults], str]] = {
    "serial_corrupt": (DLT645, lambda seed: SerialFaults(corrupt=0.01, seed=seed),
                       "1% of bytes: one bit flipped"),
    "serial_drop": (DLT645, lambda seed: SerialFaults(drop=0.01, seed=seed),
                    "1% of bytes dropped"),
    "serial_duplicate": (DLT645, lambda seed: SerialFaults(duplicate=0.01, seed=seed),
                         "1% of bytes sent twice"),
    "serial_delay": (DLT645, lambda seed: SerialFaults(delay_rate=0.2, delay_ms=150, seed=seed),
                     "20% of chunks held 150 ms"),
    # A mode C readout is ~300 characters per value read: at 1% it arrives intact ~5% of the
    # time, so the IEC profile is run at 0.1% (docs/faults.md).
    "serial_corrupt_iec": (IEC, lambda seed: SerialFaults(corrupt=0.001, seed=seed),
                           "IEC 62056-21, 0.1% of bytes: one bit flipped"),
}

Row = tuple[str, int, int | None, int | None, str]  # class, cases, lost, duplicated, notes


def serial_rows(cycles: int, out: dict[str, int]) -> list[Row]:
    rows: list[Row] = []
    for name, (profile, make, description) in SERIAL_CLASSES.items():
        cases = [run_serial_case(make(seed), retries=10, timeout_s=0.3, profile_name=profile)
                 for seed in range(1, cycles + 1)]
        figures = {
            "cases": len(cases),
            "completed": sum(c.completed for c in cases),
            "lost": sum(c.lost > 0 for c in cases),
            "duplicated": sum(c.duplicated > 0 for c in cases),
            "bytes": sum(c.counts.bytes_passed for c in cases),
            "bytes_faulted": sum(c.counts.corrupted + c.counts.dropped + c.counts.duplicated
                                 for c in cases),
            "chunks_delayed": sum(c.counts.delayed_chunks for c in cases),
            "forged_frames": sum(c.forged_to_meter + c.forged_to_rig for c in cases),
            "partial_frames_discarded": sum(c.partial_frames_discarded for c in cases),
        }
        out |= {f"{name}_{k}": v for k, v in figures.items()}
        errors = sorted({f"{type(c.error).__name__}: {c.error}"[:90] for c in cases if c.error})
        note = (f"{description}; {figures['completed']}/{len(cases)} cycles "
                f"balanced; {figures['bytes_faulted'] or figures['chunks_delayed']} faults in "
                f"{figures['bytes']} bytes")
        if all(c.audited for c in cases):
            note += (f"; {figures['forged_frames']} forged frames passed the checksum; "
                     f"{figures['partial_frames_discarded']} half frames dropped by the meter")
        else:
            del out[f"{name}_forged_frames"], out[f"{name}_partial_frames_discarded"]
        if errors:
            note += "; errors: " + " | ".join(errors)
        rows.append((name, len(cases), figures["lost"], figures["duplicated"], note))
    return rows


def checksum_row(replies: int, out: dict[str, int]) -> Row:
    f = checksum_escapes(replies, SerialFaults(corrupt=0.01, seed=1))
    out |= {"serial_checksum_replies": f.replies, "serial_checksum_corrupted": f.corrupted,
            "serial_checksum_passed": f.passed_checksum,
            "serial_checksum_value_forged": f.value_forged,
            "serial_checksum_value_accepted": f.value_accepted}
    note = (f"replies at 1% bit flips: {f.corrupted} corrupted, {f.passed_checksum} passed the "
            f"checksum, {f.value_forged} kept address/C/DI, {f.value_accepted} decoded as a "
            "wrong value by a single read (the rig reads twice where it matters)")
    return ("serial_checksum", f.replies, None, None, note)  # a line count, not credit


# The card formats the card campaigns run on (each through the format interface), and the
# suffix of their JSON names: RIGPP's keep the names they had before formats were plugins.
CARD_FORMATS = {"rigpp": "", "sle4442": "_sle4442"}


def card_rows(out: dict[str, int]) -> list[Row]:
    rows: list[Row] = []
    campaigns: dict[str, tuple[TearingFigures, str]] = {}
    for fmt, suffix in CARD_FORMATS.items():
        tearing = card_tearing.run_tearing_campaign(card_format_name=fmt)
        campaigns[f"card_tearing_write{suffix}"] = (
            tearing["purchase_write"],
            f"{fmt}: purchase write torn at every exchange boundary and write prefix")
        campaigns[f"card_tearing_meter{suffix}"] = (tearing["meter_session"],
                                                    f"{fmt}: meter apply/readback torn likewise")
        campaigns[f"card_corruption{suffix}"] = (
            card_corruption.run_corruption_campaign(card_format_name=fmt),
            f"{fmt}: every bit of every data region (EFs / memory blocks)")
    campaigns |= sle4442_tearing()
    campaigns |= esam_cpu_tearing()
    for name, (f, what) in campaigns.items():
        out |= {f"{name}_cases": f.cases, f"{name}_lost": f.lost,
                f"{name}_duplicated": f.duplicated, f"{name}_unrecovered": f.unrecovered}
        rows.append((name, f.cases, f.lost, f.duplicated, f"{what}; {f.unrecovered} unrecovered"))
    return rows


def sle4442_tearing() -> dict[str, tuple[TearingFigures, str]]:
    """The SLE 4442 memory-card format's own campaign: its writes cut after every byte (both
    dialects), through the real prepaid engine."""
    from rig.card_formats.sle4442 import tearing
    from rig.profile import load_profile
    from rig.sim.prepaid import PrepaidEngine

    def wallet() -> PrepaidEngine:
        return PrepaidEngine(load_profile(DLT645))

    out: dict[str, tuple[TearingFigures, str]] = {}
    for dialect in ("acs", "omnikey"):
        out[f"card_tearing_sle4442_{dialect}_write"] = (
            tearing.purchase_write_campaign(wallet, dialect),
            f"SLE 4442 purchase block ({dialect}) torn after every byte")
    out["card_tearing_sle4442_meter"] = (tearing.readback_write_campaign(wallet),
                                         "SLE 4442 meter readback torn after every byte")
    return out


def esam_cpu_tearing() -> dict[str, tuple[TearingFigures, str]]:
    """The esam-cpu format's sessions (station's purchase write, meter's insertion with its
    ESAM) pulled before every command, through the real prepaid engine."""
    from rig.card_formats.esam_cpu import tearing
    from rig.profile import load_profile
    from rig.sim.prepaid import PrepaidEngine

    def wallet() -> PrepaidEngine:
        return PrepaidEngine(load_profile("dlt645-1p-cpu-card"))

    out: dict[str, tuple[TearingFigures, str]] = {}
    for name, campaign, what in (
            ("write", tearing.purchase_write_campaign, "purchase write"),
            ("meter", tearing.meter_session_campaign, "meter insertion (ESAM, return-write)")):
        out[f"card_tearing_esam_cpu_{name}"] = (
            campaign(wallet), f"esam-cpu {what} pulled before every command")
    return out


def instrument_row(out: dict[str, int]) -> Row:
    cases = [run_instrument_case(phase, fault) for phase, fault in CASES]
    figures = {
        "cases": len(cases),
        "clear_errors": sum(c.clear_error for c in cases),
        "load_left_on": sum(c.load_left_on for c in cases),
        "load_left_on_unreported": sum(c.left_on_unreported for c in cases),
        "lost": sum(c.credit_lost > 0 for c in cases),
        "duplicated": sum(c.credit_duplicated > 0 for c in cases),
    }
    out |= {f"instrument_{k}": v for k, v in figures.items()}
    note = (f"drop/error/hang at load phases; {figures['clear_errors']} errors naming the "
            f"resource; load left on {figures['load_left_on']} (hung load, logged), "
            f"{figures['load_left_on_unreported']} unreported")
    return ("instrument", len(cases), figures["lost"], figures["duplicated"], note)


def billing_kill_row(out: dict[str, int]) -> Row:
    """Four stations SIGKILLed at random statements over 1,000 vends on one SQLite file (the
    single-station and PostgreSQL runs: bench/billing_kill.py)."""
    with tempfile.TemporaryDirectory(prefix="rig-billing-kill-") as tmp:
        figures = run_kill_campaign(1000, f"sqlite:///{Path(tmp) / 'billing.sqlite'}", 1,
                                    stations=4)
    out |= {f"billing_kill_{k}": int(v) for k, v in figures.items()}
    note = ", ".join(f"{k} {v}" for k, v in figures.items())
    return ("billing_kill", figures["cases"], figures["lost"], figures["duplicated"], note)


def audit_row(out: dict[str, int]) -> Row:
    """Attacks on the audit trail (rig.faults.audit_attacks), each on a fresh SQLite file."""
    from rig.faults.audit_attacks import run_audit_campaign

    with tempfile.TemporaryDirectory(prefix="rig-audit-attacks-") as tmp:
        outcomes = run_audit_campaign(Path(tmp))
    held = [o.attack for o in outcomes if o.held]
    out |= {"audit_attacks_tried": len(outcomes), "audit_attacks_held": len(held)}
    missed = [o.attack for o in outcomes if not o.held]
    note = (f"{len(held)}/{len(outcomes)} held (truncate, delete all, re-hash, ledger edits)"
            + (f"; NOT held: {', '.join(missed)}" if missed else ""))
    return ("audit_attacks", len(outcomes), None, None, note)  # attacks, not credit


def api_fuzz_row(out: dict[str, int], inputs: int) -> Row:
    """Schema-driven and hostile requests to a served centre (rig/faults/api_fuzz.py)."""
    report = run_api_fuzz(inputs, seed=19)
    out |= {"api_fuzz_inputs": report.inputs, "api_fuzz_500s": len(report.server_errors)}
    return ("api_fuzz", report.inputs, None, None,
            f"REST inputs fuzzed; {len(report.server_errors)} answers of 500 (goal 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=3, help="prepaid cycles per serial class")
    parser.add_argument("--replies", type=int, default=100_000,
                        help="replies for the offline checksum-escape count")
    parser.add_argument("--api-inputs", type=int, default=2000,
                        help="requests for the REST API fuzz")
    args = parser.parse_args()
    started = time.monotonic()
    out: dict[str, int] = {}
    rows = serial_rows(args.cycles, out)
    rows.append(checksum_row(args.replies, out))
    rows += card_rows(out)
    rows.append(instrument_row(out))
    rows.append(billing_kill_row(out))
    rows.append(audit_row(out))
    out["total_cases"] = sum(r[1] for r in rows if r[0] != "serial_checksum")
    out["total_lost"] = sum(r[2] or 0 for r in rows)
    out["total_duplicated"] = sum(r[3] or 0 for r in rows)
    rows.append(api_fuzz_row(out, args.api_inputs))  # inputs, not fault cases: not in totals

    print(f"fault campaigns ({time.monotonic() - started:.0f} s); lost/duplicated = cases that "
          "ended with credit lost / applied twice (goal 0)")
    print(f"{'class':<22}{'cases':>7}{'lost':>6}{'dup':>5}  notes")
    for name, cases, lost, dup, note in rows:
        shown = ["-" if v is None else str(v) for v in (lost, dup)]
        print(f"{name:<22}{cases:>7}{shown[0]:>6}{shown[1]:>5}  {note}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
