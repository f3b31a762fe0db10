"""The certification suite: one test per requirement, for every meter profile.

Run one requirement for one model with e.g.
`pytest --pyargs rig.suites.certification -k "replayed and dlt645-1p-money"`, or against a
real bench with `--bench lab.toml`.
"""

from __future__ import annotations

import pytest

from rig.extras import optional_module
from rig.scenarios import certification as cert
from rig.scenarios import (
    certification_card_timing,
    certification_key_state,
    certification_keys,
    certification_meter,
    certification_purchase_count,
    certification_sts,
    certification_supply,
)
from rig.scenarios.certification_printer import receipt_printer
from rig.scenarios.steps import BenchSteps

pytestmark = pytest.mark.bench


def test_buy_and_insert(steps: BenchSteps) -> None:
    cert.buy_and_insert(steps)
    assert str(steps.record.outcome) == "pass"


def test_replayed_card_is_not_applied_twice(steps: BenchSteps) -> None:
    cert.replayed_card_is_not_applied_twice(steps)
    assert str(steps.record.outcome) == "pass"


def test_card_for_another_meter_is_refused(steps: BenchSteps) -> None:
    cert.card_for_another_meter_is_refused(steps)
    assert str(steps.record.outcome) == "pass"


def test_reconciliation_over_several_cycles(steps: BenchSteps) -> None:
    cert.reconciliation_over_cycles(steps)
    assert str(steps.record.outcome) == "pass"


def test_alarms_at_predicted_times(steps: BenchSteps) -> None:
    cert.SCENARIOS["alarms at predicted times"](steps)
    assert str(steps.record.outcome) == "pass"


def test_cutoff_and_reconnection(steps: BenchSteps) -> None:
    cert.SCENARIOS["cut-off and reconnection"](steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("emergency_credit")
def test_emergency_credit(steps: BenchSteps) -> None:
    cert.SCENARIOS["emergency credit"](steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("friendly_periods")
def test_friendly_period(steps: BenchSteps) -> None:
    cert.SCENARIOS["friendly period"](steps)
    assert str(steps.record.outcome) == "pass"


def test_forged_mac_is_refused(steps: BenchSteps) -> None:
    cert.SCENARIOS["forged MAC is refused"](steps)
    assert str(steps.record.outcome) == "pass"


def test_key_change_card_moves_the_meter_to_the_next_key_revision(steps: BenchSteps) -> None:
    certification_keys.key_change_card_moves_the_meter_to_the_next_key_revision(steps)
    assert str(steps.record.outcome) == "pass"


def test_key_update_moves_the_meter_to_the_private_key_state(steps: BenchSteps) -> None:
    certification_key_state.key_update_moves_the_meter_to_the_private_key_state(steps)
    assert str(steps.record.outcome) == "pass"


def test_purchase_two_ahead_is_refused_after_the_return_write(steps: BenchSteps) -> None:
    certification_purchase_count.purchase_two_ahead_is_refused_after_the_return_write(steps)
    assert str(steps.record.outcome) == "pass"


def test_hoarding_limit_refusal(steps: BenchSteps) -> None:
    cert.SCENARIOS["hoarding limit refusal"](steps)
    assert str(steps.record.outcome) == "pass"


def test_parameter_card_changes_thresholds(steps: BenchSteps) -> None:
    cert.SCENARIOS["parameter card changes thresholds"](steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("power_limit")
@pytest.mark.emulated_time_scale(60)  # the 60 s reconnection delay is a second of wall time
def test_power_limit_trip_and_recovery(steps: BenchSteps) -> None:
    cert.SCENARIOS["power-limit trip and recovery"](steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.billing_on_bench_time  # the change takes effect at a bench instant
def test_tariff_change_at_its_effective_date(steps: BenchSteps) -> None:
    cert.SCENARIOS["tariff change at its effective date"](steps)
    assert str(steps.record.outcome) == "pass"


def test_power_failure_during_a_card_insertion(steps: BenchSteps) -> None:
    if steps.bench.sim is None:
        pytest.skip("times the supply cut to one card command: an emulated bench's card slot")
    certification_supply.power_failure_during_a_card_insertion(steps)
    assert str(steps.record.outcome) == "pass"


def test_power_failure_during_consumption(steps: BenchSteps) -> None:
    certification_supply.power_failure_during_consumption(steps)
    assert str(steps.record.outcome) == "pass"


def test_terminal_cover_opening_is_recorded(steps: BenchSteps) -> None:
    certification_supply.terminal_cover_opening_is_recorded(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("dlt645")
def test_unknown_register_is_answered_with_an_error(steps: BenchSteps) -> None:
    certification_meter.unknown_register_is_answered_with_an_error(steps)
    assert str(steps.record.outcome) == "pass"


def test_card_session_within_3_s(steps: BenchSteps) -> None:
    certification_card_timing.card_session_within_deadline(steps)
    assert str(steps.record.outcome) == "pass"


def test_receipt_printer(steps: BenchSteps) -> None:
    if steps.bench.sim is None or steps.bench.printer is None:
        pytest.skip("reads the printed paper back from an emulated bench's printer")
    if optional_module("escpos") is None:
        pytest.skip("the receipt printer needs rig[printer] (python-escpos)")
    receipt_printer(steps)


@pytest.mark.requires_capability("sts")
def test_sts_credit_token_is_accepted(steps: BenchSteps) -> None:
    certification_sts.sts_credit_token_is_accepted(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("sts")
def test_sts_used_token_is_refused(steps: BenchSteps) -> None:
    certification_sts.sts_used_token_is_refused(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("sts")
def test_sts_old_token_is_refused(steps: BenchSteps) -> None:
    certification_sts.sts_old_token_is_refused(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("sts")
def test_sts_token_made_for_a_different_meter_is_refused(steps: BenchSteps) -> None:
    certification_sts.sts_token_made_for_a_different_meter_is_refused(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("sts")
def test_sts_key_change_then_a_token_under_the_new_key(steps: BenchSteps) -> None:
    certification_sts.sts_key_change_then_a_token_under_the_new_key(steps)
    assert str(steps.record.outcome) == "pass"


@pytest.mark.requires_capability("sts")
def test_sts_rollover_to_the_next_base_date(steps: BenchSteps) -> None:
    certification_sts.sts_rollover_to_the_next_base_date(steps)
    assert str(steps.record.outcome) == "pass"
