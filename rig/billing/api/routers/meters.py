"""Meters and their cards: lookups (any operator), card replacement and queued parameters
(supervisor), registration, blocking and card issue (administrator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from rig.billing.api.auth import Cashier, Centre, role
from rig.billing.api.schemas import (
    CardIn,
    CardOut,
    CardStatusIn,
    HoardingLimitIn,
    HoardingOut,
    MeterIn,
    MeterOut,
    MeterStatusIn,
    ParametersIn,
    ParametersOut,
    ReconciliationOut,
    ReplaceCardIn,
    ReplaceCardOut,
    VendOut,
)
from rig.billing.types import OperatorRole

router = APIRouter(tags=["meters"])
AdminMeters = role(OperatorRole.ADMINISTRATOR, "changing meters")
AdminCards = role(OperatorRole.ADMINISTRATOR, "issuing or blocking cards")
Replacer = role(OperatorRole.SUPERVISOR, "replacing a card")
Parameters = role(OperatorRole.SUPERVISOR, "queueing meter parameters")


@router.get("/meters", response_model=list[MeterOut])
def list_meters(centre: Centre, _op: Cashier,
                customer_account: str | None = None) -> list[MeterOut]:
    return [MeterOut.model_validate(x) for x in centre.meters(customer_account)]


@router.post("/meters", response_model=MeterOut, status_code=status.HTTP_201_CREATED)
def register_meter(body: MeterIn, centre: Centre, op: AdminMeters) -> MeterOut:
    info = centre.register_meter(
        body.meter_no, customer_account=body.customer_account, profile=body.profile,
        credit_unit=body.credit_unit, tariff_code=body.tariff_code,
        key_revision=body.key_revision, commissioning_energy_wh=body.commissioning_energy_wh,
        commissioned_at=body.commissioned_at, hoarding_limit=body.hoarding_limit, actor=op.name,
        sts=None if body.sts is None else body.sts.model_dump())
    return MeterOut.model_validate(info)


@router.get("/meters/{meter_no}", response_model=MeterOut)
def get_meter(meter_no: str, centre: Centre, _op: Cashier) -> MeterOut:
    return MeterOut.model_validate(centre.meter(meter_no))


@router.put("/meters/{meter_no}/status", response_model=MeterOut)
def set_meter_status(meter_no: str, body: MeterStatusIn, centre: Centre,
                     op: AdminMeters) -> MeterOut:
    return MeterOut.model_validate(centre.set_meter_status(meter_no, body.status, actor=op.name))


@router.put("/meters/{meter_no}/hoarding-limit", response_model=MeterOut)
def set_hoarding_limit(meter_no: str, body: HoardingLimitIn, centre: Centre,
                       op: AdminMeters) -> MeterOut:
    """Change the meter's hoarding limit (null removes it); audited."""
    return MeterOut.model_validate(centre.set_hoarding_limit(meter_no, body.hoarding_limit,
                                                             actor=op.name))


@router.get("/meters/{meter_no}/hoarding", response_model=HoardingOut)
def hoarding(meter_no: str, centre: Centre, _op: Cashier) -> HoardingOut:
    """Limit, estimated credit on the meter and the most that can be vended now."""
    return HoardingOut.model_validate(centre.hoarding(meter_no))


@router.get("/meters/{meter_no}/vends", response_model=list[VendOut])
def meter_vends(meter_no: str, centre: Centre, _op: Cashier) -> list[VendOut]:
    return [VendOut.model_validate(v) for v in centre.vends_for_meter(meter_no)]


@router.get("/meters/{meter_no}/reconciliation", response_model=ReconciliationOut | None)
def latest_reconciliation(meter_no: str, centre: Centre,
                          _op: Cashier) -> ReconciliationOut | None:
    """The meter's newest reconciliation (null before its first readback)."""
    rec = centre.latest_reconciliation(meter_no)
    return None if rec is None else ReconciliationOut.of(rec)


@router.get("/meters/{meter_no}/cards", response_model=list[CardOut])
def meter_cards(meter_no: str, centre: Centre, _op: Cashier) -> list[CardOut]:
    return [CardOut.model_validate(c) for c in centre.cards(meter_no)]


@router.post("/meters/{meter_no}/cards", response_model=CardOut,
             status_code=status.HTTP_201_CREATED)
def issue_card(meter_no: str, body: CardIn, centre: Centre, op: AdminCards) -> CardOut:
    info = centre.issue_card(meter_no, body.card_serial, body.card_type, actor=op.name)
    return CardOut.model_validate(info)


@router.post("/meters/{meter_no}/card-replacement", response_model=ReplaceCardOut,
             status_code=status.HTTP_201_CREATED)
def replace_card(meter_no: str, body: ReplaceCardIn, centre: Centre,
                 op: Replacer) -> ReplaceCardOut:
    """New card for a lost/damaged one; unconfirmed vends move to it with their sequences."""
    card, moved = centre.replace_card(meter_no, body.new_card_serial, operator=op.name,
                                      reason=body.reason)
    return ReplaceCardOut(card=CardOut.model_validate(card),
                          moved_vends=[VendOut.model_validate(v) for v in moved])


@router.get("/cards/{card_serial}", response_model=CardOut, tags=["cards"])
def get_card(card_serial: str, centre: Centre, _op: Cashier) -> CardOut:
    """Which meter a presented card belongs to, and its status."""
    return CardOut.model_validate(centre.card(card_serial))


@router.put("/cards/{card_serial}/status", response_model=CardOut, tags=["cards"])
def set_card_status(card_serial: str, body: CardStatusIn, centre: Centre,
                    op: AdminCards) -> CardOut:
    return CardOut.model_validate(centre.set_card_status(card_serial, body.status,
                                                         actor=op.name))


@router.get("/meters/{meter_no}/parameters", response_model=ParametersOut)
def pending_parameters(meter_no: str, centre: Centre, _op: Cashier) -> ParametersOut:
    return ParametersOut(meter_no=meter_no, pending=centre.pending_parameters(meter_no) or {})


@router.post("/meters/{meter_no}/parameters", response_model=ParametersOut,
             status_code=status.HTTP_201_CREATED)
def queue_parameters(meter_no: str, body: ParametersIn, centre: Centre,
                     op: Parameters) -> ParametersOut:
    """Queue alarm thresholds for the meter's next card write; returns the merged pending set."""
    params = body.model_dump(exclude_none=True)
    pending = centre.queue_parameters(meter_no, operator=op.name, **params)
    return ParametersOut(meter_no=meter_no, pending=pending)
