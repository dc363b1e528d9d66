"""GET /api/v1/alerts: the stored alerts with their evidence and when they were computed; every field
documented; the role and input checks."""

from __future__ import annotations

from shoplens.services import check_alerts

from tests.serve.serve_helpers import auth
from tests.serve.test_contract import undocumented


def test_no_alerts_yet_is_an_empty_page(served):
    client, keys, _ = served
    answer = client.get("/api/v1/alerts", headers=auth(keys["viewer"]))
    assert answer.status_code == 200 and answer.json() == {"data": [], "count": 0, "limit": 100, "offset": 0}


def test_alerts_are_served_with_evidence_and_computed_at(served):
    client, keys, settings = served
    from shoplens.serve.deps import warehouse_cursor

    with warehouse_cursor(client.app.state.warehouse) as wh:  # the server's warehouse: one writer
        wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                       "AND hash(order_id) % 5 <> 0")
        new = check_alerts(settings, wh)["new"]
    answer = client.get("/api/v1/alerts", headers=auth(keys["viewer"]))
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == len(new) > 0
    first = body["data"][0]
    assert first["kind"] == "kpi_drop" and first["computed_at"] and first["delivery"] == "no webhook"
    assert set(first["evidence"]) >= {"kpi", "period", "change", "usual_range", "history"}
    schema = client.get("/api/v1/openapi.json").json()
    documented = schema["paths"]["/api/v1/alerts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert not undocumented(body, documented, schema["components"]["schemas"])
    only = client.get("/api/v1/alerts?kind=drift", headers=auth(keys["viewer"])).json()
    assert only["count"] == 0
    paged = client.get("/api/v1/alerts?limit=1&offset=1", headers=auth(keys["viewer"])).json()
    assert paged["count"] == len(new) and paged["data"] == body["data"][1:2]


def test_alerts_need_a_key_and_a_known_kind(served):
    client, keys, _ = served
    assert client.get("/api/v1/alerts").status_code == 401
    wrong = client.get("/api/v1/alerts?kind=nope", headers=auth(keys["viewer"]))
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "query.kind"
