"""A meter profile's `[sts]` section: the STS identity of a keypad meter (never its keys).

An emulated meter with this section gets a keypad, commissioned with the decoder key that
the public lab vending keys give for this identity — the STS 531-1 conformance test keys,
as public as rig's lab card key. A real meter's keys stay with its key service.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from rig.sts.keys import Encryption, MeterIdentity, dkga02, dkga04

# The vending keys of the STS 531-1 compliance test set-up (tests/sts/vectors.py): public.
LAB_VENDING_KEY_DKGA02 = bytes.fromhex("abababababababab")
LAB_VENDING_KEY_DKGA04 = bytes.fromhex("abababababababab949494949494949401234567")


def _digits(count: int, what: str) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) != count or not value.isdigit():
            raise ValueError(f"{value!r}: the {what} is {count} decimal digits (a string)")
        return value

    return AfterValidator(check)


class StsSection(BaseModel):
    """`[sts]`: the meter's PAN, supply group, tariff index, key revision and type, its
    decoder key generation and encryption algorithms and its TID base date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pan: Annotated[str, _digits(18, "MeterPAN")]
    supply_group: Annotated[str, _digits(6, "supply group code")]
    tariff_index: Annotated[str, _digits(2, "tariff index")] = "01"
    key_revision: Annotated[int, Field(ge=1, le=9)] = 1
    key_type: Annotated[int, Field(ge=0, le=3)] = 2
    dkga: Literal["dkga02", "dkga04"] = "dkga02"
    encryption: Encryption = Encryption.STA
    base_date: Literal[1993, 2014, 2035] = 1993
    tid_memory: Annotated[int, Field(ge=1, le=1000)] = 50  # TIDs the meter remembers

    def meter(self) -> MeterIdentity:
        return MeterIdentity(self.pan, self.supply_group, self.tariff_index,
                             self.key_revision, self.key_type)

    def lab_decoder_key(self) -> bytes:
        """The decoder key the lab vending key gives this meter (emulated benches only)."""
        if self.dkga == "dkga02":
            return dkga02(LAB_VENDING_KEY_DKGA02, self.meter())
        return dkga04(LAB_VENDING_KEY_DKGA04, self.meter(), self.encryption, self.base_date)
