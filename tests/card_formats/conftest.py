"""The toy card format (tests/plugins/toycard), installed for the tests that ask for it: its
package and a dist-info carrying its entry points put on sys.path, so rig finds it exactly as
it finds an installed plugin (importlib.metadata entry points), and taken away afterwards so
no other test sees a second card or readback format."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from rig.billing import readback_format
from rig.card_formats import registry

TOY = Path(__file__).resolve().parents[1] / "plugins" / "toycard"


def _dist_info(root: Path) -> None:
    """rig-toycard's metadata and entry points, as pip would install them."""
    project = tomllib.loads((TOY / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = root / f"rig_toycard-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n", encoding="utf-8")
    lines = []
    for group, entries in project["entry-points"].items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {target}" for name, target in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _forget_installed() -> None:
    registry._installed.cache_clear()
    readback_format._installed.cache_clear()


@pytest.fixture(scope="module")
def toy_installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    site = tmp_path_factory.mktemp("toy-site")
    _dist_info(site)
    added = [str(site), str(TOY)]
    sys.path[:0] = added
    _forget_installed()
    try:
        yield
    finally:
        for entry in added:
            sys.path.remove(entry)
        for name in [m for m in sys.modules if m == "rig_toycard" or
                     m.startswith("rig_toycard.")]:
            del sys.modules[name]
        _forget_installed()
