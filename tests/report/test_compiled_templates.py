"""Compiled report templates are kept between processes, never used once their source
changed, and a cache folder that cannot be written costs nothing but the compiling."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import DictLoader, Environment

from rig.templating import CompiledTemplates, templates


def environment(cache: Path, source: str) -> Environment:
    return Environment(loader=DictLoader({"page.html": source}), autoescape=True,
                       bytecode_cache=CompiledTemplates(str(cache)))


def test_a_new_process_renders_from_the_compiled_code(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "templates" / "pkg"  # made when first written
    assert environment(cache, "<p>{{ x }}</p>").get_template("page.html").render(x=1) == "<p>1</p>"
    assert len(list(cache.iterdir())) == 1

    def no_compiling(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(Environment, "compile", no_compiling)
    fresh = environment(cache, "<p>{{ x }}</p>")  # as another process would
    assert fresh.get_template("page.html").render(x="<b>") == "<p>&lt;b&gt;</p>"


def test_a_changed_template_is_compiled_again(tmp_path: Path) -> None:
    environment(tmp_path, "old {{ x }}").get_template("page.html").render(x=1)
    assert environment(tmp_path, "new {{ x }}").get_template("page.html").render(x=1) == "new 1"


def test_an_unwritable_cache_only_means_compiling(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    page = environment(blocker / "pkg", "{{ x }}").get_template("page.html")
    assert page.render(x=2) == "2"


def test_the_report_templates_use_rigs_cache_folder(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIG_CACHE_DIR", str(tmp_path))
    templates.cache_clear()
    try:
        templates("rig.report").get_template("report.html")
    finally:
        templates.cache_clear()
    assert list((tmp_path / "templates" / "rig.report").glob("*.cache"))
