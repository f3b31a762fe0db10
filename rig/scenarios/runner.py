"""Run the prepaid cycle end to end: open a bench and a billing centre, run, report.

Shared by `rig run` (with a live display) and the test suite (with Allure steps), so the
main job and the test are the same code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rig.bench.bench import Bench, open_bench
from rig.bench.config import BenchConfig
from rig.bench.safe_report import SafeStateReport, watts
from rig.billing.audit_key import AuditConfig, AuditKey
from rig.billing.connect import connect_billing
from rig.errors import RigError
from rig.profile import load_profile
from rig.report.record import Observer, RunRecord
from rig.report.testrecord import bench_context
from rig.report.writer import write_report
from rig.scenarios.prepaid_cycle import PHASES, CycleParams, CycleResult, PrepaidCycle
from rig.scenarios.token_cycle import TOKEN_PHASES, TokenCycle

MEDIA = ("card", "token", "remote")
TITLES = {"card": "prepaid cycle", "token": "prepaid cycle with an STS token",
          "remote": "prepaid cycle with remote delivery over DL/T 645"}


@dataclass
class CycleRun:
    record: RunRecord
    result: CycleResult
    report: Path
    run_dir: Path
    error: BaseException | None = None


APDU_TRACE = "apdu-trace.jsonl"


def save_apdu_trace(bench: Bench, run_dir: Path) -> Path:
    """The run's card exchanges (secrets already redacted) as ``apdu-trace.jsonl``, which
    ``rig card replay`` checks a card or meter against (docs/card-formats.md)."""
    return bench.apdu_trace.save(run_dir / APDU_TRACE, card_format=bench.profile.card.format,
                                 options=bench.card_options)


def new_run_dir(root: Path = Path("runs")) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    path = root / f"prepaid-cycle-{stamp}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def run_audit_config(run_dir: Path) -> AuditConfig:
    """The audit key and anchor of a run's own billing database: the centre's configured ones
    ($RIG_AUDIT_KEY_FILE, $RIG_AUDIT_ANCHOR) if set, else a fresh key for this run written to
    ``audit.key`` (0600) and its checkpoints to ``audit-anchor.jsonl``, in the run folder, so
    the run's audit chain can be verified afterwards (docs/billing.md)."""
    configured = AuditConfig.from_env()
    if configured.key is not None:
        return configured
    key = AuditKey.generate()
    key.write(run_dir / "audit.key")
    return AuditConfig(key, run_dir / "audit-anchor.jsonl")


def run_prepaid_cycle(
    config: BenchConfig,
    *,
    params: CycleParams | None = None,
    run_dir: Path | None = None,
    db_url: str | None = None,
    observer: Observer | None = None,
    use_allure: bool = False,
    operator: str | None = None,
    medium: str = "card",
) -> CycleRun:
    """Run one cycle; the report is written whatever happens (the error is returned).
    ``medium``: ``card`` (the IC card cycle), ``token`` (an STS token typed on the keypad of
    a profile with an ``[sts]`` section, :mod:`rig.scenarios.token_cycle`) or ``remote`` (the
    card cycle delivered over DL/T 645 to a profile's ``[esam]``,
    :mod:`rig.scenarios.remote_steps`)."""
    if medium not in MEDIA:
        raise RigError(f"--medium {medium!r}: card, token or remote")
    run_dir = run_dir or new_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    profile = load_profile(config.profile, config.profiles_dir)
    url = db_url or config.billing.url or f"sqlite:///{(run_dir / 'billing.sqlite').resolve()}"
    audit = run_audit_config(run_dir) if not (db_url or config.billing.url) else None
    token = medium == "token"
    record = RunRecord(TITLES[medium], identity={},
                       phases=TOKEN_PHASES if token else PHASES, observer=observer,
                       use_allure=use_allure)
    cycle: PrepaidCycle | None = None
    error: BaseException | None = None
    left: SafeStateReport | None = None
    try:
        with open_bench(config, profile=profile) as bench:
            left = bench.safe_report  # filled in as the bench closes, on every path
            record.identity = bench.identity | {"billing_db": url.split("://")[0]}
            try:
                # A database URL opens the ledger here; http(s):// is a served centre.
                with connect_billing(url, token_file=config.billing.token_file,
                                     clock=bench.clock.now, audit=audit) as billing:
                    kind = TokenCycle if token else PrepaidCycle
                    cycle = kind(bench, billing, record,  # type: ignore[arg-type]
                                 params)
                    if medium == "remote":  # the same scenario, another delivery below it
                        # imported here: a card run needs neither the ESAM's DL/T 645
                        # security commands nor the remote vending station
                        from rig.scenarios.remote_steps import RemoteSteps

                        cycle.steps = RemoteSteps(bench, billing, record)  # type: ignore[arg-type]
                    cycle.run()
            finally:  # at the end: the card's ATR is known once the writer has seen it
                record.context = bench_context(bench, billing_url=url, operator=operator)
                save_apdu_trace(bench, run_dir)
    except BaseException as e:  # reported, then re-raised by the caller if it wants
        error = e
    finally:
        record.close()
        result = cycle.result if cycle else CycleResult()
        record.summary = summary(result, record, error)
        if left is not None:
            record.summary["safe state"] = left.summary()
            final = {"load": "off" if left.load_reads_on is False else "NOT CONFIRMED OFF"}
            if left.load_power_w is not None:
                final["power"] = watts(left.load_power_w, relay_open=True)
            if left.relay_open is not None:
                final["relay"] = "open" if left.relay_open else "closed"
            record.reading(**final)  # the live status line ends on what the bench reads now
        report = write_report(record, run_dir)
    return CycleRun(record, result, report, run_dir, error)


def summary(result: CycleResult, record: RunRecord,
            error: BaseException | None) -> dict[str, object]:
    def at(t: datetime | None) -> str:
        if t is None or result.load_on_at is None:
            return "—"
        hours = (t - result.load_on_at).total_seconds() / 3600
        return f"{t:%Y-%m-%d %H:%M:%S} (load on + {hours:.2f} h)"

    out: dict[str, object] = {
        "outcome": str(record.outcome),
        "credit bought": f"{result.credit_bought} {result.credit_unit}".strip(),
        "energy consumed": f"{result.energy_consumed_kwh} kWh",
        "alarm 1 at": at(result.alarm1_at),
        "alarm 2 (pre-trip) at": at(result.alarm2_at),
        "cut-off at": at(result.cutoff_at),
        "reconciliation": result.verdict or "—",
    }
    if isinstance(error, KeyboardInterrupt):
        out["error"] = f"interrupted ({error or 'Ctrl-C'})"
    elif error is not None:
        out["error"] = f"{type(error).__name__}: {error}"
    return out
