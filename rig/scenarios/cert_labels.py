"""What a lab filters certification results on: feature, severity and the requirement's
anchor in docs/certification.md, per requirement (the test name without ``test_``)."""

from __future__ import annotations

from dataclasses import dataclass

DOC = "docs/certification.md"


@dataclass(frozen=True)
class RequirementLabels:
    feature: str  # credit | alarm | cut-off | tamper | security | billing
    severity: str  # Allure's: blocker | critical | normal | minor | trivial

    @staticmethod
    def anchor(requirement: str) -> str:
        """The requirement's anchor in docs/certification.md (``req-`` + words joined by -)."""
        return "req-" + "-".join("".join(c for c in w if c.isalnum()) for w in
                                 requirement.lower().split())


REQUIREMENTS: dict[str, RequirementLabels] = {
    "buy and insert": RequirementLabels("credit", "critical"),
    "replayed card is not applied twice": RequirementLabels("tamper", "blocker"),
    "card for another meter is refused": RequirementLabels("tamper", "blocker"),
    "reconciliation over several cycles": RequirementLabels("billing", "critical"),
    "alarms at predicted times": RequirementLabels("alarm", "critical"),
    "cutoff and reconnection": RequirementLabels("cut-off", "blocker"),
    "emergency credit": RequirementLabels("credit", "normal"),
    "friendly period": RequirementLabels("cut-off", "normal"),
    "forged mac is refused": RequirementLabels("security", "blocker"),
    "hoarding limit refusal": RequirementLabels("security", "critical"),
    "key change card moves the meter to the next key revision":
        RequirementLabels("security", "critical"),
    "key update moves the meter to the private key state":
        RequirementLabels("security", "critical"),
    "purchase two ahead is refused after the return write":
        RequirementLabels("tamper", "critical"),
    "parameter card changes thresholds": RequirementLabels("alarm", "normal"),
    "power limit trip and recovery": RequirementLabels("cut-off", "normal"),
    "tariff change at its effective date": RequirementLabels("billing", "critical"),
    "receipt printer": RequirementLabels("billing", "normal"),
    "power failure during a card insertion": RequirementLabels("credit", "blocker"),
    "power failure during consumption": RequirementLabels("credit", "critical"),
    "terminal cover opening is recorded": RequirementLabels("tamper", "critical"),
    "unknown register is answered with an error": RequirementLabels("security", "normal"),
    "card session within 3 s": RequirementLabels("credit", "normal"),
    "sts credit token is accepted": RequirementLabels("credit", "critical"),
    "sts used token is refused": RequirementLabels("tamper", "blocker"),
    "sts old token is refused": RequirementLabels("tamper", "critical"),
    "sts token made for a different meter is refused": RequirementLabels("security", "blocker"),
    "sts key change then a token under the new key": RequirementLabels("security", "critical"),
    "sts rollover to the next base date": RequirementLabels("security", "critical"),
}


def labels_for(requirement: str) -> RequirementLabels:
    """Labels of a requirement; an unlisted one is a normal-severity credit requirement, so
    a new test is filed somewhere rather than dropped (tests check every one is listed)."""
    return REQUIREMENTS.get(requirement, RequirementLabels("credit", "normal"))


def requirement_link(requirement: str) -> str:
    return f"{DOC}#{RequirementLabels.anchor(requirement)}"
