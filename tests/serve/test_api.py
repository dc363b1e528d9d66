"""The foundation endpoints: status, overview, quality, ingest, models, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shoplens.base import Model
from shoplens.serve.app import create_app
from shoplens.store.registry import ModelRegistry

from tests.serve.serve_helpers import auth


class MeanBasket(Model):
    def __init__(self, shrink: float = 0.0) -> None:
        self.shrink = shrink

    def fit(self, values: list[float]) -> "MeanBasket":
        self.mean_ = sum(values) / (len(values) + self.shrink)
        return self


def test_openapi_is_versioned(served):
    client, _, _ = served
    schema = client.get("/api/v1/openapi.json").json()
    assert all(p.startswith("/api/v1/") or p == "/metrics" for p in schema["paths"])
    assert "/api/v1/health" in schema["paths"]


def test_status_reports_tables_and_freshness(served):
    client, keys, _ = served
    body = client.get("/api/v1/status", headers=auth(keys["viewer"])).json()
    assert body["tables"]["orders"]["rows"] > 5000
    assert body["tables"]["orders"]["last_ingest"] is not None
    assert isinstance(body["computed"], list) and body["drift"] == {}


def test_overview_kpis(served):
    client, keys, _ = served
    body = client.get("/api/v1/overview", headers=auth(keys["viewer"])).json()
    assert body["kpis"]["customers"] > 1000 and body["kpis"]["currency"] == "GBP"
    assert len(body["revenue_by_month"]) >= 12


def test_quality_and_drift_in_status(served):
    from shoplens.monitor.drift import check_drift

    client, keys, settings = served
    body = client.get("/api/v1/quality", headers=auth(keys["viewer"])).json()
    assert {r["table"] for r in body["ingest_runs"]} >= {"orders", "reviews"}
    wh = client.app.state.warehouse
    check_drift(wh)
    status = client.get("/api/v1/status", headers=auth(keys["viewer"])).json()
    features = {c["feature"] for c in status["drift"]["checks"]}
    assert "order_value" in features and status["drift"]["thresholds"]["significant"] == 0.25


def test_ingest_upload_returns_accounting(served, tmp_path):
    client, keys, _ = served
    csv = b"customer_id,country\nnew-1,France\nnew-2,Spain\n,Spain\n"
    r = client.post("/api/v1/ingest", headers=auth(keys["admin"]), data={"table": "customers"},
                    files={"file": ("more_customers.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    acc = r.json()
    assert acc["read"] == 3 and acc["read"] == acc["loaded"] + acc["updated"] + acc["quarantined"] + acc["duplicates"]
    assert acc["quarantined"] == 1 and acc["files"] == ["more_customers.csv"]
    assert client.post("/api/v1/ingest", headers=auth(keys["analyst"]), data={"table": "customers"},
                       files={"file": ("c.csv", csv, "text/csv")}).status_code == 403
    bad = client.post("/api/v1/ingest", headers=auth(keys["admin"]), data={"table": "nonsense"},
                      files={"file": ("c.csv", csv, "text/csv")})
    assert bad.status_code == 400 and "nonsense" in bad.json()["detail"]


def test_ingest_upload_returns_the_money_accounting(served):
    client, keys, _ = served
    csv = b"order_id,ordered_at,total_amount\nNEW-1,2011-01-05,10.55\nNEW-2,not a date,3.20\n"
    r = client.post("/api/v1/ingest", headers=auth(keys["admin"]), data={"table": "orders"},
                    files={"file": ("more_orders.csv", csv, "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["money"] == {"orders": {"total_amount": {"read": 13.75, "loaded": 10.55, "updated": 0.0,
                                                             "quarantined": 3.2, "duplicates": 0.0}}}


@pytest.mark.parametrize("name", ["..", ".", "../../orders.csv", "a/b.csv", "a\\b.csv", "x" * 300 + ".csv",
                                  "é" * 130 + ".csv"])
def test_upload_names_are_validated(served, name):
    """Issue #16 item 15: an upload named `..` or with a 300-character name reached a 500."""
    client, keys, settings = served
    r = client.post("/api/v1/ingest", headers=auth(keys["admin"]), data={"table": "customers"},
                    files={"file": (name, b"customer_id\nz-1\n", "text/csv")})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body.file" and "file name" in r.json()["detail"]
    assert not list((Path(settings.warehouse).parent / ".tmp" / "uploads" / "warehouse").glob("upload-*"))


def test_a_failed_upload_leaves_no_file(served):
    client, keys, settings = served
    r = client.post("/api/v1/ingest", headers=auth(keys["admin"]), data={"table": "orders"},
                    files={"file": ("orders.csv", b"no,such,columns\n1,2,3\n", "text/csv")})
    assert r.status_code == 400
    uploads = Path(settings.warehouse).parent / ".tmp" / "uploads" / "warehouse"
    assert uploads.is_dir() and not list(uploads.iterdir())
    assert oct(uploads.stat().st_mode & 0o777) == "0o700"


def test_leftover_uploads_are_removed_when_the_server_starts(demo_copy):
    """Issue #16 item 17: a killed upload left its file (raw PII) behind for ever."""
    settings, store, serve = demo_copy()
    store.create("admin")
    home = Path(settings.warehouse).parent
    left = home / ".tmp" / "uploads" / "warehouse" / "upload-k1ll3d"
    left.mkdir(parents=True)
    (left / "online_retail.csv").write_text("CustomerID,Email\n12348,grace@example.com\n")
    busy = home / ".tmp" / "uploads" / "other" / "upload-running"  # another warehouse's server in the same folder
    busy.mkdir(parents=True)
    (home / "upload-photos").mkdir()  # the shop's own folder of that name: never touched
    (home / "upload-photos" / "a.txt").write_text("mine")
    with TestClient(create_app(settings, serve)):
        assert not left.exists()
    assert (home / "upload-photos" / "a.txt").read_text() == "mine" and busy.is_dir()


def test_invalid_input_names_the_field(served):
    client, keys, _ = served
    r = client.get("/api/v1/models?limit=0", headers=auth(keys["viewer"]))
    assert r.status_code == 422 and "limit" in r.json()["detail"]


def test_models_list_promote_rollback(served):
    client, keys, _ = served
    wh = client.app.state.warehouse
    reg = ModelRegistry(wh)
    for shrink in (0.0, 1.0):
        reg.register("basket", MeanBasket(shrink).fit([1.0, 2.0]), metrics={"mae": shrink},
                     data_window=("2011-01-01", "2011-06-30"))
    listed = client.get("/api/v1/models", headers=auth(keys["viewer"])).json()
    assert listed["count"] == 2 and [m["status"] for m in listed["data"]] == ["archived", "promoted"]
    r = client.post("/api/v1/models/basket/rollback", headers=auth(keys["admin"]))
    assert r.json() == {"name": "basket", "version": 1, "status": "promoted"}
    assert client.post("/api/v1/models/basket/promote?version=9", headers=auth(keys["admin"])).status_code == 404
    assert client.post("/api/v1/models/basket/promote?version=2", headers=auth(keys["admin"])).status_code == 200
    status = client.get("/api/v1/status", headers=auth(keys["viewer"])).json()
    assert [(m["name"], m["version"]) for m in status["models"]] == [("basket", 2)]
    metrics = client.get("/metrics", headers=auth(keys["admin"])).text
    assert 'shoplens_model_version{model="basket"} 2.0' in metrics


def test_metrics_count_requests_and_accept_the_metrics_token(demo_copy):
    from fastapi.testclient import TestClient

    from shoplens.serve.app import create_app

    token = "Zx9-kq2Lm4Np6Rt8Vw0Yb1Cd3Fg5Hj7Kl9Qs2Tu4W"
    settings, store, serve = demo_copy(metrics_token=token)
    store.create("viewer")
    app = create_app(settings, serve)
    with TestClient(app) as client:
        client.get("/api/v1/health")
        client.get("/api/v1/status")
        text = client.get("/metrics", headers=auth(token)).text
        assert 'shoplens_http_requests_total{method="GET",route="/api/v1/status",status="401"} 1.0' in text
        assert "shoplens_http_request_duration_seconds_bucket" in text
        assert 'shoplens_data_age_seconds{kind="' in text or "# TYPE shoplens_data_age_seconds gauge" in text
        assert client.get("/metrics", headers=auth("wrong")).status_code == 401


def test_dashboard_and_offline_assets(served):
    client, _, _ = served
    page = client.get("/")
    assert page.status_code == 200 and "/assets/plotly.min.js" in page.text and "http" not in page.text.split("<body>")[0]
    js = client.get("/assets/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/assets/i18n.js").text.count("zh:") == 1
    assert client.get("/assets/nope.js").status_code == 404


def test_api_docs_page_is_offline_and_fits_the_csp(served):
    """/api/v1/docs loads Swagger UI from /assets/ (no CDN) and has no inline script the CSP would block."""
    import re

    client, _, _ = served
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/assets/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http" not in page.text
    for asset in re.findall(r'(?:src|href)="(/assets/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset
    assert "/api/v1/openapi.json" in client.get("/assets/swagger-init.js").text
    assert client.get("/api/v1/openapi.json").json()["paths"]


def test_summary_matches_the_cli_and_needs_a_key(served):
    from shoplens.insights.summary import shop_summary

    client, keys, _ = served
    assert client.get("/api/v1/summary").status_code == 401
    r = client.get("/api/v1/summary?lang=zh&days=30", headers=auth(keys["viewer"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lang"] == "zh" and body["headings"]["what"] == "变化" and body["changes"][0]["metric"] == "revenue"
    direct = shop_summary(client.app.state.warehouse, days=30, lang="zh")  # the server's own connection
    assert body["lines"] == direct.lines() and body["changes"][0]["current"] == pytest.approx(direct.changes[0]["current"])
    assert client.get("/api/v1/summary?lang=fr", headers=auth(keys["viewer"])).status_code == 422
    assert client.get("/api/v1/summary?days=0", headers=auth(keys["viewer"])).status_code == 422
