"""Every mutant meter's wrong method overrides a method its firmware part really has.

A defect is a subclass of one firmware part that overrides one method (rig/sim/defects). If
the part's method is renamed or folded into a shared function, the override silently becomes
dead code: the "mutant" is then the reference meter and survives the campaign, which only
the whole campaign would show. This finds it at once, for every defect module.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import rig.sim.defects
from rig.sim import memory_card_defects

# Names a subclass may add without overriding: Python's own and dataclass machinery.
_OWN = {"__init__", "__post_init__", "__repr__", "__doc__", "__module__", "__qualname__",
        "__annotations__", "__dict__", "__weakref__", "__firstlineno__", "__static_attributes__"}


def _defect_modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(rig.sim.defects.__path__)]
    return [importlib.import_module(f"rig.sim.defects.{n}") for n in names] + [
        memory_card_defects]


def _dead_overrides() -> list[str]:
    """``module.Class.method`` for each method of a defect class that neither overrides a
    method of its firmware part nor is called by a defect (a helper of their overrides)."""
    modules = _defect_modules()
    defect_modules = {m.__name__ for m in modules}
    every_source = "\n".join(inspect.getsource(m) for m in modules)
    dead = []
    for module in modules:
        for cls_name, cls in vars(module).items():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            part = [b for b in cls.__mro__[1:]
                    if b.__module__.startswith("rig.") and b.__module__ not in defect_modules]
            if not part:
                continue  # not a subclass of a firmware part
            for name, member in vars(cls).items():
                if name in _OWN or not callable(member):
                    continue
                overrides = any(name in vars(b) for b in part)
                helper = any(name in vars(b) for b in cls.__mro__[1:]) or \
                    every_source.count(f".{name}(") > 0
                if not overrides and not helper:
                    dead.append(f"{module.__name__}.{cls_name}.{name}")
    return dead


def test_every_defect_overrides_a_method_of_its_part() -> None:
    dead = _dead_overrides()
    assert not dead, ("these defect methods override nothing (renamed in the firmware?), so "
                      f"their mutants are the reference meter: {', '.join(dead)}")
