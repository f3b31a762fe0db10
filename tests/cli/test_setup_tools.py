"""The tools the README tells a newcomer to use are on the machine after ./setup.sh."""

from __future__ import annotations

import shutil

import pytest


@pytest.mark.parametrize("tool", ["pcsc_scan", "pcscd"])
def test_tools_the_readme_names_are_installed(tool: str) -> None:
    assert shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin"), (
        f"{tool} is named in the README but ./setup.sh did not install it")
