"""A billing centre across the network: the REST API behind the ``BillingCentre`` methods that
the scenarios and the vending station call.

A bench names a served billing centre by URL and token and drives it exactly as it drives a
local one: the same plain types come back and the same exceptions are raised (``Conflict``,
``NotFound``, ``VendRefused`` with its ``reason``, ``PermissionDenied``, ``BillingBusy`` when
the server's database stayed locked), rebuilt from the API's error replies, so every rule is
still decided by the server.

Acting as another operator (the scenarios vend as their own cashier): a token belongs to one
operator, so the client asks the server for a token of that operator the first time it needs
one — which only an administrator's token may do — and revokes those tokens on ``close()``.
The audit log then names the real actor of every change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rig.billing import readback_check
from rig.billing.busy import BillingBusy
from rig.billing.service import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CardStatus,
    CashierSessionInfo,
    Check,
    CreditUnit,
    CustomerInfo,
    HoardingCheck,
    MeterInfo,
    MeterStatus,
    OperatorInfo,
    OperatorRole,
    ReadbackData,
    ReceiptLine,
    ReconciliationResult,
    StationInfo,
    TariffInfo,
    Tax,
    VendLimits,
    VendResult,
    VendStatus,
    Verdict,
)
from rig.errors import BillingError
from rig.extras import optional_module, require

if TYPE_CHECKING:
    import httpx

    from rig.billing.audit_key import AuditConfig
    from rig.billing.service import BillingCentre
else:
    httpx = optional_module("httpx")  # a served centre needs rig[server]


def _money(value: Any) -> Any:
    # Exact values travel as strings, in plain notation (the API refuses "1E+1"); anything else
    # is sent as it is, for the server to refuse.
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return str(value) if isinstance(value, Decimal | int) and not isinstance(value, bool) else value


class RemoteBillingCentre:
    """HTTP client of ``rig billing serve`` with the subset of :class:`BillingCentre` used by
    :mod:`rig.scenarios.steps` and :mod:`rig.station.vending_station`.

    Selling acts as the named operator with a token bound to the station of the sale; the API
    sells a cashier's vends only inside the cashier session open at that station."""

    cashier_sessions = True  # a cashier's sale needs an open session (see open_session)

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        require("server", "httpx", "a served billing centre (http(s):// URL)")
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s, transport=transport)
        self._token = token
        # (operator, station or None) → (token id, secret)
        self._minted: dict[tuple[str, str | None], tuple[int, str]] = {}
        self._limits: VendLimits | None = None
        me = self._call("GET", "/me")
        self.operator = OperatorInfo(me["operator_id"], me["name"], OperatorRole(me["role"]))

    def __repr__(self) -> str:
        return f"RemoteBillingCentre({self.base_url!r}, operator={self.operator.name!r})"

    @property
    def limits(self) -> VendLimits:
        """The served centre's per-vend amount limits (asked once)."""
        if self._limits is None:
            body = self._call("GET", "/vend-limits")
            self._limits = VendLimits(Decimal(body["minimum"]), Decimal(body["maximum"]))
        return self._limits

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Revoke the tokens minted for other operators, then drop the connection."""
        try:
            for token_id, _ in self._minted.values():
                self._call("DELETE", f"/tokens/{token_id}")
        finally:
            self._minted.clear()
            self._http.close()

    def __enter__(self) -> RemoteBillingCentre:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _token_for(self, operator: str | None, station: str | None = None) -> str:
        if operator is None or operator in ("system", self.operator.name):
            return self._token
        key = (operator, station)
        if key not in self._minted:
            if self.operator.role is not OperatorRole.ADMINISTRATOR:
                raise PermissionDenied(
                    f"this client holds a token of {self.operator.name!r} "
                    f"({self.operator.role.value}); acting as {operator!r} needs that "
                    "operator's token or an administrator's")
            issued = self._call("POST", "/tokens", json={
                "operator": operator, "label": "remote billing client",
                "stations": [station] if station else []})
            self._minted[key] = (issued["info"]["token_id"], issued["token"])
        return self._minted[key][1]

    def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
              as_operator: str | None = None, at_station: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self._token_for(as_operator, at_station)}"}
        try:
            reply = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TransportError as e:
            raise BillingError(f"billing centre at {self.base_url} did not answer "
                               f"{method} {path}: {e}") from None
        if reply.is_success:
            return reply.json() if reply.content else None
        raise _error(reply, f"{method} {path}", self.base_url)

    # -- master data -------------------------------------------------------------------------

    def register_station(self, code: str) -> StationInfo:
        body = self._call("POST", "/stations", json={"code": code})
        return StationInfo(body["station_id"], body["code"])

    def register_operator(self, name: str, role: OperatorRole | str) -> OperatorInfo:
        body = self._call("POST", "/operators", json={"name": name, "role": str(role)})
        return OperatorInfo(body["operator_id"], body["name"], OperatorRole(body["role"]))

    def register_customer(self, name: str, account_no: str, address: str = "") -> CustomerInfo:
        body = self._call("POST", "/customers",
                          json={"name": name, "account_no": account_no, "address": address})
        return CustomerInfo(body["customer_id"], body["name"], body["account_no"],
                            body["address"])

    def create_tariff(
        self, code: str, price_per_kwh: Decimal, effective_from: datetime,
        version: int | None = None, *, kind: str = "flat", blocks: tuple[Block, ...] = (),
        bands: tuple[Band, ...] = (), utc_offset_minutes: int = 0,
        fixed_monthly: Decimal = Decimal("0.00"), taxes: tuple[Tax, ...] = (),
        actor: str = "system",
    ) -> TariffInfo:
        body = self._call("POST", "/tariffs", as_operator=actor, json={
            "code": code, "price_per_kwh": _money(price_per_kwh),
            "effective_from": effective_from.isoformat(), "version": version, "kind": kind,
            "blocks": [{"up_to_wh": b.up_to_wh, "price_per_kwh": _money(b.price_per_kwh)}
                       for b in blocks],
            "bands": [{"name": b.name, "start_minute": b.start_minute,
                       "end_minute": b.end_minute, "price_per_kwh": _money(b.price_per_kwh)}
                      for b in bands],
            "utc_offset_minutes": utc_offset_minutes, "fixed_monthly": _money(fixed_monthly),
            "taxes": [{"name": t.name, "rate_percent": _money(t.rate_percent)} for t in taxes],
        })
        return _tariff(body)

    def tariffs(self, code: str | None = None) -> list[TariffInfo]:
        params = {"code": code} if code is not None else None
        return [_tariff(t) for t in self._call("GET", "/tariffs", params=params)]

    def register_meter(
        self, meter_no: str, *, customer_account: str, profile: str,
        credit_unit: CreditUnit | str, tariff_code: str, key_revision: int,
        commissioning_energy_wh: int, commissioned_at: datetime,
        hoarding_limit: int | None = None,
    ) -> MeterInfo:
        return _meter(self._call("POST", "/meters", json={
            "meter_no": meter_no, "customer_account": customer_account, "profile": profile,
            "credit_unit": str(credit_unit), "tariff_code": tariff_code,
            "key_revision": key_revision, "commissioning_energy_wh": commissioning_energy_wh,
            "commissioned_at": commissioned_at.isoformat(), "hoarding_limit": hoarding_limit}))

    def set_hoarding_limit(self, meter_no: str, hoarding_limit: int | None, *,
                           actor: str = "system") -> MeterInfo:
        return _meter(self._call("PUT", f"/meters/{meter_no}/hoarding-limit",
                                 as_operator=actor, json={"hoarding_limit": hoarding_limit}))

    def hoarding(self, meter_no: str) -> HoardingCheck:
        b = self._call("GET", f"/meters/{meter_no}/hoarding")
        return HoardingCheck(b["meter_no"], b["limit"], b["estimate"], b["room"])

    def meter(self, meter_no: str) -> MeterInfo:
        return _meter(self._call("GET", f"/meters/{meter_no}"))

    def issue_card(self, meter_no: str, card_serial: str,
                   card_type: str = "customer") -> CardInfo:
        body = self._call("POST", f"/meters/{meter_no}/cards",
                          json={"card_serial": card_serial, "card_type": card_type})
        return _card(body)

    # -- vending -----------------------------------------------------------------------------

    def vend(self, meter_no: str, amount: Decimal, *, request_id: str, station: str,
             operator: str) -> VendResult:
        return _vend(self._call("POST", "/vends", as_operator=operator, at_station=station,
                                json={"meter_no": meter_no, "amount": _money(amount),
                                      "request_id": request_id, "station": station}))

    def open_session(self, operator: str, station: str,
                     opening_float: Decimal = Decimal("0.00")) -> CashierSessionInfo:
        """Open ``operator``'s cashier session at ``station`` (a cashier sells only inside
        one over the API)."""
        return _session(self._call("POST", "/sessions", as_operator=operator,
                                   at_station=station,
                                   json={"station": station,
                                         "opening_float": _money(opening_float)}))

    def open_session_of(self, operator: str) -> CashierSessionInfo | None:
        body = self._call("GET", "/sessions/current", as_operator=operator)
        return None if body is None else _session(body)

    def mark_written(self, vend_id: int) -> None:
        self._call("POST", f"/vends/{vend_id}/written")

    def vend_by_id(self, vend_id: int) -> VendResult:
        return _vend(self._call("GET", f"/vends/{vend_id}"))

    def vends_for_meter(self, meter_no: str) -> list[VendResult]:
        return [_vend(v) for v in self._call("GET", f"/meters/{meter_no}/vends")]

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult:
        return _vend(self._call("POST", f"/vends/{vend_id}/reversal", as_operator=operator,
                                json={"reason": reason}))

    def reprint(self, vend_id: int, *, operator: str) -> str:
        text: str = self._call("POST", f"/vends/{vend_id}/reprint", as_operator=operator)["text"]
        return text

    # -- readbacks ---------------------------------------------------------------------------

    def ingest_readback(self, data: ReadbackData | None = None, *,
                        card_serial: str | None = None,
                        raw: bytes | None = None) -> ReconciliationResult:
        if data is None:  # the served centre decodes raw itself; the fields must agree with it
            data, _ = readback_check.decode(None, raw)
        fields = {k: v for k, v in asdict(data).items() if k != "mac_verified"}
        body = {**fields, "credit_unit": str(data.credit_unit),
                "timestamp": data.timestamp.isoformat(), "card_serial": card_serial,
                "raw_hex": raw.hex() if raw is not None else None}
        return _reconciliation(self._call("POST", "/readbacks", json=body))

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None:
        body = self._call("GET", f"/meters/{meter_no}/reconciliation")
        return None if body is None else _reconciliation(body)


# -- replies → the service's types and exceptions ---------------------------------------------


def _session(b: dict[str, Any]) -> CashierSessionInfo:
    return CashierSessionInfo(
        b["session_id"], b["operator"], b["station"], b["status"],
        datetime.fromisoformat(b["opened_at"]),
        datetime.fromisoformat(b["closed_at"]) if b["closed_at"] else None,
        Decimal(b["opening_float"]),
        Decimal(b["counted_cash"]) if b["counted_cash"] is not None else None)


def _error(reply: httpx.Response, what: str, server: str) -> BillingError:
    try:
        body = reply.json()
        detail, kind, reason = body["detail"], body.get("error"), body.get("reason")
    except (ValueError, KeyError, TypeError):
        return BillingError(f"{what}: HTTP {reply.status_code} {reply.text[:200]}")
    if kind == "busy":
        retry = reply.headers.get("Retry-After", "")
        return BillingBusy(detail, operation=what, database=server,
                           retry_after_s=int(retry) if retry.isdigit() else 1)
    if kind == "refused" and reason:
        return VendRefused(reason, detail)
    if reply.status_code == 401:
        return PermissionDenied(f"the billing centre refused the API token: {detail}")
    by_status: dict[int, type[BillingError]] = {403: PermissionDenied, 404: NotFound,
                                                409: Conflict}
    return by_status.get(reply.status_code, BillingError)(detail)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _tariff(b: dict[str, Any]) -> TariffInfo:
    return TariffInfo(
        b["tariff_id"], b["code"], b["version"], Decimal(b["price_per_kwh"]),
        _at(b["effective_from"]), kind=b["kind"],
        blocks=tuple(Block(x["up_to_wh"], Decimal(x["price_per_kwh"])) for x in b["blocks"]),
        bands=tuple(Band(x["name"], x["start_minute"], x["end_minute"],
                         Decimal(x["price_per_kwh"])) for x in b["bands"]),
        utc_offset_minutes=b["utc_offset_minutes"], fixed_monthly=Decimal(b["fixed_monthly"]),
        taxes=tuple(Tax(x["name"], Decimal(x["rate_percent"])) for x in b["taxes"]))


def _meter(b: dict[str, Any]) -> MeterInfo:
    return MeterInfo(
        b["meter_id"], b["meter_no"], b["customer_account"], b["profile"],
        CreditUnit(b["credit_unit"]), b["tariff_code"], b["key_revision"],
        b["commissioning_energy_wh"], _at(b["commissioned_at"]), b["last_sequence"],
        MeterStatus(b["status"]), b["hoarding_limit"])


def _card(b: dict[str, Any]) -> CardInfo:
    return CardInfo(b["card_id"], b["card_serial"], b["meter_no"], b["card_type"],
                    CardStatus(b["status"]))


def _vend(b: dict[str, Any]) -> VendResult:
    return VendResult(
        vend_id=b["vend_id"], request_id=b["request_id"], meter_no=b["meter_no"],
        card_serial=b["card_serial"], sequence=b["sequence"], credit=b["credit"],
        credit_unit=CreditUnit(b["credit_unit"]), amount=Decimal(b["amount"]),
        tariff_code=b["tariff_code"], tariff_version=b["tariff_version"],
        price_per_kwh=Decimal(b["price_per_kwh"]), key_revision=b["key_revision"],
        receipt=tuple(ReceiptLine(x["label"], Decimal(x["amount"]), x["detail"])
                      for x in b["receipt"]),
        status=VendStatus(b["status"]), station=b["station"], operator=b["operator"],
        created_at=_at(b["created_at"]), kind=b["kind"], parameters=b["parameters"],
        reprint_count=b["reprint_count"])


def _reconciliation(b: dict[str, Any]) -> ReconciliationResult:
    # Exact values come back as the strings the server rendered them to (evidence alike).
    checks = tuple(Check(c["name"], c["expected"], c["actual"], c["tolerance"], c["passed"])
                   for c in b["checks"])
    return ReconciliationResult(
        reconciliation_id=b["reconciliation_id"], readback_id=b["readback_id"],
        meter_no=b["meter_no"], verdict=Verdict(b["verdict"]), checks=checks,
        evidence=b["evidence"], confirmed_vend_ids=tuple(b["confirmed_vend_ids"]),
        created_at=_at(b["created_at"]) if b["created_at"] else None)


TOKEN_ENV = "RIG_BILLING_TOKEN"


def connect_billing(
    url: str,
    *,
    token: str | None = None,
    token_file: Path | None = None,
    clock: Callable[[], datetime] | None = None,
    audit: AuditConfig | None = None,
) -> BillingCentre | RemoteBillingCentre:
    """A billing centre by URL: ``http(s)://…`` is a served one, anything else a database
    (``audit``: its audit key and anchor, default from the environment).

    A served centre needs a token: ``token``, else the first line of ``token_file``, else
    ``$RIG_BILLING_TOKEN`` (so a secret need not sit in a bench TOML). It keeps its own clock;
    ``clock`` only drives a local database.
    """
    if not url.startswith(("http://", "https://")):
        from rig.billing.db import open_billing

        return open_billing(url, clock=clock, audit=audit)
    if token is None and token_file is not None:
        try:
            token = token_file.read_text().strip().splitlines()[0]
        except (OSError, IndexError) as e:
            raise BillingError(f"billing token file {token_file}: cannot read a token ({e})") \
                from None
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise BillingError(f"billing centre {url} needs an API token: set billing.token_file "
                           f"in the bench config or ${TOKEN_ENV}")
    return RemoteBillingCentre(url, token)
