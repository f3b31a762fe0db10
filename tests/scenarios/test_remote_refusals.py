"""Remote delivery's counterparts of the cards a meter must refuse (rig.scenarios.remote_steps):
the recharge the meter refuses with its SERR bit, counted and explained as a card refusal, the
credit unchanged; what truly needs a card stays not applicable.

The bench test runs the ESAM test meter on a real pty (DL/T 645 security commands) with a
real SQLite billing centre: no part is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from rig.bench.bench import open_bench
from rig.bench.config import BenchConfig
from rig.billing import open_billing
from rig.card_formats.interface import CardKind
from rig.meter.card_errors import CardErrorCode
from rig.meter.dlt645 import security as sec
from rig.profile import load_profile
from rig.report.record import RunRecord
from rig.scenarios.cert_base import commission, insert_refused, snapshot
from rig.scenarios.meter_hands import supply_cut_during_next_insertion
from rig.scenarios.remote_refusals import card_code
from rig.scenarios.remote_steps import NotApplicable, RemoteSteps

PROFILES = Path(__file__).parents[1] / "esam" / "profiles"
PROFILE = "dlt645-1p-esam-remote"  # hoarding limit 500.00, ESAM public, identity 5 minutes


@pytest.mark.parametrize(("serr", "other_meter", "code"), [
    (sec.SERR_HOARDING, False, CardErrorCode.HOARDING_LIMIT_EXCEEDED),
    (sec.SERR_RECHARGE_COUNT, False, CardErrorCode.PURCHASE_COUNT_ERROR),
    (sec.SERR_CUSTOMER, False, CardErrorCode.CUSTOMER_NUMBER_MISMATCH),
    (sec.SERR_ESAM, False, CardErrorCode.MAC_ERROR),
    (sec.SERR_IDENTITY, False, CardErrorCode.AUTHENTICATION_ERROR),
    (sec.SERR_IDENTITY, True, CardErrorCode.METER_NUMBER_MISMATCH),
    (sec.SERR_ESAM, True, CardErrorCode.MAC_ERROR),  # the identity passed: not the meter no.
    (sec.SERR_OTHER, False, CardErrorCode.ESAM_ERROR),
    (sec.SERR_HOARDING | sec.SERR_IDENTITY, False, CardErrorCode.HOARDING_LIMIT_EXCEEDED),
])
def test_a_serr_bit_is_the_card_error_code_of_the_same_refusal(
        serr: int, other_meter: bool, code: CardErrorCode) -> None:
    assert card_code(serr, other_meter=other_meter) is code


@pytest.fixture
def steps(tmp_path: Path) -> Iterator[RemoteSteps]:
    config = BenchConfig(time_scale=36000.0, profile=PROFILE, profiles_dir=PROFILES)
    profile = load_profile(PROFILE, PROFILES)
    with open_bench(config, profile=profile) as bench, \
            open_billing(f"sqlite:///{tmp_path / 'billing.sqlite'}",
                         clock=bench.clock.now) as billing:
        record = RunRecord("remote refusals", identity=bench.identity)
        s = RemoteSteps(bench, billing, record)  # type: ignore[arg-type]
        commission(s)
        yield s


@pytest.mark.bench
def test_refusals_are_the_recharges_the_meter_refuses(steps: RemoteSteps) -> None:
    s = steps
    vend, delivery = s.buy(Decimal("400.00"))
    assert delivery.accepted and delivery.applied_sequence == vend.sequence
    s.settle()

    # The same purchase presented again (a card inserted again): a repeated recharge.
    before = snapshot(s)
    again = s.insert_into_meter()
    assert again.applied_sequence is None and "repeated recharge" in again.meter_message
    assert snapshot(s) == before and s.refusals == []  # not a refusal: nothing to deliver

    # Over the hoarding limit (the centre's limit lifted for the one vend, as the scenario
    # does): the meter answers SERR bit 6, counted as a refusal with code 21, credit unchanged.
    s.billing.set_hoarding_limit(s.meter_no, None)
    over = s.vend(Decimal("200.00"))
    s.write_vend(over)
    before = snapshot(s)
    refused = insert_refused(s, CardErrorCode.HOARDING_LIMIT_EXCEEDED)
    assert not refused.accepted and "hoarding limit" in refused.meter_message
    assert snapshot(s) == before
    assert [r.serr for r in s.refusals] == [sec.SERR_HOARDING]
    assert str(s.record.outcome) == "pass", [(st.name, st.error) for st in s.record.steps]

    # Re-issued for another meter: the office authenticates with that meter's identity, which
    # the meter refuses (SERR bit 3): the card's meter number mismatch, credit unchanged.
    s.station.personalise(None, card_serial=s.card_serial, meter_no="000000009999",
                          key_revision=1)
    refused = insert_refused(s, CardErrorCode.METER_NUMBER_MISMATCH)
    assert "identity authentication failed" in refused.meter_message
    assert snapshot(s) == before
    assert s.meter.card_refusals().count == 2

    # Re-issued for another customer of this meter: the recharge names that customer, which
    # the ESAM's opened account refuses (SERR bit 4): the card's customer number mismatch.
    s.station.personalise(None, card_serial=s.card_serial, meter_no=s.meter_no,
                          key_revision=1, customer_no="123456789012")
    refused = insert_refused(s, CardErrorCode.CUSTOMER_NUMBER_MISMATCH)
    assert "customer number mismatch" in refused.meter_message
    assert snapshot(s) == before
    assert [r.serr for r in s.refusals][-1] == sec.SERR_CUSTOMER
    assert str(s.record.outcome) == "pass", [(st.name, st.error) for st in s.record.steps]


@pytest.mark.bench
def test_what_needs_a_card_stays_not_applicable(steps: RemoteSteps) -> None:
    with pytest.raises(NotApplicable, match=r"^a supply cut after check of a card session: "
                                            r"not applicable: remote delivery has no card$"):
        supply_cut_during_next_insertion(steps, "after check")
    with pytest.raises(NotApplicable, match=r"^the card station's write parameters: not "
                                            r"applicable: remote delivery has no card$"):
        steps.station.write_parameters  # noqa: B018 (the attribute is the card step)
    with pytest.raises(NotApplicable, match="personalise as a parameter card"):
        steps.station.personalise(None, card_serial=steps.card_serial, meter_no=steps.meter_no,
                                  key_revision=1, kind=CardKind.PARAMETER)
