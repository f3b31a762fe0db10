"""The CI sample of the mutant campaign: a fixed, fast subset with at least one mutant of every
family of defects in the catalogue, each on a profile it applies to.

A change that weakens a scenario so that its own mutant survives must fail CI without running
the whole campaign (minutes a profile). Each family is one kind of thing a meter gets wrong
(docs/certification.md, "The CI sample"); a new defect must fall into a family here, or
`family()` says it has none and the sample's test fails.
"""

from __future__ import annotations

from rig.sim.defects import DEFECTS, Defect
from rig.sim.defects import requirements as d

# Families by the requirement a defect breaks; the names below are exceptions to it.
_BY_REQUIREMENT = {
    d.ALARMS: "credit/relay engine",
    d.CUTOFF: "credit/relay engine",
    d.BUY: "credit/relay engine",
    d.EMERGENCY: "emergency/friendly/overdraft",
    d.FRIENDLY: "emergency/friendly/overdraft",
    d.POWER: "power limit",
    d.HOARDING: "hoarding",
    d.PARAMETERS: "parameter card",
    d.KEY_CHANGE: "key change",
    d.PROTOCOL_ERROR: "protocol error answer",
    d.PRINTER: "printer",
    d.CUT_IN_CARD: "tearing",
    d.CUT_IN_USE: "supply and cover",
    d.COVER: "supply and cover",
    d.REPLAY: "card acceptance",
    d.OTHER_METER: "card acceptance",
    d.MAC: "card acceptance",
    d.CYCLES: "metering and reconciliation",
    d.TARIFF: "tariff",
    d.CARD_TIMING: "card timing",
}
_BY_NAME = {
    "overdraft-ignored": "emergency/friendly/overdraft",
    "close-allowed-ignored": "emergency/friendly/overdraft",
    "remaining-register-digit-high": "register encoding",
    "relay-status-bit-stuck": "register encoding",
}


def family(defect: Defect) -> str | None:
    """The family of `defect`; None for one no rule here places (a new kind of defect)."""
    if defect.name in _BY_NAME:
        return _BY_NAME[defect.name]
    if defect.name.startswith("sts-"):
        return "STS"
    if defect.name.startswith("esam-"):
        return "ESAM meter"
    if "readback-" in defect.name:
        return "readback"
    return _BY_REQUIREMENT.get(defect.requirement)


# The IEC refusal register (C.55.3, the last refused card's error code on an IEC 62056-21
# meter) has no defect of its own: on iec62056-1p-energy `card-for-another-meter-accepted` is
# still refused by the card's authentication, and dies only because the scenario reads C.55.3
# and finds the wrong reason. A scenario that stopped reading it would let that mutant live.
IEC_REFUSAL_REGISTER = "IEC refusal register"

# (profile, mutant) pairs: every family at least once, each the cheapest one found on a
# profile it applies to (the emulated bench runs it at 36000x, power limit at 60x).
SAMPLE: tuple[tuple[str, str], ...] = (
    ("dlt645-1p-money", "cutoff-late"),
    ("dlt645-1p-money", "emergency-credit-refused"),
    ("dlt645-1p-money", "hoarding-not-enforced"),
    ("dlt645-1p-money", "parameter-card-ignored"),
    ("dlt645-1p-money", "readback-wrong-last-sequence"),
    ("dlt645-1p-money", "key-change-wrong-key-accepted"),
    ("dlt645-1p-money", "remaining-register-digit-high"),
    ("dlt645-1p-money", "error-answer-missing"),
    ("dlt645-1p-money", "printer-paper-end-not-reported"),
    ("dlt645-1p-money", "torn-write-doubles-credit"),
    ("dlt645-1p-money", "replay-applied-again"),
    ("dlt645-1p-money", "tamper-not-latched"),
    ("dlt645-1p-money", "tariff-not-applied"),
    ("dlt645-1p-money", "card-session-slow"),
    ("dlt645-1p-money", "purchase-count-stuck"),
    ("dlt645-3p-power-limit", "power-limit-low"),  # not-enforced waits out a bench hour
    ("iec62056-1p-energy", "card-for-another-meter-accepted"),
    ("iec62056-1p-energy", "sts-used-token-accepted"),
    ("dlt645-1p-cpu-card", "esam-purchase-two-ahead-credited"),
)


def sample_families() -> dict[str, list[tuple[str, str]]]:
    """Family -> the sampled (profile, mutant) pairs that stand for it."""
    out: dict[str, list[tuple[str, str]]] = {}
    for profile, name in SAMPLE:
        fam = family(DEFECTS[name])
        if fam is not None:
            out.setdefault(fam, []).append((profile, name))
        if profile.startswith("iec62056") and name == "card-for-another-meter-accepted":
            out.setdefault(IEC_REFUSAL_REGISTER, []).append((profile, name))
    return out


def catalogue_families() -> set[str]:
    """Every family the catalogue has a defect in, and the IEC refusal register."""
    return {family(x) or f"(no family: {x.name})" for x in DEFECTS.values()} | {
        IEC_REFUSAL_REGISTER}


def sample_for(profile: str) -> list[Defect]:
    """The sampled mutants that run on `profile`."""
    return [DEFECTS[name] for p, name in SAMPLE if p == profile]
