"""The campaigns REST routes (/api/v1/campaigns...): roles, consent, sticky live offers equal to the
batch assignment, the report's shape, and the error answers."""

from __future__ import annotations

import pytest

from shoplens.privacy.ids import to_external, to_internal
from tests.serve.serve_helpers import auth

AS_OF = "2011-09-01"
BASE = "/api/v1/campaigns"


def _create(client, keys, name="winback", **body):
    spec = {"name": name, "audience": "all", "arms": ["free_shipping", "discount_10"], "control": 0.2,
            "goal": "margin", "window_days": 30, "costs": {"discount_10": 3}} | body
    r = client.post(BASE, json=spec, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    return r.json()


def _customers(client, condition: str, n: int = 1) -> list[str]:
    """Shop ids of ``n`` customers matching ``condition`` over the customers table."""
    wh = client.app.state.warehouse
    rows = wh.con.execute(f"SELECT customer_id FROM customers WHERE {condition} ORDER BY customer_id LIMIT {n}"
                          ).fetchall()
    return to_external(wh, [r[0] for r in rows])


def _customer(client, condition: str) -> str:
    return _customers(client, condition)[0]


def test_roles(served):
    client, keys, _ = served
    spec = {"name": "roles", "audience": "all", "arms": ["free_shipping"]}
    for role in ("viewer", "analyst"):
        assert client.post(BASE, json=spec, headers=auth(keys[role])).status_code == 403
    assert client.post(BASE, json=spec).status_code == 401
    _create(client, keys, "roles")
    for role in ("viewer", "analyst"):
        assert client.post(f"{BASE}/roles/assign", json={}, headers=auth(keys[role])).status_code == 403
        assert client.post(f"{BASE}/roles/stop", headers=auth(keys[role])).status_code == 403
    customer = _customer(client, "consent_marketing")
    assert client.get(f"{BASE}/roles/offer/{customer}", headers=auth(keys["viewer"])).status_code == 403
    assert client.get(f"{BASE}/roles/offer/{customer}", headers=auth(keys["analyst"])).status_code == 200
    for path in (BASE, f"{BASE}/roles"):
        assert client.get(path, headers=auth(keys["viewer"])).status_code == 200


def test_create_list_show_stop(served):
    client, keys, _ = served
    created = _create(client, keys)
    assert created["version"] == 1 and created["status"] == "active"
    assert created["weights"] == {"control": 0.2, "free_shipping": 0.4, "discount_10": 0.4}
    assert created["arms"][1] == {"name": "discount_10", "kind": "discount", "value": 10.0, "cost": 3.0}
    again = client.post(BASE, json={"name": "winback", "audience": "all", "arms": ["free_shipping"]},
                        headers=auth(keys["admin"]))
    assert again.status_code == 400 and "replace" in again.json()["detail"]
    listed = client.get(BASE, headers=auth(keys["viewer"])).json()
    assert listed["count"] == 1 and listed["data"][0]["name"] == "winback"
    assert listed["data"][0]["arms"] == "control,free_shipping,discount_10" and listed["data"][0]["assigned"] == 0
    client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    shown = client.get(f"{BASE}/winback", headers=auth(keys["viewer"])).json()
    assert [v["version"] for v in shown["versions"]] == [1]
    assert len(shown["runs"]) == 1 and shown["runs"][0]["as_of"].startswith(AS_OF)
    stopped = client.post(f"{BASE}/winback/stop", headers=auth(keys["admin"])).json()
    assert stopped["status"] == "stopped" and stopped["version"] == 2
    refused = client.post(f"{BASE}/winback/assign", json={}, headers=auth(keys["admin"]))
    assert refused.status_code == 400 and "stopped" in refused.json()["detail"]


def test_assign_counts_are_the_batch_assignment(served):
    from shoplens.campaigns.assign import assign_campaign

    client, keys, _ = served
    _create(client, keys)
    r = client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    assert r.status_code == 200, r.text
    counts = r.json()
    assert counts["newly_assigned"] == counts["assigned"] > 100 and counts["output"] is None
    assert counts["excluded_no_consent"] > 0  # the demo shop has customers without marketing consent
    assert counts["audience"] == counts["assigned"] + counts["excluded_no_consent"] + counts["excluded_unknown"]
    assert sum(counts["arms"].values()) == counts["assigned"]
    wh = client.app.state.warehouse
    batch = assign_campaign(wh, "winback", as_of=AS_OF, consent_default=client.app.state.consent_default)
    assert batch.counts["newly_assigned"] == 0 and batch.to_dict()["arms"] == counts["arms"]
    second = client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"])).json()
    assert second["newly_assigned"] == 0 and second["already_assigned"] == counts["assigned"]


def test_sticky_offer_equals_the_batch_assignment(served):
    from shoplens.campaigns.assign import assign_campaign

    client, keys, _ = served
    _create(client, keys)
    client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    wh = client.app.state.warehouse
    rows = assign_campaign(wh, "winback", as_of=AS_OF, consent_default=client.app.state.consent_default).rows
    seen = set()
    for _, row in rows.groupby("arm").head(3).iterrows():  # control and both offers
        r = client.get(f"{BASE}/winback/offer/{row['customer_id']}?as_of={AS_OF}", headers=auth(keys["analyst"]))
        assert r.status_code == 200, r.text
        offer = r.json()
        assert offer["customer_id"] == row["customer_id"]  # the shop's id, as given
        assert offer["arm"] == row["arm"] and offer["propensity"] == row["propensity"]
        assert not offer["newly_assigned"] and offer["assigned_at"].startswith(AS_OF)
        if row["arm"] == "control":
            assert offer["offer"] is None and "control" in offer["reason"]
        else:
            assert offer["offer"]["name"] == row["arm"] and offer["reason"] is None
        seen.add(row["arm"])
    assert seen == {"control", "free_shipping", "discount_10"}


def test_a_live_offer_is_the_arm_the_batch_gives_later(served):
    from shoplens.campaigns.assign import arm_of, assign_campaign
    from shoplens.campaigns.campaign import get_campaign

    client, keys, _ = served
    _create(client, keys)
    customer = _customer(client, "consent_marketing")
    first = client.get(f"{BASE}/winback/offer/{customer}?as_of={AS_OF}", headers=auth(keys["analyst"])).json()
    wh = client.app.state.warehouse
    assert first["newly_assigned"] and first["arm"] == arm_of(to_internal(wh, [customer])[0], get_campaign(wh, "winback"))
    again = client.get(f"{BASE}/winback/offer/{customer}", headers=auth(keys["analyst"])).json()
    assert not again["newly_assigned"] and again["arm"] == first["arm"] and again["assigned_at"] == first["assigned_at"]
    batch = assign_campaign(wh, "winback", as_of="2011-09-05", consent_default=client.app.state.consent_default)
    row = batch.rows[batch.rows["customer_id"] == customer].iloc[0]
    assert row["arm"] == first["arm"] and batch.counts["already_assigned"] == 1
    decisions = wh.con.execute("SELECT count(*) FROM decisions WHERE policy = 'campaign:winback' AND customer_id = ?",
                               [to_internal(wh, [customer])[0]]).fetchone()[0]
    assert decisions == 1  # logged once, with its propensity


def test_offer_is_null_with_a_reason(served):
    client, keys, _ = served
    _create(client, keys)
    get = lambda name, cid, q="": client.get(f"{BASE}/{name}/offer/{cid}{q}", headers=auth(keys["analyst"]))
    refused = get("winback", _customer(client, "consent_marketing = FALSE")).json()
    assert refused["arm"] is None and "marketing consent" in refused["reason"] and not refused["newly_assigned"]
    never = get("winback", _customer(client, "consent_marketing IS NULL")).json() \
        if client.app.state.warehouse.con.execute("SELECT count(*) FROM customers WHERE consent_marketing IS NULL"
                                                  ).fetchone()[0] else refused
    assert never["arm"] is None and "consent" in never["reason"]
    unknown = get("winback", "no-such-customer").json()
    assert unknown["arm"] is None and "unknown customer" in unknown["reason"]
    assert unknown["customer_id"] == "no-such-customer"
    # not in the audience: an RFM segment the customer is not in
    customer = _customer(client, "consent_marketing")
    _create(client, keys, "champions", audience="rfm:Champions")
    _create(client, keys, "hibernating", audience="rfm:Hibernating")
    answers = [get(n, customer, f"?as_of={AS_OF}").json() for n in ("champions", "hibernating")]
    assert any(a["arm"] is None and "not in the audience" in a["reason"] for a in answers)
    # over the frequency cap: an offer (not control) from another campaign two days before
    offered = next(a for a in [get("winback", c, f"?as_of={AS_OF}").json()
                               for c in _customers(client, "consent_marketing", 20)] if a["offer"])
    _create(client, keys, "capped", frequency_cap=1, cap_days=30)
    capped = get("capped", offered["customer_id"], "?as_of=2011-09-03").json()
    assert capped["arm"] is None and "frequency cap" in capped["reason"]
    # stopped
    client.post(f"{BASE}/winback/stop", headers=auth(keys["admin"]))
    stopped = get("winback", customer).json()
    assert stopped["arm"] is None and "stopped" in stopped["reason"]


def test_offer_reads_are_audited_as_keyed_hashes(served):
    from pathlib import Path

    client, keys, settings = served
    _create(client, keys)
    customer = _customer(client, "consent_marketing")
    client.get(f"{BASE}/winback/offer/{customer}", headers=auth(keys["analyst"]))
    reads = client.get(f"/api/v1/audit?customer={customer}", headers=auth(keys["admin"])).json()
    assert reads["count"] == 1 and reads["data"][0]["path"] == "/api/v1/campaigns/{name}/offer/{customer_id}"
    log = (Path(settings.warehouse).parent / "audit" / "access.jsonl").read_text()
    assert f'"{customer}"' not in log


def test_report_has_the_cli_shape_and_every_field_documented(served):
    from shoplens.campaigns.report import campaign_report
    from shoplens.jsonsafe import json_safe
    from tests.serve.test_contract import undocumented

    client, keys, _ = served
    _create(client, keys)
    client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    r = client.get(f"{BASE}/winback/report", headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    expected = json_safe(campaign_report(client.app.state.warehouse, "winback"))
    assert set(body) == set(expected) | {"computed_at"} and body["computed_at"]  # computed on request, says when
    assert [(a["arm"], a["metric"]) for a in body["arms"]] == [(a["arm"], a["metric"]) for a in expected["arms"]]
    # the same figures; floats to 1e-9 (DuckDB's parallel sums may add in another order, last bits differ)
    for got, want in zip(body["arms"], expected["arms"], strict=True):
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert got[k] == (pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v), (got["arm"], k)
    assert body["srm"] == expected["srm"]
    assert body["arms"][0]["arm"] == "control" and body["arms"][0]["effect"] is None
    for key in ("arm", "metric", "n", "mean", "effect", "relative_effect", "ci_low", "ci_high", "p_value",
                "chance_to_win"):
        assert all(key in a for a in body["arms"])
    assert body["conclusion"]["en"] and body["conclusion"]["zh"] and body["rewards_logged"] == 0
    schema = client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    for path, answer in ((f"{BASE}/{{name}}/report", body),
                         (f"{BASE}/{{name}}", client.get(f"{BASE}/winback", headers=auth(keys["viewer"])).json()),
                         (BASE, client.get(BASE, headers=auth(keys["viewer"])).json())):
        documented = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert not undocumented(answer, documented, components), path
    early = client.get(f"{BASE}/winback/report?as_of=2011-09-02", headers=auth(keys["viewer"])).json()
    assert early["window"]["share_closed"] == 0


def test_reading_the_report_twice_leaves_the_warehouse_unchanged(served):
    """A read never writes: the report posts no rewards (windows closed or not); the rewards reach
    the decision log by the explicit POST .../rewards (and assignment runs, the scheduler's refresh)."""
    from tests.campaigns.snapshot import warehouse_snapshot

    client, keys, _ = served
    _create(client, keys)
    client.post(f"{BASE}/winback/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    wh = client.app.state.warehouse
    before = warehouse_snapshot(wh)
    first = client.get(f"{BASE}/winback/report", headers=auth(keys["viewer"]))
    second = client.get(f"{BASE}/winback/report", headers=auth(keys["viewer"]))
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["window"]["share_closed"] == 1.0  # every window closed: rewards due, yet none written
    assert warehouse_snapshot(wh) == before
    assert first.json()["rewards_logged"] == second.json()["rewards_logged"] == 0
    for role in ("viewer", "analyst"):
        assert client.post(f"{BASE}/winback/rewards", json={}, headers=auth(keys[role])).status_code == 403
    posted = client.post(f"{BASE}/winback/rewards", json={}, headers=auth(keys["admin"]))
    assert posted.status_code == 200, posted.text
    assert posted.json()["posted"] == posted.json()["closed"] == sum(first.json()["srm"]["counts"].values()) > 0
    after = warehouse_snapshot(wh)
    assert after != before
    again = client.post(f"{BASE}/winback/rewards", json={}, headers=auth(keys["admin"])).json()
    assert again["posted"] == 0 and warehouse_snapshot(wh) == after  # idempotent: nothing rewritten
    assert client.get(f"{BASE}/winback/report", headers=auth(keys["viewer"])).json()["rewards_logged"] == \
        posted.json()["closed"]


def test_unknown_campaign_is_404(served):
    client, keys, _ = served
    for role, method, path, body in (("viewer", "GET", f"{BASE}/nope", None),
                                     ("viewer", "GET", f"{BASE}/nope/report", None),
                                     ("analyst", "GET", f"{BASE}/nope/offer/12348", None),
                                     ("admin", "POST", f"{BASE}/nope/assign", {}),
                                     ("admin", "POST", f"{BASE}/nope/stop", None)):
        r = client.request(method, path, json=body, headers=auth(keys[role]))
        assert r.status_code == 404 and "no campaign 'nope'" in r.json()["detail"], (path, r.text)


def test_report_before_any_assignment_is_409(served):
    client, keys, _ = served
    _create(client, keys)
    r = client.get(f"{BASE}/winback/report", headers=auth(keys["viewer"]))
    assert r.status_code == 409 and "assign" in r.json()["detail"]


@pytest.mark.parametrize("body, field", [
    ({"name": "bad name!", "audience": "all", "arms": ["a"]}, "body.name"),
    ({"name": "x", "audience": "all", "arms": []}, "body.arms"),
    ({"name": "x", "audience": "all", "arms": ["a"], "control": 1.5}, "body.control"),
    ({"name": "x", "audience": "all", "arms": ["a"], "goal": "clicks"}, "body.goal"),
    ({"name": "x", "audience": "all", "arms": ["a"], "window_days": 0}, "body.window_days"),
    ({"name": "x", "audience": "sql:net_revenue > 5", "arms": ["a"]}, "body.audience"),
    ({"name": "x", "audience": "file:/etc/passwd", "arms": ["a"]}, "body.audience"),
    ({"name": "x", "audience": "all", "arms": ["a"], "costs": {"b": 1}}, "body"),
    ({"name": "x", "audience": "all", "arms": ["a"], "costs": {"a": -1}}, "body.costs"),
    ({"name": "x", "audience": "all", "arms": ["a"], "policy": "greedy"}, "body.policy"),
    ({"name": "x", "audience": "all", "arms": ["a"], "start": "someday"}, "body.start"),
])
def test_bad_campaign_is_422_naming_the_field(served, body, field):
    client, keys, _ = served
    r = client.post(BASE, json=body, headers=auth(keys["admin"]))
    assert r.status_code == 422, r.text
    assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()


def test_bad_input_elsewhere_is_422_or_400(served):
    client, keys, _ = served
    _create(client, keys)
    assert client.get(f"{BASE}/winback/report?as_of=yesterday", headers=auth(keys["viewer"])).status_code == 422
    assert client.get(f"{BASE}/winback/offer/12348?as_of=2011-13-01", headers=auth(keys["analyst"])).status_code == 422
    assert client.post(f"{BASE}/winback/assign", json={"as_of": "x"}, headers=auth(keys["admin"])).status_code == 422
    assert client.get(f"{BASE}/bad%20name", headers=auth(keys["viewer"])).status_code == 422
    # a control arm among the offers is a user mistake the campaigns package names
    r = client.post(BASE, json={"name": "y", "audience": "all", "arms": ["control"]}, headers=auth(keys["admin"]))
    assert r.status_code == 400 and "control" in r.json()["detail"]
    r = client.post(BASE, json={"name": "z", "audience": "rfm:Nobody", "arms": ["a"]}, headers=auth(keys["admin"]))
    assert r.status_code == 200  # the segment is checked when assigning
    r = client.post(f"{BASE}/z/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"]))
    assert r.status_code == 400 and "RFM segment 'Nobody' not found" in r.json()["detail"]


def test_a_bandit_campaign_with_a_budget_over_the_api(served):
    from tests.serve.test_contract import undocumented

    client, keys, _ = served
    created = _create(client, keys, name="learn", policy="bandit", budget=150)
    assert created["policy"] == "bandit" and created["budget"] == 150
    counts = client.post(f"{BASE}/learn/assign", json={"as_of": AS_OF}, headers=auth(keys["admin"])).json()
    assert counts["excluded_budget"] > 0 and counts["arms"].get("discount_10", 0) <= 50  # 3 per use, worst case
    r = client.get(f"{BASE}/learn/report", headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["campaign"]["policy"] == "bandit" and set(body["srm"]["counts"]) == {"control", "offers"}
    assert {a["arm"] for a in body["offers_vs_control"]} == {"control", "offers"}
    schema = client.get("/api/v1/openapi.json").json()
    documented = schema["paths"][f"{BASE}/{{name}}/report"]["get"]["responses"]["200"]["content"]["application/json"]
    assert not undocumented(body, documented["schema"], schema["components"]["schemas"])
    shown = client.get(f"{BASE}/learn", headers=auth(keys["viewer"])).json()
    assert shown["runs"][0]["excluded_budget"] == counts["excluded_budget"]
    assert not undocumented(shown, schema["paths"][f"{BASE}/{{name}}"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"], schema["components"]["schemas"])
