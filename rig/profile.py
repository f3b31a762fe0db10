"""Meter profiles: one TOML file per meter model, validated on load.

A profile is the rig's reference model of a meter: the emulated firmware is driven by the
same file the scenarios read their expectations from, so a profile certifies a model.
Validation is strict (unknown keys refused, amounts exact decimals) and every error names
the file, the field and the reason.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rig.card_formats.registry import card_format, check_options
from rig.errors import ConfigError
from rig.esam.section import EsamSection
from rig.meter.protocol_settings import Dlt645Settings, Iec62056Settings, SerialSettings, Strict
from rig.meter.protocols import PROTOCOLS, MeterProtocol, protocol_named
from rig.profile_credit import (
    Credit,
    CreditKind,
    EmergencyCredit,
    FriendlyPeriods,
    Positive,
    PowerLimit,
    Thresholds,
)
from rig.profile_names import DEFAULT_PROFILE, PROFILES_ENV
from rig.sts.identity import StsSection
from rig.tomlconfig import load_toml_model

# Quantities a scenario reads; the register map says where each lives on the wire.
Quantity = Literal[
    "address", "energy_total", "remaining_credit", "overdraft", "emergency_credit",
    "purchase_count", "cumulative_purchase", "status", "last_cutoff",
    "voltage", "current", "power", "clock", "power_down_count", "tamper_count",
    "card_refusal_count", "last_card_refusal", "illegal_card_count", "last_card_refusal_reason",
]

_CAPABILITY = re.compile(r"[a-z][a-z0-9_.-]*")


class Identity(Strict):
    maker: str
    model: str
    firmware: str


class ProtocolSettings(Strict):
    kind: str = Field(description="a protocol of rig.meter.protocols: " + ", ".join(PROTOCOLS))
    address: str = Field(description="communication / device address as on the nameplate")
    serial: SerialSettings = SerialSettings()
    dlt645: Dlt645Settings | None = None
    iec62056: Iec62056Settings | None = None

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        protocol_named(v)  # ValueError naming the known ones
        return v

    @property
    def spec(self) -> MeterProtocol:
        """This meter's protocol: its client, responder and profile fields."""
        return PROTOCOLS[self.kind]

    @model_validator(mode="after")
    def _per_kind(self) -> ProtocolSettings:
        p = self.spec
        if not p.address.fullmatch(self.address):
            raise ValueError(f"address: {p.address_rule}")
        for other in {q.settings_key for q in PROTOCOLS.values()} - {p.settings_key}:
            if getattr(self, other) is not None:
                article = "an" if p.kind[0] in "aeiou" else "a"
                raise ValueError(f"{other}: settings given for {article} {p.kind} meter")
        if getattr(self, p.settings_key) is None:
            object.__setattr__(self, p.settings_key, p.settings())
        p.check_settings(self.serial, self.own_settings)
        return self

    @property
    def own_settings(self) -> Strict:
        """The settings table of this meter's protocol (its defaults if the profile has none)."""
        settings: Strict = getattr(self, self.spec.settings_key)
        return settings


class Metering(Strict):
    phases: Literal[1, 3] = 1
    nominal_voltage: Positive = Decimal(220)
    accuracy_class: Literal["0.2S", "0.5S", "1", "2", "A", "B", "C"] = "1"


class CardSettings(Strict):
    """The meter's card: which card format it reads (an installed ``rig.card_formats``
    entry, docs/card-formats.md) with that format's options, and its key revision."""

    format: str = "rigpp"
    options: dict[str, str] = Field(default_factory=dict)
    application_version: Annotated[int, Field(ge=1, le=255)] = 1
    key_revision: Annotated[int, Field(ge=0, le=255)] = 1

    @model_validator(mode="after")
    def _format_installed(self) -> CardSettings:
        """The format must be installed and know every option and value given."""
        try:
            fmt = card_format(self.format, where="card.format")
            check_options(fmt, self.options, where="card.options")
        except ConfigError as e:
            raise ValueError(str(e)) from None
        return self


# Capabilities whose behaviour the profile must also configure.
_CAPABILITY_NEEDS = {
    "emergency_credit": "an [emergency_credit] section",
    "friendly_periods": "a [friendly_periods] section",
    "power_limit": "a [power_limit] section",
    "alarm2_relay_trip": "relay_trip in thresholds.alarm2_actions",
    "overdraft": "thresholds.overdraft_limit above 0",
    "remote_relay_control": "protocol.dlt645.remote_relay_control = true",
    "sts": "an [sts] section",
    "esam": "an [esam] section",
    "remote_prepayment": "an [esam] section",  # DL/T 645 security commands (docs/esam.md)
}


class MeterProfile(Strict):
    """One meter model, as certified."""

    name: str
    identity: Identity
    protocol: ProtocolSettings
    registers: dict[Quantity, str] = Field(
        default_factory=dict, description="where each quantity is read: DI or OBIS code")
    credit: Credit
    thresholds: Thresholds
    emergency_credit: EmergencyCredit | None = None
    friendly_periods: FriendlyPeriods | None = None
    power_limit: PowerLimit | None = None
    metering: Metering = Metering()
    card: CardSettings = CardSettings()
    sts: StsSection | None = None  # a keypad meter's STS identity (docs/sts.md)
    esam: EsamSection | None = None  # a secure access module in the meter (docs/esam.md)
    capabilities: frozenset[str] = frozenset()
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("registers")
    @classmethod
    def _registers(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        protocol = info.data.get("protocol")
        if protocol is None:
            return v  # the protocol error is reported on its own
        for quantity, code in v.items():
            protocol.spec.check_register(quantity, code)
        return v

    @field_validator("capabilities")
    @classmethod
    def _capability_words(cls, v: frozenset[str]) -> frozenset[str]:
        bad = sorted(c for c in v if not _CAPABILITY.fullmatch(c))
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: a capability is a lower-case word")
        return v

    @model_validator(mode="after")
    def _capabilities_configured(self) -> MeterProfile:
        """Checked on the whole, valid profile: a section that failed its own validation is
        reported once, for what is wrong with it, not again as "lacks" here."""
        t, dlt = self.thresholds, self.protocol.dlt645
        offered = {
            "emergency_credit": self.emergency_credit is not None,
            "friendly_periods": self.friendly_periods is not None,
            "power_limit": self.power_limit is not None,
            "alarm2_relay_trip": "relay_trip" in t.alarm2_actions,
            "overdraft": t.overdraft_limit > 0,
            "remote_relay_control": bool(dlt and dlt.remote_relay_control),
            "sts": self.sts is not None,
            "esam": self.esam is not None,
            "remote_prepayment": self.esam is not None,
        }
        for cap, needs in _CAPABILITY_NEEDS.items():
            if cap in self.capabilities and not offered[cap]:
                raise ValueError(f"capabilities: {cap!r} is declared but the profile lacks "
                                 f"{needs}")
        return self

    # -- derived ---------------------------------------------------------------------
    @property
    def register_map(self) -> dict[str, str]:
        """Every quantity's identifier: the protocol's defaults overlaid with `registers`."""
        money = self.credit.unit is CreditKind.MONEY
        spec = self.protocol.spec
        merged = {**spec.registers(money), **self.registers}
        return {k: spec.register_code(v) for k, v in merged.items()}

    def to_credit_units(self, amount: Decimal) -> int:
        """Convert a profile amount (money or kWh) to integer card/register units."""
        if self.credit.unit is CreditKind.MONEY:
            return int(amount / Decimal("0.01"))
        return int(amount * 1000)

    def from_credit_units(self, units: int) -> Decimal:
        if self.credit.unit is CreditKind.MONEY:
            return (Decimal(units) / 100).quantize(Decimal("0.01"))
        return (Decimal(units) / 1000).quantize(Decimal("0.001"))


def shipped_profiles() -> Traversable:
    """The profiles that ship with rig (package data, wherever rig is installed)."""
    return files("rig") / "data" / "meter_profiles"


def profile_dirs(profiles_dir: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """The user's profile directories, each with the setting that named it, in search order:
    `profiles_dir` (a --profiles-dir option or a bench config's `profiles_dir`), then each
    directory in $RIG_PROFILES_DIR (os.pathsep-separated). They are searched before the
    profiles shipped with rig, so a user profile adds a model or overrides a shipped one."""
    dirs: list[tuple[Path, str]] = []
    if profiles_dir:
        dirs.append((Path(profiles_dir), "profiles_dir"))
    env = os.environ.get(PROFILES_ENV, "")
    dirs += [(Path(d), PROFILES_ENV) for d in env.split(os.pathsep) if d.strip()]
    for directory, setting in dirs:
        if not directory.is_dir():
            raise ConfigError(f"{setting}: meter profiles directory {directory} does not exist")
    return dirs


def profile_files(profiles_dir: str | os.PathLike[str] | None = None) -> dict[str, Traversable]:
    """Every known profile name and its file: user directories first, then rig's own."""
    found: dict[str, Traversable] = {}
    for directory, _ in profile_dirs(profiles_dir):
        for path in sorted(directory.glob("*.toml")):
            found.setdefault(path.stem, path)
    for entry in sorted(shipped_profiles().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found.setdefault(entry.name.removesuffix(".toml"), entry)
    return found


def available_profiles(profiles_dir: str | os.PathLike[str] | None = None) -> list[str]:
    return sorted(profile_files(profiles_dir))


def load_profile_file(path: Path) -> MeterProfile:
    """Load and validate one profile; errors name the file, the field and the problem."""
    return load_toml_model(path, MeterProfile, "meter profile", name=path.stem)


def load_profile(name_or_path: str = DEFAULT_PROFILE,
                 profiles_dir: str | os.PathLike[str] | None = None) -> MeterProfile:
    """Load a profile by path, or by name (file stem) from the user's profile directories
    (see profile_dirs) or rig's shipped profiles."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_file():
        return load_profile_file(candidate)
    known = profile_files(profiles_dir)
    if name_or_path not in known:
        where = [f"{d} ({setting})" for d, setting in profile_dirs(profiles_dir)]
        raise ConfigError(f"meter profile {name_or_path!r} not found in "
                          f"{', '.join([*where, 'the profiles shipped with rig'])} "
                          f"(known: {', '.join(sorted(known)) or 'none'})")
    with as_file(known[name_or_path]) as path:
        return load_profile_file(path)


def with_address(profile: MeterProfile, address: str) -> MeterProfile:
    """The same model at another meter address: one unit of a model among many (a lab bench
    or an emulated meter given its own number), validated like the profile's own address."""
    if address == profile.protocol.address:
        return profile
    try:
        protocol = ProtocolSettings.model_validate(
            {**profile.protocol.model_dump(), "address": address})
    except ValidationError as e:
        problem = "; ".join(str(err["msg"]).removeprefix("Value error, ") for err in e.errors())
        raise ConfigError(f"meter address {address!r} for profile {profile.name!r}: "
                          f"{problem}") from None
    return profile.model_copy(update={"protocol": protocol})
