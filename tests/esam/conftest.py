"""The esam-cpu tests' benches and vpcd slot, shared with the ESAM's own tests."""

from tests.card_formats.esam_cpu.conftest import cpu_bench  # noqa: F401  (fixture)
from tests.card_formats.esam_cpu.test_card import slot  # noqa: F401  (fixture)
