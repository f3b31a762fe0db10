"""python-escpos's capabilities database is pickled once into rig's cache, atomically, and a
new process finds it there instead of parsing the file again."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from rig import user_cache
from rig.printer import escpos_cache

pytest.importorskip("escpos")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(user_cache.CACHE_ENV, str(tmp_path))
    for name in (escpos_cache.PICKLE_DIR_ENV, escpos_cache.FILE_ENV):
        monkeypatch.setenv(name, "")  # recorded, so what use_cache() sets is undone after
        monkeypatch.delenv(name)
    return tmp_path / "escpos"


def test_the_pickle_is_the_database_and_escpos_reads_it(cache: Path) -> None:
    escpos_cache.use_cache()
    target = escpos_cache.pickle_path(cache)
    source = Path(str(files("escpos") / "capabilities.json"))
    assert pickle.loads(target.read_bytes()) == json.loads(source.read_text(encoding="utf-8"))
    assert os.environ[escpos_cache.PICKLE_DIR_ENV] == str(cache)
    # A fresh python-escpos loads the pickle (it logs which) and leaves it as it was.
    before = target.stat().st_mtime_ns
    run = subprocess.run(
        [sys.executable, "-c", "import logging; logging.basicConfig(level=logging.DEBUG); "
         "import escpos.capabilities as c; print(len(c.CAPABILITIES['profiles']))"],
        env=dict(os.environ), capture_output=True, text=True, check=True)
    assert "Loading capabilities from pickle" in run.stderr, run.stderr
    assert int(run.stdout) > 10
    assert target.stat().st_mtime_ns == before
    assert [p.name for p in cache.iterdir()] == [target.name]  # no temporary file left


def test_a_newer_database_is_pickled_again(cache: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    escpos_cache.use_cache()
    target = escpos_cache.pickle_path(cache)
    target.write_bytes(pickle.dumps({"stale": True}, protocol=2))
    os.utime(target, (1, 1))  # older than the installed database
    monkeypatch.delenv(escpos_cache.PICKLE_DIR_ENV)  # the next process
    escpos_cache.use_cache()
    assert "profiles" in pickle.loads(target.read_bytes())


def test_the_users_own_setting_is_left_alone(cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(escpos_cache.PICKLE_DIR_ENV, "/somewhere/else")
    escpos_cache.use_cache()
    assert os.environ[escpos_cache.PICKLE_DIR_ENV] == "/somewhere/else"
    assert not cache.exists()
