"""The first summary: KPIs, revenue by month, top categories and products, the report."""

from __future__ import annotations

from shoplens.insights.overview import kpis, overview
from shoplens.insights.report import Report, kpi_html
from shoplens.ingest import ingest

from tests.ingest.helpers import write


def test_kpis_on_a_hand_checked_shop(tmp_wh, tmp_path):
    ingest(tmp_wh, [write(tmp_path / "p.csv", "product_id,category\nA,mugs\nB,bowls\n")], table="products")
    orders = ("order_id,customer_id,ordered_at,status,currency\n"
              "O1,c1,2011-01-05,completed,GBP\nO2,c1,2011-02-05,completed,GBP\n"
              "O3,c2,2011-02-06,completed,GBP\nC1,c2,2011-02-07,cancelled,GBP\nX,,2011-02-08,adjustment,GBP\n")
    ingest(tmp_wh, [write(tmp_path / "o.csv", orders)], table="orders")
    items = ("order_id,line_number,product_id,quantity,unit_price\n"
             "O1,1,A,2,5\nO2,1,B,1,10\nO3,1,A,1,5\nO3,2,B,3,10\nC1,1,B,-1,10\nX,1,A,1,99\n")
    ingest(tmp_wh, [write(tmp_path / "i.csv", items)], table="order_items")
    k = kpis(tmp_wh)
    assert k["customers"] == 2 and k["orders"] == 3 and k["cancellations"] == 1
    assert k["revenue"] == 10 + 10 + 35 - 10  # net of the return, adjustment excluded
    assert k["average_order_value"] == k["revenue"] / k["orders"]  # one AOV: net revenue / orders (as per customer)
    assert k["gross_revenue"] == 55 and k["returned_value"] == 10
    assert k["repeat_purchase_rate"] == 0.5
    ov = overview(tmp_wh)
    assert ov["revenue_by_month"].set_index("month").revenue.to_dict() == {"2011-01": 10.0, "2011-02": 35.0}
    assert ov["top_categories"].category.tolist() == ["bowls", "mugs"]
    assert ov["top_products"].product_id.tolist()[0] == "B"


def test_report_is_self_contained(tmp_path):
    import plotly.express as px

    r = Report("T", "sub")
    s = r.add_section("One", text="Hello.\n\nWorld.")
    r.add_figure(s, px.bar(x=[1, 2], y=[3, 4]))
    r.add_figure(s, px.bar(x=[1, 2], y=[3, 4]))
    s.blocks.append(kpi_html([("orders", "12")]))
    html = r.write(tmp_path / "r.html").read_text(encoding="utf-8")
    assert html.count("<section") == 1 and "<p>World.</p>" in html
    assert html.count("plotly.js v") <= 2  # the library is embedded once, not per chart
    assert '<script src="http' not in html
