"""`rig run --suite mutants`: the certification suite against every mutant meter that applies
to a profile (rig.sim.defects), with the kill matrix as JSON and in the certification record."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from rig.errors import ConfigError
from rig.profile import available_profiles, load_profile
from rig.suites.mutants import (
    KILLED,
    SURVIVED,
    KillMatrix,
    MutantRun,
    run_campaign,
    select_defects,
)

_STYLE = {KILLED: "green", SURVIVED: "bold red"}


def run_mutants(run_dir: Path, console: Console, *, profile: str | None,
                profiles_dir: Path | None = None, jobs: int = 2,
                select: str | None = None) -> int:
    """Run the campaign for `profile` (default: every profile); 0 if every applicable mutant
    (those `select` names, comma-separated names or shell patterns, if given) was killed and
    every scenario passed on the reference meter, else 1."""
    names = [profile] if profile else available_profiles(profiles_dir)
    chosen = {name: select_defects(load_profile(name, profiles_dir), select) for name in names}
    if select and not any(chosen.values()):
        raise ConfigError(f"--select {select!r}: no mutant of "
                          f"{profile or 'any profile'} has a name it matches "
                          "(rig sim --defect lists them)")
    ok = True
    for name in names:
        meter_profile = load_profile(name, profiles_dir)
        if not chosen[name]:
            console.print(f"[dim]{name}: no selected mutant applies[/]")
            continue

        def show(run: MutantRun) -> None:
            if run.error:
                console.print(f"  [bold red]error[/] {run.defect}: {run.error}")
            elif run.defect != "reference":
                console.print(f"  {'killed' if run.killed else '[bold red]SURVIVED[/]':8} "
                              f"{run.defect}")

        console.print(f"[bold]{name}[/]: reference meter, then each mutant")
        matrix = run_campaign(meter_profile, run_dir / meter_profile.name, jobs=jobs,
                              defects=chosen[name], profiles_dir=profiles_dir, progress=show)
        console.print(matrix_table(matrix))
        ok = ok and not matrix.survived and not matrix.broken and \
            not any(m.error for m in matrix.mutants)
        console.print(f"wall {matrix.wall_s:.0f} s, CPU {matrix.cpu_s:.0f} s "
                      f"({len(matrix.mutants)} mutants and the reference meter, {jobs} benches "
                      "at a time)")
        console.print(f"kill matrix: {run_dir / meter_profile.name / 'kill-matrix.json'}; "
                      f"record: {run_dir / meter_profile.name / 'record.json'}")
    return 0 if ok else 1


def matrix_table(matrix: KillMatrix) -> Table:
    """Mutant x scenario, one letter a cell: K killed, s survived, - not applicable/not run."""
    scenarios = matrix.scenarios
    table = Table(title=f"{matrix.profile}: mutation score {matrix.score:.1%} "
                        f"({len(matrix.killed)}/{len(matrix.mutants)})", box=None)
    table.add_column("mutant")
    for n, _ in enumerate(scenarios, 1):
        table.add_column(str(n), justify="center")
    for m in matrix.mutants:
        cells = [Text("K" if m.cell(r) == KILLED else "s" if m.cell(r) == SURVIVED else "-",
                      style=_STYLE.get(m.cell(r), "dim")) for r in scenarios]
        table.add_row(Text(m.defect, style="" if m.killed else "bold red"), *cells)
    table.caption = "  ".join(f"{n}: {r}" for n, r in enumerate(scenarios, 1))
    return table
