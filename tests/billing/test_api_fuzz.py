"""Fuzz of the REST API from its OpenAPI schema (rig/faults/api_fuzz.py): schema-following and
hostile requests over real HTTP against a served centre; no answer may be a 500."""

from __future__ import annotations

import pytest

from rig.faults.api_fuzz import run_api_fuzz

pytestmark = pytest.mark.filterwarnings("ignore:Dialect sqlite.*Decimal objects natively")


@pytest.mark.parametrize("examples", [400])
def test_no_api_input_gets_a_500(billing_url: str, examples: int) -> None:
    report = run_api_fuzz(examples, seed=19, db_url=billing_url)
    assert report.inputs == examples
    assert report.server_errors == [], "\n".join(report.server_errors[:10])
    # The fuzz got past the door: requests were served, stored and refused by the service.
    assert report.statuses.get(201, 0) > 0 and report.statuses.get(422, 0) > 0
