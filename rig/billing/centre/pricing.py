"""Tariffs and pricing: append-only tariff versions, and the per-centre cache the sale reads
them from (a version never changes once created)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rig.billing import inputs
from rig.billing import models as m
from rig.billing.centre.access import Access
from rig.billing.centre.errors import Conflict
from rig.billing.centre.lookup import decimal
from rig.billing.centre.rows import tariff_info
from rig.billing.centre.uow import UnitOfWork
from rig.billing.models import to_utc
from rig.billing.tariffs import CENT, TariffError, validate_structure
from rig.billing.types import Band, Block, TariffInfo, Tax
from rig.errors import BillingError


def _checked_taxes(taxes: tuple[Tax, ...]) -> None:
    for i, t in enumerate(taxes):
        inputs.check_label(t.name, f"taxes[{i}].name")
        rate = decimal(t.rate_percent, f"taxes[{i}].rate_percent")
        if not rate.is_finite() or not (0 <= rate <= 100) or rate != rate.quantize(
            Decimal("0.0001")
        ):
            raise BillingError(f"tax {t.name}: rate {t.rate_percent}% must be 0…100, 4 dp")


def _structure(kind: str, blocks: tuple[Block, ...], bands: tuple[Band, ...],
               utc_offset_minutes: int) -> dict[str, Any]:
    """The tariff's blocks or bands as the row stores them (exact prices as text)."""
    structure: dict[str, Any] = {}
    if kind == "block":
        structure["blocks"] = [
            {"up_to_wh": b.up_to_wh, "price_per_kwh": str(b.price_per_kwh)} for b in blocks
        ]
    if kind == "tou":
        structure["bands"] = [
            {"name": b.name, "start_minute": b.start_minute, "end_minute": b.end_minute,
             "price_per_kwh": str(b.price_per_kwh)} for b in bands
        ]
        structure["utc_offset_minutes"] = utc_offset_minutes
    return structure


class Tariffs:
    """Tariff versions: created append-only, read by the sale from a cache."""

    def __init__(self, uow: UnitOfWork, access: Access) -> None:
        self.uow = uow
        self.access = access
        self._versions: dict[int, TariffInfo] = {}  # append-only versions, by id

    def create_tariff(
        self,
        code: str,
        price_per_kwh: Decimal,
        effective_from: datetime,
        version: int | None = None,
        *,
        kind: str = "flat",
        blocks: tuple[Block, ...] = (),
        bands: tuple[Band, ...] = (),
        utc_offset_minutes: int = 0,
        fixed_monthly: Decimal = Decimal("0.00"),
        taxes: tuple[Tax, ...] = (),
        actor: str = "system",
    ) -> TariffInfo:
        """Add a version of tariff ``code`` (next version number unless given).

        Versions are append-only: a price change is a new version with a later
        ``effective_from``, so past vends keep pointing at the price they were sold at.
        ``price_per_kwh`` is the flat rate, or for block/TOU the rate a money meter would
        apply (shown on the card). ``actor``, if an operator, must not be a cashier.
        """
        price = inputs.check_price(decimal(price_per_kwh, "price_per_kwh"), "price_per_kwh")
        fixed = decimal(fixed_monthly, "fixed_monthly")
        if not fixed.is_finite() or fixed.adjusted() >= inputs.MONEY_DIGITS or fixed < 0 \
                or fixed != fixed.quantize(CENT):
            raise BillingError(f"fixed monthly charge {fixed} must be ≥ 0 in whole cents")
        if version is not None:
            inputs.check_tariff_version(version)
        inputs.check_instant(effective_from, "effective_from")
        inputs.check_int(utc_offset_minutes, "utc_offset_minutes", -inputs.OFFSET_MINUTES_MAX,
                         inputs.OFFSET_MINUTES_MAX)
        for i, b in enumerate(blocks):
            inputs.check_price(decimal(b.price_per_kwh, "price"), f"blocks[{i}].price_per_kwh")
        for i, band in enumerate(bands):
            inputs.check_price(decimal(band.price_per_kwh, "price"),
                               f"bands[{i}].price_per_kwh")
        _checked_taxes(taxes)
        try:
            validate_structure(kind, blocks, bands)
        except TariffError as e:
            raise BillingError(f"tariff {code}: {e}") from None
        structure = _structure(kind, blocks, bands, utc_offset_minutes)
        try:
            with self.uow.transaction("create_tariff") as s:
                if version is None:
                    latest = s.scalar(
                        select(m.Tariff.version).where(m.Tariff.code == code)
                        .order_by(m.Tariff.version.desc()).limit(1))
                    version = inputs.check_tariff_version((latest or 0) + 1)
                self.access.require_role(s, actor, "change tariffs", allow_system=True)
                row = m.Tariff(
                    code=code, version=version, price_per_kwh=price,
                    effective_from=to_utc(effective_from), created_at=self.uow.now(),
                    kind=kind, structure=structure, fixed_monthly=fixed,
                    taxes=[{"name": t.name, "rate_percent": str(t.rate_percent)} for t in taxes],
                )
                s.add(row)
                s.flush()
                info = tariff_info(row)
                self.uow.audit(s, actor, "tariff.create", "tariff", row.id, None, info)
                return info
        except IntegrityError:
            raise Conflict(f"tariff {code} version {version} already exists") from None

    def tariffs(self, code: str | None = None) -> list[TariffInfo]:
        """Every tariff version (of ``code``), by code then version."""
        with self.uow.transaction("tariffs") as s:
            q = select(m.Tariff).order_by(m.Tariff.code, m.Tariff.version)
            if code is not None:
                q = q.where(m.Tariff.code == code)
            return [tariff_info(t) for t in s.scalars(q)]

    def cached(self, tariff_id: int) -> TariffInfo | None:
        """A version read before, without touching the database."""
        return self._versions.get(tariff_id)

    def version(self, s: Session, tariff_id: int) -> TariffInfo:
        """A tariff version by id, read once per centre."""
        info = self._versions.get(tariff_id)
        if info is None:
            row = s.get(m.Tariff, tariff_id)
            assert row is not None
            info = self._versions[tariff_id] = tariff_info(row)
        return info
