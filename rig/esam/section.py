"""`[esam]`: a meter profile's secure access module (docs/esam.md).

The serial identifies the ESAM in identity authentication and abnormal-insertion records;
the key state is the one the emulated meter is commissioned in (a real meter's is read from
it); ``identity_minutes`` is how long an identity authentication stays valid.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rig.esam.commissioning import DEFAULT_IDENTITY_MINUTES, KeyState


class EsamSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    serial: Annotated[str, StringConstraints(pattern=r"^[0-9A-F]{16}$")] = "0000000000000001"
    key_state: KeyState = KeyState.PUBLIC
    identity_minutes: Annotated[int, Field(ge=1, le=1440)] = DEFAULT_IDENTITY_MINUTES
