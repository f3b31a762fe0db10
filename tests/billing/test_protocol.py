"""The local centre and the served one offer the same methods, and the API's reply schemas
carry exactly the fields of the plain types: a facade method without a remote counterpart (or
a reason it has none), a parameter named differently, or a field on one side only fails here."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rig.billing import BillingCentre, Block, ReceiptLine, Tax, VendResult
from rig.billing.api.convert import REPLIES, parse
from rig.billing.api.schemas import TariffOut, VendOut
from rig.billing.protocol import BillingCentreProtocol
from rig.billing.remote import RemoteBillingCentre
from rig.billing.types import CreditUnit, TariffInfo, VendKind, VendStatus

# Facade methods a served centre does not offer, and why.
LOCAL_ONLY = {
    # the server's own sign-in and token checks: a client holds a token instead
    "authenticate", "check_login", "password_stamp", "operator_for_token", "token_holder",
    # the console's and CLI's desk work, served by the console or `rig billing`, not the client
    "add_debt", "agent", "agent_statement", "api_tokens", "assign_agent_station",
    "audit_checkpoint", "audit_log", "card", "cards", "close_session", "create_api_token",
    "customer", "customers", "daily_sales", "debts", "free_issue", "list_agents", "meters",
    "operators", "pending_parameters", "queue_parameters", "quote_vend",
    "reconciliation_exceptions", "register_agent", "replace_card", "revoke_api_token",
    "set_card_status", "set_meter_status", "set_password", "stations", "top_up_agent",
    "vend_pending_payments", "verify_audit_chain",
    # the facade's plumbing
    "now", "transaction",
}


def _public(cls: type) -> dict[str, inspect.Signature]:
    """The public methods ``cls`` and its rig base classes define (the facade inherits its
    plumbing from ``CentreAreas``)."""
    members: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("rig."):
            members.update(vars(klass))
    return {name: inspect.signature(member) for name, member in members.items()
            if not name.startswith("_") and inspect.isfunction(member)}


def _shape(sig: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


PROTOCOL = _public(BillingCentreProtocol)


@pytest.mark.parametrize("name", sorted(PROTOCOL))
@pytest.mark.parametrize("centre", [BillingCentre, RemoteBillingCentre])
def test_both_centres_take_every_protocol_method_as_declared(centre: type, name: str) -> None:
    method = getattr(centre, name, None)
    assert method is not None, f"{centre.__name__} has no {name}"
    declared = _shape(PROTOCOL[name])
    offered = _shape(inspect.signature(method))
    # an implementation may accept more keywords (with defaults), never fewer or other ones
    assert offered[:len(declared)] == declared
    extra = offered[len(declared):]
    assert all(default is not inspect.Parameter.empty for _, _, default in extra), extra


def test_every_facade_method_is_served_or_says_why_not() -> None:
    facade = set(_public(BillingCentre))
    unclassified = facade - set(PROTOCOL) - LOCAL_ONLY
    assert not unclassified, f"add these to BillingCentreProtocol (and the remote client) " \
                             f"or to LOCAL_ONLY with a reason: {sorted(unclassified)}"
    assert not LOCAL_ONLY - facade, "LOCAL_ONLY names a method the facade no longer has"
    assert "limits" in vars(BillingCentreProtocol) and "limits" in vars(RemoteBillingCentre)


@pytest.mark.parametrize("schema", list(REPLIES), ids=lambda s: s.__name__)
def test_each_reply_schema_carries_exactly_its_types_fields(schema: type) -> None:
    plain, derived = REPLIES[schema]
    fields = {f.name for f in dataclasses.fields(plain)}
    assert set(schema.model_fields) - derived == fields


def test_a_reply_parses_back_to_the_value_the_server_sent() -> None:
    at = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    vend = VendResult(
        vend_id=7, request_id="r-7", meter_no="000011112222", card_serial="C-1", sequence=3,
        credit=1234, credit_unit=CreditUnit.ENERGY_WH, amount=Decimal("20.00"),
        tariff_code="T1", tariff_version=2, price_per_kwh=Decimal("0.1500"), key_revision=1,
        receipt=(ReceiptLine("energy", Decimal("18.51"), "1234 Wh"),
                 ReceiptLine("change", Decimal("1.49"))),
        status=VendStatus.WRITTEN, station="DESK-1", operator="carol", created_at=at,
        kind=VendKind.FREE, parameters={"alarm1": 500}, reprint_count=1, tender="bank")
    wire = VendOut.model_validate(vend).model_dump(mode="json")
    assert parse(wire, VendOut, VendResult) == vend
    tariff = TariffInfo(3, "T2", 1, Decimal("0.2000"), at, kind="block",
                        blocks=(Block(50_000, Decimal("0.2000")), Block(None, Decimal("0.3000"))),
                        taxes=(Tax("VAT", Decimal("16")),))
    wire = TariffOut.model_validate(tariff).model_dump(mode="json")
    assert parse(wire, TariffOut, TariffInfo) == tariff
