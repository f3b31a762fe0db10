"""The billing centre's facade and its unit of work keep their private names to themselves.

Modules beside the areas (bank, reports, currency, the console's lists, the kill campaign)
reach the ledger through public names only — ``centre.transaction``, ``centre.uow.reading``,
``centre.uow.audit``, an area's service such as ``centre.access`` — so the facade can change
inside without breaking them. The check reads the source (``ast``): every ``_name`` attribute
that ``BillingCentre`` or ``UnitOfWork`` defines (a ``def _name`` or a ``self._name = …``) may
be used only in the module that defines it, and only on ``self``/``cls`` elsewhere (another
class's own attribute of the same name)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OWNERS = {  # module → the class whose private names it alone may use
    ROOT / "rig/billing/centre/facade.py": "BillingCentre",
    ROOT / "rig/billing/centre/uow.py": "UnitOfWork",
}
SCANNED = ("rig", "bench", "examples", "tests")


def private_names(source: str, class_name: str) -> set[str]:
    """The single-underscore attributes ``class_name`` defines in ``source``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(inner.name)
            elif isinstance(inner, ast.Attribute) and isinstance(inner.ctx, ast.Store) \
                    and isinstance(inner.value, ast.Name) and inner.value.id == "self":
                names.add(inner.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def uses(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, ``receiver._name``) of every use of one of ``names`` on another object."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in names:
            receiver = node.value
            if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                continue
            found.append((node.lineno, f"{ast.unparse(receiver)}.{node.attr}"))
    return found


def violations(root: Path, owners: dict[Path, str]) -> list[str]:
    privates = {path: private_names(path.read_text(), cls) for path, cls in owners.items()}
    out = []
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            source = path.read_text()
            for owner, names in privates.items():
                if path == owner:
                    continue
                out += [f"{path.relative_to(root)}:{line}: {text} is private to "
                        f"{owners[owner]} ({owner.relative_to(root)})"
                        for line, text in uses(source, names)]
    return out


def test_nothing_outside_the_facade_and_its_unit_of_work_uses_their_private_names() -> None:
    assert violations(ROOT, OWNERS) == []


def test_the_unit_of_work_has_private_names_to_guard() -> None:
    # the check is not empty: the engine's sessions and the clock are the unit of work's own
    names = private_names((ROOT / "rig/billing/centre/uow.py").read_text(), "UnitOfWork")
    assert {"_sessions", "_reading", "_clock"} <= names


FACADE = '''
class BillingCentre:
    def __init__(self, uow):
        self._uow = uow
    def _tx(self, operation="x"):
        return self._uow.transaction(operation)
    def vend(self):
        with self._tx() as s:
            return s
'''


@pytest.mark.parametrize(("module", "flagged"), [
    ("def f(centre):\n    with centre._tx() as s:\n        return s\n", ["centre._tx"]),
    ("def f(app):\n    return app.state.centre._uow.engine\n", ["app.state.centre._uow"]),
    ("class Other:\n    def __init__(self):\n        self._tx = 1\n", []),  # its own attribute
    ("def f(centre):\n    with centre.transaction('x') as s:\n        return s\n", []),
])
def test_a_private_name_used_outside_its_module_is_reported(
        tmp_path: Path, module: str, flagged: list[str]) -> None:
    (tmp_path / "rig").mkdir()
    facade = tmp_path / "rig" / "facade.py"
    facade.write_text(FACADE)
    (tmp_path / "rig" / "other.py").write_text(module)
    found = violations(tmp_path, {facade: "BillingCentre"})
    assert [v.split(": ")[1].split(" is private")[0] for v in found] == flagged
    assert all(v.startswith("rig/other.py:") for v in found)  # the facade's own uses are fine
