"""The products resource (the dashboard's drill-downs): one product's page, a category's products,
and the metric definitions the dashboard shows as tooltips."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from tests.serve.serve_helpers import auth


def _top(client, key):
    return client.get("/api/v1/overview", headers=auth(key)).json()


def test_product_page_matches_the_overview_and_says_when_it_was_computed(served):
    client, keys, _ = served
    top = _top(client, keys["viewer"])["top_products"][0]
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    answer = client.get(f"/api/v1/products/{top['product_id']}", headers=auth(keys["viewer"]))
    assert answer.status_code == 200, answer.text
    p = answer.json()
    assert (p["product_id"], p["name"], p["category"]) == (top["product_id"], top["name"], top["category"])
    assert p["sales"]["revenue"] == top["revenue"] and p["sales"]["units"] == top["units"]
    assert p["sales"]["customers"] == top["customers"] and p["currency"] == "GBP"
    assert abs(sum(m["revenue"] for m in p["revenue_by_month"]) - top["revenue"]) < 0.01 * len(p["revenue_by_month"])
    computed = datetime.fromisoformat(p["computed_at"])
    assert before - timedelta(seconds=1) <= computed <= datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1)
    assert p["reviews"]["reviews"] >= len(p["reviews"]["quotes"])


def test_product_reviews_are_the_products_own_with_personal_data_masked(served):
    client, keys, _ = served
    wh = client.app.state.warehouse
    product, n = wh.con.execute("SELECT product_id, count(*) FROM reviews GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
    p = client.get(f"/api/v1/products/{product}?quotes=50", headers=auth(keys["viewer"])).json()
    assert p["reviews"]["reviews"] == n and len(p["reviews"]["quotes"]) == min(n, 50)
    texts = [r[0] for r in wh.con.execute("SELECT text FROM reviews WHERE product_id = ?", [product]).fetchall()]
    assert all(any(t[:20] in q["text"] or "***" in q["text"] for t in texts) for q in p["reviews"]["quotes"])
    assert not any(re.search(r"[\w.]+@[\w.]+\.\w+", q["text"]) for q in p["reviews"]["quotes"])


def test_unknown_product_and_category_are_404_and_need_a_key(served):
    client, keys, _ = served
    assert client.get("/api/v1/products/NO-SUCH-PRODUCT", headers=auth(keys["viewer"])).status_code == 404
    missing = client.get("/api/v1/categories/no-such-category/products", headers=auth(keys["viewer"]))
    assert missing.status_code == 404 and "no-such-category" in missing.json()["detail"]
    assert client.get("/api/v1/products/NO-SUCH-PRODUCT").status_code == 401
    assert client.get("/api/v1/categories/bags/products").status_code == 401


def test_category_products_add_up_to_the_category_revenue(served):
    client, keys, _ = served
    cat = _top(client, keys["viewer"])["top_categories"][0]
    answer = client.get(f"/api/v1/categories/{cat['category']}/products?n=200", headers=auth(keys["viewer"]))
    assert answer.status_code == 200, answer.text
    c = answer.json()
    assert c["category"] == cat["category"] and c["computed_at"]
    revenues = [r["revenue"] for r in c["data"]]
    assert revenues == sorted(revenues, reverse=True) and all(r["category"] == cat["category"] for r in c["data"])
    if c["products"] <= 200:  # every product listed: they add up to the category's net revenue
        assert abs(sum(revenues) - cat["revenue"]) < 0.01 * len(revenues)
    assert len(client.get(f"/api/v1/categories/{cat['category']}/products?n=3", headers=auth(keys["viewer"])).json()["data"]) == 3


def test_dashboard_tooltips_are_the_metric_definitions(served):
    """/assets/labels.js carries one definition per metric (shoplens.metrics) in both languages."""
    from shoplens.metrics import METRICS

    client, _, _ = served
    js = client.get("/assets/labels.js").text
    tips = json.loads(re.search(r"window\.SHOPLENS_METRICS = (\{.*\});", js).group(1))
    net = next(m for m in METRICS if m.name == "net revenue")
    assert tips["en"]["revenue"] == f"Net revenue: {net.definition.replace('`', '')}." and tips["zh"]["revenue"] == net.zh + "。"
    for k in ("customers", "orders", "average_order_value", "repeat_purchase_rate", "cancellations", "churn_risk", "psi"):
        assert tips["en"][k] and re.search(r"[\u4e00-\u9fff]", tips["zh"][k]), k
