"""Fuzz the billing centre's REST API from its own OpenAPI schema: no input may give HTTP 500.

A centre on a scratch SQLite database is served by uvicorn on a loopback port; the schema is
read from ``/openapi.json`` and hypothesis draws requests for every operation: bodies, path and
query parameters that follow the schema, then the same with fields swapped for hostile values
(2**64, ``1e999``, full-width digits, NUL, 10 kB strings, dates in year 1, wrong types) or
dropped. Requests carry an administrator's, supervisor's or cashier's token, so they reach the
service rather than stop at the 401. Every answer of 500 or above (other than the documented 503
of a busy or failing database) is a finding. ``tests/billing/test_api_fuzz.py`` runs it;
``bench/faults.py`` reports how many inputs were tried and how many got a 500.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from rig.billing import BillingCentre, open_billing
from rig.billing.api.in_thread import serving

METER = "000012345678"
STATION = "DESK-1"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOSTILE_TEXT = [
    "1e999", "1E+999", "-1e999", "NaN", "Infinity", "-0", "２０", "٢٠", "1_000", "5e3", "0x10",
    "12345678901234567890", "99999999999999.9999", "0.000000001", "-5.00", " 20", "20 ",
    "0001-01-01T00:00+14:00", "9999-12-31T23:59:59-14:00", "2024-02-30", "../../etc/passwd",
    "\x00", "a\x00b", "' OR 1=1 --", '=HYPERLINK("x")', "\u202e", "😀", "", " ",
    str(2**64), str(-(2**63) - 1), "x" * 10_000,
]
HOSTILE_INTS = [2**64, 2**63, 2**63 - 1, 2**32, 2**31, -(2**63) - 1, -1, 0, 10**30]
# Names that exist in the seeded centre, drawn often, so that a hostile value in one field
# reaches the code behind it instead of stopping at "unknown meter".
KNOWN: dict[str, list[Any]] = {
    "meter_no": [METER], "station": [STATION], "customer_account": ["ACC-1"],
    "account_no": ["ACC-1", "ACC-2"], "tariff_code": ["RES"], "code": ["RES", "NEW"],
    "operator": ["carol", "sam"], "card_serial": ["CARD-1", "CARD-2"],
    "credit_unit": ["money_cents"], "profile": ["dlt645-1p-money"],
    "vend_id": [1, 2, 3], "session_id": [1], "amount": ["10.00", "1.00"],
    "price_per_kwh": ["0.1500"], "effective_from": ["2024-01-01T00:00:00Z"],
    "commissioned_at": ["2024-01-01T00:00:00Z"], "timestamp": ["2024-01-10T00:00:00Z"],
}


@dataclass
class FuzzReport:
    inputs: int = 0
    server_errors: list[str] = field(default_factory=list)  # "METHOD path -> status: detail"
    statuses: dict[int, int] = field(default_factory=dict)


def hostile() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_INTS),
        st.integers(), st.text(max_size=50), st.none(), st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                            st.integers(), max_size=2))


class SchemaStrategies:
    """Hypothesis strategies for the JSON schemas of one OpenAPI document."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = doc.get("components", {}).get("schemas", {})

    def named(self, name: str, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        """A value for the field or parameter ``name``: often one the centre knows."""
        generated = self.valid(schema, depth)
        if name not in KNOWN:
            return generated
        return st.one_of(st.sampled_from(KNOWN[name]), st.sampled_from(KNOWN[name]), generated)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def valid(self, schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
        """Values that follow ``schema`` (as far as a generator cheaply can)."""
        schema = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.valid(s, depth) for s in schema[key]])
        if "allOf" in schema:
            return self.valid(schema["allOf"][0], depth)
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        if "const" in schema:
            return st.just(schema["const"])
        kind = schema.get("type")
        if kind == "object" and depth < 4:
            props = schema.get("properties", {})
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {k: self.named(k, v, depth + 1) for k, v in props.items() if k in required},
                optional={k: self.named(k, v, depth + 1) for k, v in props.items()
                          if k not in required})
        if kind == "array":
            return st.lists(self.valid(schema.get("items", {}), depth + 1),
                            max_size=min(schema.get("maxItems", 3), 3))
        if kind == "string":
            if "pattern" in schema:
                return st.from_regex(schema["pattern"], fullmatch=True)
            if schema.get("format") == "date-time":
                return st.datetimes(min_value=datetime(1900, 1, 1),
                                    timezones=st.sampled_from([UTC])).map(datetime.isoformat)
            return st.text(min_size=schema.get("minLength", 0),
                           max_size=min(schema.get("maxLength", 40), 40))
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kind == "number":
            return st.floats(allow_nan=False, allow_infinity=False)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return hostile()

    def hostile_for(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        """Hostile values, mostly of the kind the field takes (its type's edge cases)."""
        schema = self.resolve(schema)
        kinds = {self.resolve(s).get("type") for s in schema.get("anyOf", [schema])}
        if "integer" in kinds:
            return st.one_of(st.sampled_from(HOSTILE_INTS), st.sampled_from(HOSTILE_INTS),
                             hostile())
        if "string" in kinds:
            return st.one_of(st.sampled_from(HOSTILE_TEXT), st.sampled_from(HOSTILE_TEXT),
                             hostile())
        return hostile()

    def any(self, schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
        """Mostly valid values, with fields swapped for hostile ones, dropped or added."""
        schema = self.resolve(schema)
        if schema.get("type") != "object" or "properties" not in schema:
            return st.one_of(self.named(name, schema), self.hostile_for(schema))

        @st.composite
        def mutated(draw: st.DrawFn) -> Any:
            body: dict[str, Any] = draw(self.valid(schema))
            for name in draw(st.lists(st.sampled_from(sorted(schema["properties"])),
                                      max_size=3, unique=True)):
                action = draw(st.sampled_from(["hostile", "hostile", "drop", "valid"]))
                if action == "drop":
                    body.pop(name, None)
                elif action == "hostile":
                    body[name] = draw(self.hostile_for(schema["properties"][name]))
                else:
                    body[name] = draw(self.valid(schema["properties"][name]))
            if draw(st.booleans()) and draw(st.booleans()):
                body[draw(st.text(min_size=1, max_size=8))] = draw(hostile())
            return body

        return st.one_of(mutated(), mutated(), self.valid(schema), hostile())


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]


def operations(doc: dict[str, Any]) -> list[Operation]:
    return [Operation(method.upper(), path, spec)
            for path, methods in sorted(doc["paths"].items())
            for method, spec in sorted(methods.items())]


def seed_centre(c: BillingCentre) -> dict[str, str]:
    """Master data the requests can name, and a token per role (role -> secret)."""
    c.register_operator("ann", "administrator")
    c.register_operator("sam", "supervisor")
    c.register_operator("carol", "cashier")
    c.register_station(STATION)
    c.register_customer("Ada Lovelace", "ACC-1", "1 Bench Road")
    c.create_tariff("RES", Decimal("0.1500"), T0)
    c.register_meter(METER, customer_account="ACC-1", profile="dlt645-1p-money",
                     credit_unit="money_cents", tariff_code="RES", key_revision=3,
                     commissioning_energy_wh=1000, commissioned_at=T0)
    c.issue_card(METER, "CARD-1")
    return {role: c.create_api_token(name, actor="ann", label="fuzz").secret
            for role, name in (("administrator", "ann"), ("supervisor", "sam"),
                               ("cashier", "carol"))}


def fuzz_api(url: str, tokens: dict[str, str], examples: int, seed: int = 0) -> FuzzReport:
    """Send ``examples`` drawn requests to the API at ``url``; returns what came back."""
    report = FuzzReport()
    with httpx.Client(base_url=url, timeout=60) as client:
        doc = client.get("/openapi.json").json()
        schemas = SchemaStrategies(doc)
        ops = [op for op in operations(doc) if op.path != "/health"]
        own_token_ids = {t["token_id"] for t in client.get(
            "/tokens", headers={"Authorization": f"Bearer {tokens['administrator']}"}).json()}

        @fixed_seed(seed)
        @settings(max_examples=examples, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def one_request(data: st.DataObject) -> None:
            op = data.draw(st.sampled_from(ops))
            params = op.spec.get("parameters", [])
            path = op.path
            query: dict[str, Any] = {}
            for p in params:
                value = data.draw(schemas.any(p.get("schema", {}), p["name"]))
                if p["in"] == "path":
                    if p["name"] == "token_id" and isinstance(value, int) \
                            and value in own_token_ids:
                        value = 10**6  # keep the fuzzer's own tokens alive
                    text = value if isinstance(value, str) else json.dumps(value)
                    path = path.replace("{" + p["name"] + "}", quote(text, safe="") or "%20")
                elif p["in"] == "query" and data.draw(st.booleans()):
                    query[p["name"]] = value if isinstance(value, str) else json.dumps(value)
            body = None
            content = op.spec.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = data.draw(schemas.any(content["application/json"]["schema"]))
            role = data.draw(st.sampled_from(["administrator"] * 3 + sorted(tokens)))
            headers = {"Authorization": f"Bearer {tokens[role]}"}
            content = None if body is None else json.dumps(body).encode()
            if content is not None:
                headers["Content-Type"] = "application/json"
            report.inputs += 1
            shown = f"{op.method} {path[:120]} body={json.dumps(body)[:300]}"
            try:
                r = client.request(op.method, path, params=query, content=content,
                                   headers=headers)
            except httpx.TransportError as e:  # the server dropped the connection: a finding
                report.server_errors.append(f"{shown} -> connection lost: {e}")
                return
            report.statuses[r.status_code] = report.statuses.get(r.status_code, 0) + 1
            if r.status_code >= 500 and not _documented_503(r):
                report.server_errors.append(f"{shown} -> {r.status_code}: {r.text[:300]}")

        one_request()
    return report


def _documented_503(r: httpx.Response) -> bool:
    """A busy or failing database is a 503 the API documents, not a crash."""
    try:
        kind = r.json().get("error")
    except ValueError:
        return False
    return r.status_code == 503 and kind in ("busy", "storage")


def run_api_fuzz(examples: int, seed: int = 0, db_url: str | None = None) -> FuzzReport:
    """Fuzz a fresh centre (a scratch SQLite file unless ``db_url`` names an empty database)."""
    with tempfile.TemporaryDirectory(prefix="rig-api-fuzz-") as tmp:
        url = db_url or f"sqlite:///{Path(tmp) / 'billing.sqlite'}"
        c = open_billing(url)
        try:
            tokens = seed_centre(c)
            with serving(c, log_level="critical") as base:
                return fuzz_api(base, tokens, examples, seed)
        finally:
            c.close()
