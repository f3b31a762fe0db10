"""Finding card formats: installed ones through the ``rig.card_formats`` entry point group
(like pytest plugins), plus any registered at run time (a test's own format).

A format's entry point is loaded the first time that format is asked for, so listing the
names or validating a profile that names one format does not import every installed one."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from rig.errors import ConfigError

if TYPE_CHECKING:  # a profile names a format without importing the card driver beneath it
    from rig.card_formats.interface import CardFormat

GROUP = "rig.card_formats"
DEFAULT = "rigpp"

_registered: dict[str, CardFormat] = {}


def register(fmt: CardFormat) -> None:
    """Add a format at run time (one not installed as an entry point)."""
    _registered[fmt.name] = fmt


def unregister(name: str) -> None:
    _registered.pop(name, None)


class _Installed:
    """The installed formats' entry points, each loaded when its format is first asked for."""

    def __init__(self) -> None:
        self.entries: dict[str, EntryPoint] = {ep.name: ep for ep in entry_points(group=GROUP)}
        self._loaded: dict[str, CardFormat] = {}

    def get(self, name: str) -> CardFormat | None:
        if name not in self._loaded and name in self.entries:
            self._loaded[name] = self.entries[name].load()
        return self._loaded.get(name)


@cache
def _installed() -> _Installed:
    return _Installed()


def names() -> list[str]:
    return sorted({*_installed().entries, *_registered})


def card_format(name: str = DEFAULT, *, where: str = "[card] format") -> CardFormat:
    """The format called ``name``; a ConfigError naming ``where`` it was asked for and the
    formats installed when there is none."""
    found = _registered.get(name) or _installed().get(name)
    if found is None:
        known = ", ".join(names()) or "none (reinstall rig)"
        raise ConfigError(f"{where}: no card format {name!r} is installed (installed: {known})")
    return found


def check_options(fmt: CardFormat, options: Mapping[str, str], *, where: str) -> None:
    """A ConfigError naming ``where`` and the format's options if ``options`` names one the
    format lacks or a value it does not offer."""
    for name, value in options.items():
        allowed = fmt.options.get(name)
        if allowed is None:
            known = ", ".join(sorted(fmt.options)) or "none"
            raise ConfigError(f"{where}: card format {fmt.name!r} has no option {name!r} "
                              f"(its options: {known})")
        if allowed and value not in allowed:  # an empty tuple: free text (a reader name)
            raise ConfigError(f"{where}.{name}: {value!r} is not one of {', '.join(allowed)} "
                              f"(card format {fmt.name!r})")
