"""A meter profile's `[sts]` section: the STS identity of a keypad meter (never its keys).

An emulated meter with this section gets a keypad, commissioned with the decoder key that
the public lab vending keys give for this identity — the STS 531-1 conformance test keys,
as public as rig's lab card key. A real meter's keys stay with its key service.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from rig.sts.encryption import Encryption
from rig.sts.errors import StsError

if TYPE_CHECKING:  # the key derivations are imported when a key is derived
    from rig.sts.keys import MeterIdentity

# The vending keys of the STS 531-1 compliance test set-up (tests/sts/vectors.py): public.
LAB_VENDING_KEY_DKGA02 = bytes.fromhex("abababababababab")
LAB_VENDING_KEY_DKGA04 = bytes.fromhex("abababababababab949494949494949401234567")


def _digits(count: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) != count or not value.isascii() or not value.isdigit():
            raise ValueError(f"{value!r}: the {what} is {count} decimal digits (a string)")
        return value

    return AfterValidator(check)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check the MeterPAN's last digit makes (ISO/IEC 7812-1)."""
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _luhn(value: str) -> str:
    if not luhn_ok(value):
        raise ValueError(f"{value!r}: the MeterPAN's last digit is its Luhn check digit, and "
                         "it does not match (a mistyped PAN or DRN)")
    return value


class StsSection(BaseModel):
    """`[sts]`: the meter's PAN, supply group, tariff index, key revision and type, its
    decoder key generation and encryption algorithms and its TID base date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pan: Annotated[str, _digits(18, "MeterPAN"), AfterValidator(_luhn)]
    supply_group: Annotated[str, _digits(6, "supply group code")]
    tariff_index: Annotated[str, _digits(2, "tariff index")] = "01"
    key_revision: Annotated[int, Field(ge=1, le=9)] = 1
    key_type: Annotated[int, Field(ge=0, le=3)] = 2
    dkga: Literal["dkga02", "dkga04"] = "dkga02"
    encryption: Encryption = Encryption.STA
    base_date: Literal[1993, 2014, 2035] = 1993
    tid_memory: Annotated[int, Field(ge=1, le=1000)] = 50  # TIDs the meter remembers
    # A currency token (class 0 subclass 4) counts steps of 0.00001 *base currency units*, a
    # unit IEC 62055-41 leaves to the utility and the meter's maker: this is one step in the
    # meter's own currency (0.00001: the base unit is the currency; 0.01: one step is a cent).
    currency_step: Annotated[Decimal, Field(gt=0, le=1, decimal_places=5)] = Decimal("0.00001")

    def meter(self) -> MeterIdentity:
        from rig.sts.keys import MeterIdentity

        return MeterIdentity(self.pan, self.supply_group, self.tariff_index,
                             self.key_revision, self.key_type)

    def lab_decoder_key(self) -> bytes:
        """The decoder key the lab vending key gives this meter (emulated benches only)."""
        from rig.sts.keys import dkga02, dkga04

        if self.dkga == "dkga02":
            return dkga02(LAB_VENDING_KEY_DKGA02, self.meter())
        return dkga04(LAB_VENDING_KEY_DKGA04, self.meter(), self.encryption, self.base_date)


def identity_of(values: dict[str, object], where: str = "STS identity") -> StsSection:
    """An STS identity entered at a desk (CLI, API, console), or one line naming the first
    field at fault and why: the same rules as a profile's `[sts]` section."""
    try:
        return StsSection.model_validate(values)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "?"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise StsError(f"{where}: {field}: {msg}") from None
