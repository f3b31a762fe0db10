"""What `rig billing meters add` and `cards issue` take from the meter's model: the credit unit,
key revision and hoarding limit a meter profile declares, and the card serial the card writer
accepts, so a registration matches the meter before any card is written."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rig.errors import ConfigError
from rig.profile import CreditKind, MeterProfile, load_profile
from rig.sts.identity import StsSection

UNITS = {CreditKind.MONEY: "money_cents", CreditKind.ENERGY: "energy_wh"}
_CARD_SERIAL = re.compile(r"[0-9A-Fa-f]{16}")


class RegistrationError(ValueError):
    """A registration that does not fit the meter's model or card; the message is the line."""


@dataclass(frozen=True)
class MeterDefaults:
    unit: str
    key_revision: int
    hoarding_limit: int | None  # credit units (cents / Wh)
    source: str  # where they came from, for the confirmation line
    sts: StsSection | None = None  # the profile's [sts] section: defaults for --sts-… options


def meter_defaults(profile_name: str, *, unit: str | None, key_revision: int | None,
                   hoarding_limit: int | None) -> MeterDefaults:
    """Options given win; the rest come from the profile. A unit that contradicts the profile
    is refused (the meter counts what its model counts)."""
    try:
        profile: MeterProfile | None = load_profile(profile_name)
    except ConfigError:
        profile = None
    if profile is None:
        if unit is None:
            raise RegistrationError(
                f"--profile {profile_name!r} is not a meter profile rig knows (`rig profiles`), "
                "so give --unit money_cents|energy_wh (and --key-revision)")
        return MeterDefaults(unit, key_revision if key_revision is not None else 1,
                             hoarding_limit, "the options")
    declared = UNITS[profile.credit.unit]
    if unit is not None and unit != declared:
        raise RegistrationError(f"--unit {unit}: profile {profile.name!r} counts credit in "
                                f"{declared}; leave --unit out to take it from the profile")
    limit = hoarding_limit if hoarding_limit is not None else \
        profile.to_credit_units(profile.thresholds.hoarding_limit)
    revision = key_revision if key_revision is not None else profile.card.key_revision
    return MeterDefaults(declared, revision, limit, f"profile {profile.name}", profile.sts)


def card_serial(value: str) -> str:
    """A serial the card writer can personalise: 16 hex digits (8 bytes, docs/card-spec.md)."""
    if not _CARD_SERIAL.fullmatch(value):
        raise RegistrationError(f"card serial {value!r}: the card writer personalises a card "
                                "with 16 hex digits (8 bytes, e.g. 0123456789ABCDEF); see "
                                "docs/card-spec.md")
    return value.upper()
