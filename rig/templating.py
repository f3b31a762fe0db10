"""Jinja2 environments over a package's ``templates/`` folder, read as package data.

Templates are read through importlib.resources, so they are found wherever rig is installed
(a wheel, a zip, a source checkout). Autoescaping is always on: a meter, customer or operator
name holding markup is shown as text, never run as part of a report page.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from jinja2 import BaseLoader, Environment, TemplateNotFound


class PackageTemplates(BaseLoader):
    """Loads ``<package>/templates/<name>`` through importlib.resources."""

    def __init__(self, package: str) -> None:
        self.package = package

    def get_source(self, environment: Environment, template: str) -> tuple[str, None, None]:
        entry = files(self.package).joinpath("templates", *template.split("/"))
        if not entry.is_file():
            raise TemplateNotFound(f"{self.package}: templates/{template}")
        return entry.read_text("utf-8"), None, None


@cache
def templates(package: str) -> Environment:
    """The (shared, thread-safe) environment of `package`'s templates."""
    return Environment(loader=PackageTemplates(package), autoescape=True,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
