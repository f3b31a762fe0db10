"""Test suites that ship with rig and run against a lab's own bench.

`rig run --suite certification --bench lab.toml` runs one from any folder; a lab's own pytest
runs it with `pytest --pyargs rig.suites.certification --bench lab.toml`.
"""
