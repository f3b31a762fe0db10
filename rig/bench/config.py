"""Bench configuration (TOML): which instruments, where, and who the DUT and station are.

An emulated bench needs nothing but a profile; a real bench names its reader, serial port,
VISA resource and how the card gets from writer to meter.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rig.load.dialects import DIALECTS
from rig.printer.settings import PrinterSettings
from rig.profile import DEFAULT_PROFILE
from rig.tomlconfig import load_toml_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DutIdentity(_Strict):
    serial: str = "EMULATED"
    firmware: str = ""


class SerialFaultRates(_Strict):
    """Faults injected on the serial line between rig and meter (reliability testing)."""

    corrupt: Annotated[float, Field(ge=0, le=1)] = 0.0
    drop: Annotated[float, Field(ge=0, le=1)] = 0.0
    duplicate: Annotated[float, Field(ge=0, le=1)] = 0.0
    delay_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    delay_ms: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    seed: int = 1


class MeterPort(_Strict):
    port: str | None = Field(default=None, description="device path or pyserial URL")
    address: str | None = Field(
        default=None, description="this unit's meter address, if not the profile's (benches "
        "sharing a billing centre need distinct meters; an emulated meter takes it)")
    retries: Annotated[int, Field(ge=0, le=50)] | None = Field(
        default=None, description="override the profile's retry budget")
    timeout_s: Annotated[float, Field(gt=0, le=30)] | None = Field(
        default=None, description="override the profile's reply timeout")
    faults: SerialFaultRates | None = None


class CardReader(_Strict):
    reader: str | None = Field(default=None, description="PC/SC reader name or regex")
    courier: Literal["emulated", "prompt", "command"] = "emulated"
    courier_command: str | None = Field(
        default=None, description="card actuator command; gets 'meter' or 'writer' as argument"
    )
    insert_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    dialect: str | None = Field(
        default=None, description="the card writer's command dialect, for a card format "
        "that drives its cards through reader pseudo-APDUs (its 'dialect' option)")
    issue_dialect: str | None = Field(
        default=None, description="the issuing writer's dialect, where the card writer's "
        "cannot issue a blank card (an OMNIKEY writer: issue_dialect = \"acs\"); the format's "
        "'issue_dialect' option")
    issue_reader: str | None = Field(
        default=None, description="the issuing writer's PC/SC reader name or regex, on a real "
        "bench (the format's 'issue_reader' option)")
    options: dict[str, str] = Field(
        default_factory=dict, description="other card-writer options of the profile's card "
        "format (docs/card-formats.md)")

    def writer_options(self) -> dict[str, str]:
        """The options this bench gives the card format's writer (and its virtual card)."""
        named = {"dialect": self.dialect, "issue_dialect": self.issue_dialect,
                 "issue_reader": self.issue_reader}
        return {**self.options, **{k: v for k, v in named.items() if v}}


class LoadResource(_Strict):
    resource: str | None = Field(default=None, description="VISA resource string")
    dialect: str | None = Field(default=None, description="a name of rig.load.DIALECTS; "
                                "default: chosen from the *IDN? reply")
    backend: str = "@py"
    power_w: Annotated[int, Field(gt=0, le=100_000)] = 2000

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, name: str | None) -> str | None:
        if name is not None and name not in DIALECTS:
            raise ValueError(f"unknown load dialect {name!r}; known dialects: "
                             f"{', '.join(DIALECTS)} (or leave it out to choose by *IDN?)")
        return name


class BillingSettings(_Strict):
    url: str | None = Field(default=None, description="SQLAlchemy URL, or http(s):// of a "
                            "served billing centre (`rig billing serve`); default: run folder")
    token_file: Path | None = Field(default=None, description="API token of a served billing "
                                    "centre (else $RIG_BILLING_TOKEN)")
    master_key_file: Path | None = None


class BenchConfig(_Strict):
    """A whole bench. `kind = "emulated"` starts the emulated bench in-process."""

    kind: Literal["emulated", "real"] = "emulated"
    station_id: str = "emulated-bench"
    operator: str | None = Field(
        default=None, description="who runs tests on this bench (records name them; "
        "--operator or $RIG_OPERATOR override it; default: the login name)")
    profile: str = DEFAULT_PROFILE
    profiles_dir: Path | None = Field(
        default=None, description="the user's meter profiles, searched before rig's shipped "
        "ones (relative to this file)")
    lab_test_key: bool = Field(
        default=False, description="a real lab bench whose meters and cards use rig's public "
        "lab test key: allowed only when said here, and stamped on every record")
    time_scale: Annotated[float, Field(gt=0, le=1_000_000)] = 3600.0
    epoch: datetime | None = Field(
        default=None, description="emulated only: the bench time the clock starts at "
        "(timezone-aware; default: now), so time-of-day behaviour is reproducible")
    defect: str | None = Field(
        default=None, description="emulated only: start the meter with this one known defect "
        "from rig.sim.defects (a mutant meter, to show the suite catches it)")
    sim_control: str | None = Field(
        default=None, description="attach to a running `rig sim` (its control URL) "
        "instead of starting an emulated bench in-process")
    dut: DutIdentity = DutIdentity()
    meter: MeterPort = MeterPort()
    card: CardReader = CardReader()
    load: LoadResource = LoadResource()
    billing: BillingSettings = BillingSettings()
    printer: PrinterSettings | None = Field(
        default=None, description="the vending station's receipt printer (ESC/POS); an "
        "emulated bench has one without this (docs/printer.md)")
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _profiles_dir_beside_file(self) -> BenchConfig:
        if self.profiles_dir is not None and self.source is not None \
                and not self.profiles_dir.is_absolute():
            object.__setattr__(self, "profiles_dir",
                               (self.source.parent / self.profiles_dir).resolve())
        return self

    @model_validator(mode="after")
    def _real_needs_parts(self) -> BenchConfig:
        if self.kind == "real":
            missing = [
                name
                for name, value in (
                    ("meter.port", self.meter.port),
                    ("card.reader", self.card.reader),
                    ("load.resource", self.load.resource),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"a real bench needs {', '.join(missing)}")
            if self.time_scale != 1:
                raise ValueError("a real bench runs in real time: time_scale must be 1")
            if self.epoch is not None:
                raise ValueError("epoch: a real bench runs on the real clock; only an "
                                 "emulated bench can start at a chosen instant")
            if self.card.courier == "emulated":
                raise ValueError("a real bench moves cards by 'prompt' or 'command'")
            if self.defect is not None:
                raise ValueError("defect: only an emulated meter can be given a defect")
        if self.defect is not None:
            from rig.sim.defects import DEFECTS

            if self.sim_control is not None:
                raise ValueError("defect: an attached `rig sim` has its own; start it with "
                                 "`rig sim --defect NAME`")
            if self.defect not in DEFECTS:
                raise ValueError(f"defect: unknown meter defect {self.defect!r} (known: "
                                 f"{', '.join(DEFECTS)})")
        if self.epoch is not None and self.epoch.tzinfo is None:
            raise ValueError("epoch: give a timezone (e.g. 2026-03-04T08:00:00+00:00)")
        if self.card.courier == "command" and not self.card.courier_command:
            raise ValueError("card.courier = 'command' needs card.courier_command")
        return self


def load_bench_config(path: Path) -> BenchConfig:
    """Read and validate a bench file; errors name the file, the field and the problem."""
    return load_toml_model(path, BenchConfig, "bench config")
