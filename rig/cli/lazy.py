"""Sub-commands imported and built only when used, so `rig --help` and `rig profiles` start at once.

`rig billing …` pulls in SQLAlchemy, Alembic and matplotlib (seconds of imports), and typer
turns every registered command's signature into click parameters when the top-level group is
built; the top-level help only needs each command's name and one-line summary. A lazy entry is
listed from that summary and imported and built when a command line names it (its own
`--help` included). tests/cli/test_cli_startup.py keeps the summaries equal to the commands'
own help.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import typer
from typer.core import TyperGroup


class _Summary(typer.core.TyperCommand):
    """Stands in for a lazy entry in the top-level help: its name and summary, nothing else."""


class LazyGroups(TyperGroup):
    """A top-level group whose `lazy` entries ("module:attribute" of a Typer app) are imported
    on first use: the app's command called like the entry if it has one, else the whole app as
    a sub-group. Until then a summary stands in for each, so the help lists them and a
    mistyped name gets its suggestion."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {}  # name → ("module:attribute", one-line summary)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (_, summary) in self.lazy.items():
            if name not in self.commands:
                self.add_command(_Summary(name=name, help=summary), name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and isinstance(self.commands.get(args[0]), _Summary):
            self.add_command(load_entry(self.lazy[args[0]][0], args[0]), args[0])
        return super().resolve_command(ctx, args)


def load_entry(target: str, name: str) -> Any:
    """Import "module:attribute" (a Typer app) and build its command `name`, or, if it has
    none of that name, the whole app as a click group called `name`."""
    module, _, attribute = target.partition(":")
    sub_app: typer.Typer = getattr(importlib.import_module(module), attribute)
    for info in sub_app.registered_commands:
        callback = info.callback
        if info.name == name or (info.name is None and callback is not None
                                 and typer.main.get_command_name(callback.__name__) == name):
            command = typer.main.get_command_from_info(
                info, pretty_exceptions_short=sub_app.pretty_exceptions_short,
                rich_markup_mode=sub_app.rich_markup_mode)
            command.name = name
            return command
    group = typer.main.get_group(sub_app)
    group.name = name
    return group


def lazy_groups(groups: dict[str, tuple[str, str]]) -> type[LazyGroups]:
    """A LazyGroups class for `typer.Typer(cls=...)` with these lazy entries."""
    return type("RigGroups", (LazyGroups,), {"lazy": dict(groups)})
