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

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rig.billing import readback_check
from rig.billing.api import schemas as s
from rig.billing.api.convert import parse
from rig.billing.api.schemas.sts import StsIdentityOut, StsTokenOut
from rig.billing.busy import BillingBusy
from rig.billing.centre.errors import Conflict, NotFound, PermissionDenied, VendRefused
from rig.billing.display import Display
from rig.billing.types import (
    Band,
    Block,
    CardInfo,
    CashierSessionInfo,
    CustomerInfo,
    HoardingCheck,
    MeterInfo,
    OperatorInfo,
    OperatorRole,
    ReadbackData,
    ReconciliationResult,
    StationInfo,
    StsTokenInfo,
    TariffInfo,
    Tax,
    VendLimits,
    VendResult,
)
from rig.credit_unit import CreditUnit
from rig.errors import BillingError
from rig.extras import optional_module, require
from rig.sts.errors import StsError
from rig.sts.identity import StsSection, identity_of

if TYPE_CHECKING:
    import httpx

    from rig.billing.protocol import BillingCentreProtocol
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
        self.operator = parse(self._call("GET", "/me"), s.OperatorOut, OperatorInfo)

    def __repr__(self) -> str:
        return f"RemoteBillingCentre({self.base_url!r}, operator={self.operator.name!r})"

    @property
    def limits(self) -> VendLimits:
        """The served centre's per-vend amount limits (asked once)."""
        if self._limits is None:
            self._limits = parse(self._call("GET", "/vend-limits"), s.LimitsOut, VendLimits)
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

    # -- registry ----------------------------------------------------------------------------

    def register_station(self, code: str, *, actor: str = "system") -> StationInfo:
        return parse(self._call("POST", "/stations", as_operator=actor, json={"code": code}),
                     s.StationOut, StationInfo)

    def register_operator(self, name: str, role: OperatorRole | str, *,
                          actor: str = "system") -> OperatorInfo:
        return parse(self._call("POST", "/operators", as_operator=actor,
                                json={"name": name, "role": str(role)}),
                     s.OperatorOut, OperatorInfo)

    def register_customer(self, name: str, account_no: str, address: str = "", *,
                          actor: str = "system") -> CustomerInfo:
        return parse(self._call("POST", "/customers", as_operator=actor, json={
            "name": name, "account_no": account_no, "address": address}),
            s.CustomerOut, CustomerInfo)

    def register_meter(
        self, meter_no: str, *, customer_account: str, profile: str,
        credit_unit: CreditUnit | str, tariff_code: str, key_revision: int,
        commissioning_energy_wh: int, commissioned_at: datetime,
        hoarding_limit: int | None = None, actor: str = "system",
        sts: StsSection | dict[str, object] | None = None,
    ) -> MeterInfo:
        """With ``sts`` a keypad meter and its identity, registered together or not at all."""
        return parse(self._call("POST", "/meters", as_operator=actor, json={
            "meter_no": meter_no, "customer_account": customer_account, "profile": profile,
            "credit_unit": str(credit_unit), "tariff_code": tariff_code,
            "key_revision": key_revision, "commissioning_energy_wh": commissioning_energy_wh,
            "commissioned_at": commissioned_at.isoformat(), "hoarding_limit": hoarding_limit,
            "sts": None if sts is None else _identity_body(sts)}),
            s.MeterOut, MeterInfo)

    def set_hoarding_limit(self, meter_no: str, hoarding_limit: int | None, *,
                           actor: str = "system") -> MeterInfo:
        return parse(self._call("PUT", f"/meters/{meter_no}/hoarding-limit", as_operator=actor,
                                json={"hoarding_limit": hoarding_limit}), s.MeterOut, MeterInfo)

    def hoarding(self, meter_no: str) -> HoardingCheck:
        return parse(self._call("GET", f"/meters/{meter_no}/hoarding"), s.HoardingOut,
                     HoardingCheck)

    def meter(self, meter_no: str) -> MeterInfo:
        return parse(self._call("GET", f"/meters/{meter_no}"), s.MeterOut, MeterInfo)

    def issue_card(self, meter_no: str, card_serial: str, card_type: str = "customer", *,
                   actor: str = "system") -> CardInfo:
        return parse(self._call("POST", f"/meters/{meter_no}/cards", as_operator=actor,
                                json={"card_serial": card_serial, "card_type": card_type}),
                     s.CardOut, CardInfo)

    # -- tariffs -----------------------------------------------------------------------------

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
        return parse(body, s.TariffOut, TariffInfo)

    def tariffs(self, code: str | None = None) -> list[TariffInfo]:
        params = {"code": code} if code is not None else None
        return [parse(t, s.TariffOut, TariffInfo)
                for t in self._call("GET", "/tariffs", params=params)]

    # -- sales, cashier sessions and vend life -------------------------------------------------

    def vend(self, meter_no: str, amount: Decimal, *, request_id: str, station: str,
             operator: str) -> VendResult:
        return _vend(self._call("POST", "/vends", as_operator=operator, at_station=station,
                                json={"meter_no": meter_no, "amount": _money(amount),
                                      "request_id": request_id, "station": station}))

    def open_session(self, operator: str, station: str,
                     opening_float: Decimal = Decimal("0.00")) -> CashierSessionInfo:
        """Open ``operator``'s cashier session at ``station`` (a cashier sells only inside
        one over the API)."""
        return parse(self._call("POST", "/sessions", as_operator=operator, at_station=station,
                                json={"station": station,
                                      "opening_float": _money(opening_float)}),
                     s.SessionOut, CashierSessionInfo)

    def open_session_of(self, operator: str) -> CashierSessionInfo | None:
        body = self._call("GET", "/sessions/current", as_operator=operator)
        return None if body is None else parse(body, s.SessionOut, CashierSessionInfo)

    def mark_written(self, vend_id: int) -> None:
        self._call("POST", f"/vends/{vend_id}/written")

    def vend_by_id(self, vend_id: int) -> VendResult:
        return _vend(self._call("GET", f"/vends/{vend_id}"))

    def vends_for_meter(self, meter_no: str) -> list[VendResult]:
        return [_vend(v) for v in self._call("GET", f"/meters/{meter_no}/vends")]

    def reverse_vend(self, vend_id: int, *, operator: str, reason: str) -> VendResult:
        return _vend(self._call("POST", f"/vends/{vend_id}/reversal", as_operator=operator,
                                json={"reason": reason}))

    def reprint(self, vend_id: int, *, operator: str, display: Display | None = None) -> str:
        """The receipt again, as the served centre prints it (its currency and zone: a
        ``display`` is for a local centre and is not sent)."""
        body = self._call("POST", f"/vends/{vend_id}/reprint", as_operator=operator)
        return s.ReceiptOut.model_validate(body).text

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
        return parse(self._call("POST", "/readbacks", json=body), s.ReconciliationOut,
                     ReconciliationResult)

    def latest_reconciliation(self, meter_no: str) -> ReconciliationResult | None:
        body = self._call("GET", f"/meters/{meter_no}/reconciliation")
        return None if body is None else parse(body, s.ReconciliationOut, ReconciliationResult)

    # -- STS keypad meters (the API's /meters/{no}/sts and /sts routes) ---------------------------

    def register_sts_meter(self, meter_no: str, identity: StsSection | dict[str, object], *,
                           actor: str = "system") -> StsSection:
        """Give the meter its STS identity (checked here with the profile's rules, so a bad
        field is named before the request; the server checks it again)."""
        ident = identity if isinstance(identity, StsSection) else _checked(identity)
        return _identity(self._call("PUT", f"/meters/{meter_no}/sts", as_operator=actor,
                                    json=_identity_body(ident))) or ident

    def sts_identity(self, meter_no: str) -> StsSection | None:
        return _identity(self._call("GET", f"/meters/{meter_no}/sts"))

    def sts_tokens(self, meter_no: str) -> list[StsTokenInfo]:
        return [parse(t, StsTokenOut, StsTokenInfo)
                for t in self._call("GET", f"/meters/{meter_no}/sts/tokens")]

    def sts_management_token(self, meter_no: str, kind: str, value: int = 0, *,
                             operator: str) -> StsTokenInfo:
        return parse(self._call("POST", f"/meters/{meter_no}/sts/tokens", as_operator=operator,
                                json={"kind": kind, "value": value}), StsTokenOut, StsTokenInfo)

    def sts_key_change(
        self, meter_no: str, *, operator: str, key_revision: int | None = None,
        tariff_index: str | None = None, key_type: int | None = None,
        supply_group: str | None = None, rollover: bool = False,
    ) -> list[StsTokenInfo]:
        body = self._call("POST", f"/meters/{meter_no}/sts/key-change", as_operator=operator,
                          json={"key_revision": key_revision, "tariff_index": tariff_index,
                                "key_type": key_type, "supply_group": supply_group,
                                "rollover": rollover})
        return [parse(t, StsTokenOut, StsTokenInfo) for t in body]

    def sts_rollover(self, supply_group: str, *,
                     operator: str) -> dict[str, list[StsTokenInfo]]:
        body = self._call("POST", f"/sts/supply-groups/{supply_group}/rollover",
                          as_operator=operator)
        return {no: [parse(t, StsTokenOut, StsTokenInfo) for t in tokens]
                for no, tokens in body.items()}

    def ingest_serial_readback(self, data: ReadbackData, *,
                               station: str) -> ReconciliationResult:
        """A keypad meter's registers as the station read them over its serial port (no MAC:
        the served centre stores it as not MAC-protected)."""
        fields = {k: v for k, v in asdict(data).items() if k != "mac_verified"}
        body = {**fields, "credit_unit": str(data.credit_unit),
                "timestamp": data.timestamp.isoformat()}
        return parse(self._call("POST", "/sts/readbacks", json=body,
                                params={"station": station}),
                     s.ReconciliationOut, ReconciliationResult)


if TYPE_CHECKING:  # mypy proves the client offers everything the protocol promises
    _satisfies: Callable[..., BillingCentreProtocol] = RemoteBillingCentre


# -- error replies → the service's exceptions -------------------------------------------------


def _vend(body: Any) -> VendResult:
    return parse(body, s.VendOut, VendResult)


def _identity(body: Any) -> StsSection | None:
    """An STS identity reply, checked by its schema and then by the identity's own rules."""
    if body is None:
        return None
    return _checked(StsIdentityOut.model_validate(body).model_dump(), "served STS identity")


def _identity_body(identity: StsSection | dict[str, object]) -> dict[str, Any]:
    """The identity as the API takes it (checked here first, so a bad field is named before
    the request; the server checks it again)."""
    ident = identity if isinstance(identity, StsSection) else _checked(identity)
    return ident.model_dump(mode="json", exclude={"tid_memory"})


def _checked(values: dict[str, object], where: str = "STS identity") -> StsSection:
    """The identity, or the centre's one-line refusal naming the field (as a local one)."""
    try:
        return identity_of(values, where)
    except StsError as e:
        raise BillingError(str(e)) from None


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
