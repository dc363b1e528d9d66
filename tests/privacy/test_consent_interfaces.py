"""Consent fails closed through every interface (#25 item 2, #16 item 2): a customer who refused
marketing, one never asked, and an id that is not a customer are never offered, assigned or
exported, through the CLI, Python and REST; a consenting customer is, and every id comes back
as the shop's own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.config import Settings
from shoplens.decide.log import Decider
from shoplens.decide.policies import BernoulliTS
from shoplens.privacy import allowed, export_customers
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.warehouse import Warehouse

DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # the session demo warehouse's (tests/conftest.py)
ACTIONS = ["10-percent-off", "free-shipping"]
runner = CliRunner()


@pytest.fixture()
def shop(demo_warehouse_path: Path, tmp_path: Path, monkeypatch):
    """(warehouse path, {"yes", "refused", "never", "unknown"} -> shop id) over a demo copy."""
    monkeypatch.setenv("SHOPLENS_SECRET", DEMO_SECRET)
    path = tmp_path / "w" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_warehouse_path, path)
    with Warehouse(path) as wh:
        first = "SELECT min(customer_id) FROM customers WHERE consent_personalization AND consent_marketing = ?"
        yes = wh.con.execute(first + " AND customer_id <> (SELECT min(customer_id) FROM customers "
                             "WHERE consent_personalization AND consent_marketing)", [True]).fetchall()[0][0]
        never = wh.con.execute(first, [True]).fetchall()[0][0]
        refused = wh.con.execute(first, [False]).fetchall()[0][0]
        wh.con.execute("UPDATE customers SET consent_marketing = NULL WHERE customer_id = ?", [never])
        ids = dict(zip(("yes", "refused", "never"), to_external(wh, [yes, refused, never])))
    return path, {**ids, "unknown": "not-a-customer"}


def test_cli_offers_and_assignments(shop) -> None:
    path, ids = shop
    for who, customer in ids.items():
        res = runner.invoke(app, ["-w", str(path), "decide", "choose", "--customer", customer, "--actions",
                                  ",".join(ACTIONS), "--json"])
        assert res.exit_code == 0, res.output
        decision = json.loads(res.output)["decisions"][0]
        assert decision["customer_id"] == customer
        assert (decision["action"] is not None) == (who == "yes"), who
    res = runner.invoke(app, ["-w", str(path), "ab", "assign", *ids.values(), "--experiment", "spring", "--json"])
    out = json.loads(res.output)
    assert list(out["assignments"]) == [ids["yes"]]
    assert set(out["not_assigned"]) == {ids["refused"], ids["never"], ids["unknown"]}


def test_python_offers_exports_and_checks(shop) -> None:
    path, ids = shop
    everyone = list(ids.values())
    with Warehouse(path) as wh:
        check = allowed(wh, everyone, "marketing")
        assert check.allowed == [ids["yes"]] and check.unknown == [ids["unknown"]]
        assert set(check.refused) == {ids["refused"], ids["never"]}
        decisions = Decider(wh, BernoulliTS(seed=0), name="offers").decide_batch(everyone, [{}] * 4, ACTIONS)
        assert [d["customer_id"] for d in decisions] == everyone
        assert [d["action"] is not None for d in decisions] == [who == "yes" for who in ids]
        result = export_customers(wh, everyone, "campaign")
        assert pd.read_csv(result.path, dtype=str)["customer_id"].tolist() == [ids["yes"]]
        logged = wh.query("SELECT customer_id, action FROM decisions WHERE action IS NOT NULL")
        assert logged["customer_id"].tolist() == to_internal(wh, [ids["yes"]])


def test_rest_offers_and_segment_export(shop) -> None:
    from fastapi.testclient import TestClient

    from shoplens.serve.app import create_app
    from shoplens.serve.keys import KeyStore
    from shoplens.serve.settings import ServeSettings

    path, ids = shop
    with Warehouse(path) as wh:  # a segment holding all four (the unknown id as a warehouse id would be)
        members = to_internal(wh, list(ids.values()))
        wh.write_table("customer_segments", pd.DataFrame({"customer_id": members, "segment_id": 0}))
    store = KeyStore.for_warehouse(path)
    admin, analyst = ({"Authorization": f"Bearer {store.create(role)}"} for role in ("admin", "analyst"))
    application = create_app(Settings(warehouse=path, secret=DEMO_SECRET), ServeSettings(allow_weak_secret=True))
    with TestClient(application, raise_server_exceptions=False) as client:
        assert client.post("/api/v1/bandits", json={"name": "offers", "policy": "ucb1"}, headers=admin).status_code == 200
        for who, customer in ids.items():
            body = client.post("/api/v1/decisions", json={"policy": "offers", "actions": ACTIONS,
                                                          "customer_id": customer}, headers=analyst).json()
            slot = body["data"][0]
            assert slot["customer_id"] == customer and (slot["action"] is not None) == (who == "yes"), who
        out = client.post("/api/v1/segments/0/export", json={"name": "audience"}, headers=admin).json()
        assert out == {"path": "exports/audience.csv", "exported": 1, "excluded_without_consent": 3}
    assert pd.read_csv(path.parent / "exports" / "audience.csv", dtype=str)["customer_id"].tolist() == [ids["yes"]]
