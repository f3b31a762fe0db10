"""Wire types of the STS desk: a keypad meter's identity, and the tokens a supervisor issues.

The identity's values are checked by the centre with the same rules as a profile's ``[sts]``
section (:func:`rig.sts.identity.identity_of`), so the API, the CLI and a profile refuse the
same PAN with the same sentence. No field carries a key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from rig.billing.api.schemas.fields import _In, _Out

Digits = Annotated[str, Field(min_length=1, max_length=18)]


class StsIdentityIn(_In):
    pan: Digits = Field(description="MeterPAN: 18 digits, the last its Luhn check digit")
    supply_group: Annotated[str, Field(max_length=6)]
    tariff_index: Annotated[str, Field(max_length=2)] = "01"
    key_revision: Annotated[int, Field(ge=1, le=9)] = 1
    key_type: Annotated[int, Field(ge=0, le=3)] = 2
    dkga: Literal["dkga02", "dkga04"] = "dkga02"
    encryption: Literal["sta", "dea", "misty1"] = "sta"
    base_date: Literal[1993, 2014, 2035] = 1993
    currency_step: Decimal = Field(
        default=Decimal("0.00001"), description="a currency token's step in the meter's "
        "currency (a decimal string; 0.01 for a money meter whose token step is a cent)")


class StsIdentityOut(_Out):
    pan: str
    supply_group: str
    tariff_index: str
    key_revision: int
    key_type: int
    dkga: str
    encryption: str
    base_date: int
    currency_step: Decimal


class StsManagementIn(_In):
    kind: Literal["power_limit", "clear_credit", "clear_tamper"]
    value: Annotated[int, Field(ge=0, le=18_201_624, description="W for a power limit")] = 0


class StsKeyChangeIn(_In):
    key_revision: Annotated[int, Field(ge=1, le=9)] | None = None
    tariff_index: Annotated[str, Field(max_length=2)] | None = None
    key_type: Annotated[int, Field(ge=0, le=3)] | None = None
    supply_group: Annotated[str, Field(max_length=6)] | None = None
    rollover: bool = False


class StsTokenOut(_Out):
    token_id: int
    meter_no: str
    kind: str
    digits: str
    tid: int | None
    base_date: int
    value: str
    issued_at: datetime
    vend_id: int | None
    position: int
