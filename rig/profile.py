"""Meter profiles: one TOML file per meter model, validated on load.

A profile is the rig's reference model of a meter: the emulated firmware is driven by the
same file the scenarios read their expectations from, so a profile certifies a model.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rig.errors import ConfigError
from rig.tomlconfig import load_toml_model

DEFAULT_PROFILE = "dlt645-1p-money"
_ROOT = Path(__file__).resolve().parent.parent


class CreditKind(StrEnum):
    """What the meter's credit register counts."""

    MONEY = "money"
    ENERGY = "energy"


NonNegative = Annotated[Decimal, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Identity(_Strict):
    maker: str
    model: str
    firmware: str


class SerialSettings(_Strict):
    baudrate: Literal[300, 600, 1200, 2400, 4800, 9600, 19200] = 2400
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2


class ProtocolSettings(_Strict):
    kind: Literal["dlt645-2007"]
    address: str = Field(description="12-digit communication address as on the nameplate")
    serial: SerialSettings = SerialSettings()

    @field_validator("address")
    @classmethod
    def _twelve_digits(cls, v: str) -> str:
        if not re.fullmatch(r"\d{12}", v):
            raise ValueError("must be exactly 12 decimal digits")
        return v


class Credit(_Strict):
    unit: CreditKind
    currency: str = "CNY"
    resolution: Decimal = Field(description="smallest credit step on card and register")
    factory_price_per_kwh: NonNegative = Field(
        description="unit price the meter uses until a card brings a tariff (money meters)"
    )

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, v: Decimal) -> Decimal:
        if v not in (Decimal("0.01"), Decimal("1")):
            raise ValueError("must be 0.01 (money cents) or 1 (energy Wh)")
        return v


class Thresholds(_Strict):
    """Credit levels in the profile's credit unit (money or kWh)."""

    alarm1: NonNegative
    alarm2: NonNegative
    overdraft_limit: NonNegative = Decimal(0)
    hoarding_limit: NonNegative
    close_allowed: NonNegative = Decimal(0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.alarm2 > self.alarm1:
            raise ValueError("alarm2 must not exceed alarm1 (alarm 2 is the lower, later one)")
        if self.hoarding_limit <= self.alarm1:
            raise ValueError("hoarding_limit must be above alarm1")
        return self


class Metering(_Strict):
    phases: Literal[1, 3] = 1
    nominal_voltage: Annotated[Decimal, Field(gt=0)] = Decimal(220)
    accuracy_class: Literal["0.5S", "1", "2"] = "1"


class CardSettings(_Strict):
    application_version: Annotated[int, Field(ge=1, le=255)] = 1
    key_revision: Annotated[int, Field(ge=0, le=255)] = 1


class MeterProfile(_Strict):
    """One meter model, as certified."""

    name: str
    identity: Identity
    protocol: ProtocolSettings
    credit: Credit
    thresholds: Thresholds
    metering: Metering = Metering()
    card: CardSettings = CardSettings()
    capabilities: frozenset[str] = frozenset()
    source: Path | None = Field(default=None, exclude=True)

    def to_credit_units(self, amount: Decimal) -> int:
        """Convert a profile amount (money or kWh) to integer card/register units."""
        if self.credit.unit is CreditKind.MONEY:
            return int(amount / Decimal("0.01"))
        return int(amount * 1000)

    def from_credit_units(self, units: int) -> Decimal:
        if self.credit.unit is CreditKind.MONEY:
            return (Decimal(units) / 100).quantize(Decimal("0.01"))
        return (Decimal(units) / 1000).quantize(Decimal("0.001"))


def profiles_dir() -> Path:
    """Where profiles live: $RIG_PROFILES_DIR, else the repository's meter_profiles/."""
    env = os.environ.get("RIG_PROFILES_DIR")
    return Path(env) if env else _ROOT / "meter_profiles"


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml"))


def load_profile_file(path: Path) -> MeterProfile:
    """Load and validate one profile; errors name the file, the field and the problem."""
    return load_toml_model(path, MeterProfile, "meter profile", name=path.stem)


def load_profile(name_or_path: str = DEFAULT_PROFILE) -> MeterProfile:
    """Load a profile by name (file stem in profiles_dir()) or by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return load_profile_file(candidate)
    path = profiles_dir() / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(available_profiles()) or "none"
        raise ConfigError(f"meter profile {name_or_path!r} not found in {profiles_dir()} "
                          f"(known: {known})")
    return load_profile_file(path)
