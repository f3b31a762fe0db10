"""Shared setup of the REST API / CLI / remote-client tests: one billing centre with the three
roles, a station, a customer, a tariff, a money meter and its card, plus a token per role
bound to the station, and the cashier's session open there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from rig.billing import BillingCentre, CreditUnit, ReadbackData
from rig.card.apdu import RecordError
from rig.sim.meter_readback import meter_readback

T0 = datetime(2024, 1, 1, tzinfo=UTC)
METER = "000012345678"
CARD = "CARD-1"
STATION = "DESK-1"
PRICE = Decimal("0.1500")
E0 = 1_000
KEY_REVISION = 3


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def clock() -> Clock:
    return Clock(T0 + timedelta(days=10, hours=9))


@dataclass
class Seed:
    tokens: dict[str, str]  # role → bearer secret

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def seed(c: BillingCentre) -> Seed:
    c.register_operator("ann", "administrator")
    c.register_operator("sam", "supervisor")
    c.register_operator("carol", "cashier")
    c.register_station(STATION)
    c.register_customer("Ada Lovelace", "ACC-1", "1 Bench Road")
    c.create_tariff("RES", PRICE, T0)
    c.register_meter(METER, customer_account="ACC-1", profile="emulated-1ph",
                     credit_unit=CreditUnit.MONEY_CENTS, tariff_code="RES",
                     key_revision=KEY_REVISION,
                     commissioning_energy_wh=E0, commissioned_at=T0)
    c.issue_card(METER, CARD)
    tokens = {
        role: c.create_api_token(name, actor="ann", label=f"test {role}",
                                 stations=[STATION]).secret
        for role, name in (("administrator", "ann"), ("supervisor", "sam"), ("cashier", "carol"))
    }
    c.open_session("carol", STATION)  # a cashier sells over the API inside an open session
    return Seed(tokens)


def readback_json(**over: Any) -> dict[str, Any]:
    """A readback as JSON: by default the meter applied nothing yet. Unless ``over`` sets
    raw_hex, it carries the raw record the meter writes for these fields (genuine MAC), when
    the fields fit a card record at all."""
    body: dict[str, Any] = dict(
        meter_no=METER, energy_wh=E0, remaining=0, overdraft=0, purchase_count=0,
        last_sequence=0, cumulative_purchase=0, credit_unit="money_cents", relay_open=False,
        alarm_active=False, alarm_count=0, cutoff_count=0, tamper_count=0, power_down_count=0,
        timestamp=(T0 + timedelta(days=10)).isoformat(), tariff_version=1)
    body.update(over)
    if "raw_hex" not in over:
        fields = {k: v for k, v in body.items() if k not in ("card_serial", "mac_verified")}
        try:
            data = ReadbackData(**{**fields, "timestamp": datetime.fromisoformat(
                fields["timestamp"])})
            body["raw_hex"] = meter_readback(data, key_revision=KEY_REVISION).hex()
        except (RecordError, ValueError, TypeError):
            pass  # fields no card record can hold: the schema refuses them
    return body
