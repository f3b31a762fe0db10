"""Jinja2 environments over a package's ``templates/`` folder, read as package data.

Templates are read through importlib.resources, so they are found wherever rig is installed
(a wheel, a zip, a source checkout). Autoescaping is always on: a meter, customer or operator
name holding markup is shown as text, never run as part of a report page.

Compiling a template to Python costs 30–60 ms (a run's report.html), in every process that
renders it: the compiled code is kept in rig's cache folder (``templates/<package>/``), and
Jinja2 uses it only while the template's source is unchanged (it stores the source's
checksum beside the code, and its own and Python's version), so it never goes stale. A cache
folder that cannot be written only means compiling each time.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from importlib.resources import files

from jinja2 import BaseLoader, Environment, FileSystemBytecodeCache, TemplateNotFound
from jinja2.bccache import Bucket

from rig.user_cache import cache_dir


class PackageTemplates(BaseLoader):
    """Loads ``<package>/templates/<name>`` through importlib.resources."""

    def __init__(self, package: str) -> None:
        self.package = package

    def get_source(self, environment: Environment, template: str) -> tuple[str, None, None]:
        entry = files(self.package).joinpath("templates", *template.split("/"))
        if not entry.is_file():
            raise TemplateNotFound(f"{self.package}: templates/{template}")
        return entry.read_text("utf-8"), None, None


class CompiledTemplates(FileSystemBytecodeCache):
    """Jinja2's file cache of compiled templates, in a folder made when first written; a
    folder or file that cannot be read or written is skipped (the template is compiled)."""

    def load_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            super().dump_bytecode(bucket)


@cache
def templates(package: str) -> Environment:
    """The (shared, thread-safe) environment of `package`'s templates."""
    compiled = CompiledTemplates(str(cache_dir() / "templates" / package))
    return Environment(loader=PackageTemplates(package), autoescape=True,
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                       bytecode_cache=compiled)
