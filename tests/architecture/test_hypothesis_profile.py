"""The suite runs hypothesis without a per-example wall-clock deadline (conftest.py): a
deadline turns one slow example on a loaded CI machine into a failed, "flaky" test."""

from hypothesis import settings


def test_properties_have_no_wall_clock_deadline() -> None:
    assert settings.default.deadline is None
