"""Sub-command groups imported only when used, so `rig --help` and `rig profiles` start at once.

`rig billing …` pulls in SQLAlchemy, Alembic and matplotlib (seconds of imports); the top-level
help only needs its one-line summary. A lazy group is listed from that summary and imported
when a command line names it (its own `--help` included).
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup


class _Summary(typer.core.TyperCommand):
    """Stands in for a lazy group in the top-level help: its name and summary, nothing else."""


class LazyGroups(TyperGroup):
    """A top-level group whose `lazy` sub-groups ("module:attribute" of a Typer app) are
    imported on first use."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}  # name → ("module:attribute", one-line summary)

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return names + [n for n in self.lazy if n not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        return _Summary(name=cmd_name, help=self.lazy[cmd_name][1])

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in self.lazy and args[0] not in self.commands:
            self.add_command(load_group(self.lazy[args[0]][0], args[0]), args[0])
        return super().resolve_command(ctx, args)


def load_group(target: str, name: str) -> Any:
    """Import "module:attribute" (a Typer app) and build its click group under `name`."""
    module, _, attribute = target.partition(":")
    sub_app = getattr(importlib.import_module(module), attribute)
    group = typer.main.get_group(sub_app)
    group.name = name
    return group


def lazy_groups(groups: dict[str, tuple[str, str]]) -> type[LazyGroups]:
    """A LazyGroups class for `typer.Typer(cls=...)` with these lazy sub-groups."""
    return type("RigGroups", (LazyGroups,), {"lazy": dict(groups)})
