"""The API's contract: every route has a response model, every 4xx is documented as ErrorOut, every
field an answer carries is documented in OpenAPI, the prefix is declared once, routes run no SQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from starlette.responses import JSONResponse

import shoplens
from shoplens.serve.routes import ResourceRouter

from tests.serve.serve_helpers import auth

SRC = Path(shoplens.__file__).parent
ROUTES = SRC / "serve" / "routes"
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b|\bwh\.con\b|\bwh\.query\(|\.execute\(")


def _json_routes(app) -> list[Any]:
    routes = []
    for route in iter_route_contexts(app.routes):
        if not route.path or route.path.startswith(("/api/v1/openapi", "/api/v1/docs", "/docs/")):
            continue  # FastAPI's own schema and docs pages
        response_class = getattr(route, "response_class", None)
        response_class = getattr(response_class, "value", response_class)  # a DefaultPlaceholder holds the class
        if response_class is None or issubclass(response_class, JSONResponse):
            routes.append(route)
    return routes


def test_every_json_route_has_a_response_model(served):
    client, _, _ = served
    routes = _json_routes(client.app)
    assert len(routes) >= 28  # and /metrics (text), the dashboard page and its assets
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if getattr(r, "response_model", None) is None]
    assert not missing, f"routes without a response_model: {missing}"


def test_every_api_route_answers_only_the_fields_it_returned(served):
    client, _, _ = served
    loose = [r.path for r in _json_routes(client.app) if not getattr(r, "response_model_exclude_unset", False)]
    assert not loose, f"routes that would add unset fields as null: {loose}"


def test_every_4xx_is_documented_as_the_one_error_model(served):
    client, _, _ = served
    schema = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith("4")}
            assert errors, f"{method} {path} documents no error"
            if path != "/api/v1/health":  # the only route open without a key
                assert {"401", "403", "429"} <= set(errors), f"{method} {path}: {sorted(errors)}"
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in errors, f"{method} {path} takes input but documents no 422"
            for code, response in errors.items():
                # FastAPI files /metrics' errors under its text/plain media type; the answer is ErrorOut JSON
                ref = next(iter(response["content"].values()))["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorOut", f"{method} {path} {code}: {ref}"
                checked += 1
    assert checked > 200
    error = schema["components"]["schemas"]["ErrorOut"]
    assert set(error["properties"]) == {"detail", "errors"} and error["required"] == ["detail"]


def test_answers_to_errors_match_the_error_model(served):
    from shoplens.serve.schemas import ErrorOut

    client, keys, _ = served
    for answer in (client.get("/api/v1/status"), client.get("/api/v1/customers/x", headers=auth(keys["viewer"])),
                   client.get("/api/v1/models?limit=0", headers=auth(keys["viewer"])),
                   client.get("/api/v1/customers/nobody", headers=auth(keys["analyst"]))):
        assert 400 <= answer.status_code < 500
        ErrorOut.model_validate(answer.json())  # no other field, detail is text


def test_the_api_prefix_is_declared_once():
    declared = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py") if '"/api/v1"' in p.read_text()]
    assert declared == ["serve/settings.py"], declared


def test_routes_run_no_sql():
    """Queries belong to the capability packages (customers, recs, decide, insights, store): a route calls them."""
    found = []
    for module in sorted(ROUTES.glob("*.py")):
        for number, line in enumerate(module.read_text().splitlines(), 1):
            if SQL.search(line):
                found.append(f"{module.name}:{number}: {line.strip()}")
    assert not found, "SQL in route modules:\n" + "\n".join(found)


def test_the_sql_check_would_catch_a_query(tmp_path):
    """The pattern above finds the ways routes used to run SQL."""
    for line in ('wh.query("SELECT * FROM t")', 'first_row(wh.con.execute("x"))', "con.execute(sql)",
                 '"DELETE FROM decisions"'):
        assert SQL.search(line), line
    assert not SQL.search('"""Select a segment: delete nothing."""')


def test_resource_routers_document_errors_and_leave_unset_fields_out():
    router = ResourceRouter(tags=["t"])

    @router.get("/x", response_model=dict)
    def x() -> dict:
        return {}

    assert router.routes[0].response_model_exclude_unset and 422 in router.responses


# -- every field an answer carries is documented ---------------------------------------------------

def _resolve(schema: dict, components: dict) -> dict:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def undocumented(value: Any, schema: dict, components: dict, where: str = "") -> list[str]:
    """Paths of the fields in ``value`` that ``schema`` (OpenAPI) does not name."""
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        options = [_resolve(s, components) for s in schema["anyOf"]]
        fitting = [s for s in options if (s.get("type") == "object") == isinstance(value, dict)
                   and (s.get("type") == "array") == isinstance(value, list)]
        return min((undocumented(value, s, components, where) for s in fitting), key=len, default=[])
    out: list[str] = []
    if isinstance(value, dict):
        named = schema.get("properties")
        for key, item in value.items():
            if named is not None:
                if key not in named:
                    out.append(f"{where}.{key}")
                else:
                    out += undocumented(item, named[key], components, f"{where}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):  # dict[str, Model]
                out += undocumented(item, schema["additionalProperties"], components, f"{where}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value[:50]:
            out += undocumented(item, schema["items"], components, f"{where}[]")
    return out


def test_the_checker_finds_an_undocumented_field():
    components = {"M": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    assert undocumented({"a": 1, "b": 2}, {"$ref": "#/components/schemas/M"}, components) == [".b"]
    assert undocumented([{"a": 1}], {"type": "array", "items": {"$ref": "#/components/schemas/M"}}, components) == []


@pytest.mark.parametrize("role, method, path, body", [
    ("viewer", "GET", "/api/v1/status", None),
    ("viewer", "GET", "/api/v1/overview", None),
    ("viewer", "GET", "/api/v1/quality", None),
    ("viewer", "GET", "/api/v1/models", None),
    ("analyst", "GET", "/api/v1/customers/{yes}", None),
    ("analyst", "GET", "/api/v1/customers/{no}", None),
    ("viewer", "GET", "/api/v1/segments", None),
    ("viewer", "GET", "/api/v1/segments/0", None),
    ("analyst", "GET", "/api/v1/segments/0/members", None),
    ("admin", "POST", "/api/v1/segments/0/export", {"name": "contract"}),
    ("viewer", "POST", "/api/v1/text/analyze-batch", {"texts": ["order 536749 arrived broken, size M", "很好"]}),
    ("viewer", "GET", "/api/v1/reviews/insights", None),
    ("analyst", "GET", "/api/v1/recommendations/{yes}", None),
    ("viewer", "GET", "/api/v1/products/{product}/similar", None),
    ("viewer", "GET", "/api/v1/products/{product}", None),
    ("viewer", "GET", "/api/v1/categories/bags/products", None),
    ("viewer", "GET", "/api/v1/products/{rule}/bought-together", None),
    ("viewer", "POST", "/api/v1/experiments/analyze",
     {"variants": [{"name": "a", "n": 100, "sum": 10}, {"name": "b", "n": 100, "sum": 14}], "method": "bayesian"}),
    ("admin", "GET", "/api/v1/privacy/verify/{yes}", None),
    ("admin", "GET", "/api/v1/audit", None),
])
def test_every_field_of_an_answer_is_documented(served_customers, role, method, path, body):
    from tests.serve.test_capabilities import consenting_customer, no_consent_customer

    client, keys, _ = served_customers
    wh = client.app.state.warehouse
    product = wh.con.execute("SELECT product_id FROM order_items GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    rule = wh.con.execute("SELECT antecedent FROM association_rules ORDER BY lift DESC LIMIT 1").fetchone()[0]
    path = path.format(yes=consenting_customer(client), no=no_consent_customer(client), product=product, rule=rule)
    schema = client.get("/api/v1/openapi.json").json()
    template = next(p for p in schema["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path.split("?")[0]))
    answer = client.request(method, path, json=body, headers=auth(keys[role]))
    assert answer.status_code == 200, answer.text
    documented = schema["paths"][template][method.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
    assert not undocumented(answer.json(), documented, schema["components"]["schemas"])


def test_every_segment_feature_average_is_documented() -> None:
    """Which averages a segment row carries depends on which features vary in the shop's data."""
    from shoplens.customers.segments import CLUSTER_FEATURES
    from shoplens.serve.schemas.customers import SegmentProfile

    assert {f"avg_{f}" for f in CLUSTER_FEATURES} <= set(SegmentProfile.model_fields)
