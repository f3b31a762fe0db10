"""No module of rig over ~400 lines (docs/architecture.md, "Rules the layout enforces"): a
module that grows past it is split by job, so a newcomer finds a decision by file name. The
limit is the issue's ~400 with a small margin; the message names each offender and its count."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 420  # lines per module

def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def oversized(root: Path, exempt: frozenset[str] = frozenset()) -> list[str]:
    """``path: N lines`` for every module under ``root``/rig longer than LIMIT."""
    found = []
    for path in sorted((root / "rig").rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name not in exempt and (n := lines(path)) > LIMIT:
            found.append(f"{name}: {n} lines")
    return found


def test_no_module_of_rig_is_over_the_limit() -> None:
    offenders = oversized(ROOT)
    assert not offenders, (f"modules over {LIMIT} lines, split them by job "
                           f"(docs/architecture.md): {'; '.join(offenders)}")


def test_an_oversized_module_is_named_with_its_line_count(tmp_path: Path) -> None:
    package = tmp_path / "rig" / "sim"
    package.mkdir(parents=True)
    (package / "big.py").write_text("x = 1\n" * (LIMIT + 1))
    (package / "at_limit.py").write_text("x = 1\n" * LIMIT)
    (tmp_path / "rig" / "exempt.py").write_text("x = 1\n" * (LIMIT + 5))
    assert oversized(tmp_path, frozenset({"rig/exempt.py"})) == [
        f"rig/sim/big.py: {LIMIT + 1} lines"]
