"""The line and access settings of a meter's protocol, as a profile's [protocol] tables give them.

Below the profile and the protocol registry (rig.meter.protocols) so that both can name them;
`Strict` is the base of every profile table: unknown keys refused, values frozen.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SerialSettings(Strict):
    baudrate: Literal[300, 600, 1200, 2400, 4800, 9600, 19200] = 2400
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "E"
    stopbits: Literal[1, 2] = 1
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2


class Dlt645Settings(Strict):
    """Write access of a DL/T 645 meter: password (PA P0 P1 P2) and operator code, as hex."""

    password: str = "02000000"
    operator_code: str = "00000000"
    remote_relay_control: bool = False

    @field_validator("password", "operator_code")
    @classmethod
    def _eight_hex(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9A-Fa-f]{8}", v):
            raise ValueError("must be 8 hex digits (4 bytes, first byte first)")
        return v.upper()


_IEC_TEXT_RULES = {
    "manufacturer": (r"[A-Za-z]{3}", "must be 3 letters (the manufacturer's FLAG ID)"),
    "password": (r"[0-9A-Za-z]{1,32}", "must be 1-32 letters or digits"),
}


class Iec62056Settings(Strict):
    """Mode C settings: sign-on runs at serial.baudrate, then switches to max_baudrate."""

    manufacturer: str = Field("RIG", description="3-letter flag ID sent in the identification")
    identification: str = Field("RIGPP", description="model text after the baud-rate character")
    max_baudrate: Literal[300, 600, 1200, 2400, 4800, 9600, 19200] = 9600
    password: str = Field("00000000", description="P1 password for programming mode")
    reaction_time_ms: Annotated[int, Field(ge=20, le=1500)] = 200

    @field_validator("manufacturer", "password")
    @classmethod
    def _pattern(cls, v: str, info: ValidationInfo) -> str:
        pattern, rule = _IEC_TEXT_RULES[str(info.field_name)]
        if not re.fullmatch(pattern, v):
            raise ValueError(rule)
        return v

    @field_validator("identification")
    @classmethod
    def _ident(cls, v: str) -> str:
        if not re.fullmatch(r"[\x21-\x7e]{1,16}", v) or any(c in v for c in "/!?"):
            raise ValueError("must be 1-16 printable characters without '/', '!' or '?'")
        return v
