"""Tariffs: listing (any operator) and new versions (administrator)."""

from __future__ import annotations

from fastapi import APIRouter, status

from rig.billing.api.auth import Cashier, Centre, role
from rig.billing.api.schemas import TariffIn, TariffOut
from rig.billing.types import Band, Block, OperatorRole, Tax

router = APIRouter(prefix="/tariffs", tags=["tariffs"])
Admin = role(OperatorRole.ADMINISTRATOR, "changing tariffs")


@router.get("", response_model=list[TariffOut])
def list_tariffs(centre: Centre, _op: Cashier, code: str | None = None) -> list[TariffOut]:
    return [TariffOut.model_validate(t) for t in centre.tariffs(code)]


@router.post("", response_model=TariffOut, status_code=status.HTTP_201_CREATED)
def create_tariff(body: TariffIn, centre: Centre, op: Admin) -> TariffOut:
    """Add a tariff version (versions are append-only; a price change is a new version)."""
    info = centre.create_tariff(
        body.code, body.price_per_kwh, body.effective_from, body.version,
        kind=body.kind,
        blocks=tuple(Block(b.up_to_wh, b.price_per_kwh) for b in body.blocks),
        bands=tuple(Band(b.name, b.start_minute, b.end_minute, b.price_per_kwh)
                    for b in body.bands),
        utc_offset_minutes=body.utc_offset_minutes,
        fixed_monthly=body.fixed_monthly,
        taxes=tuple(Tax(t.name, t.rate_percent) for t in body.taxes),
        actor=op.name,
    )
    return TariffOut.model_validate(info)
