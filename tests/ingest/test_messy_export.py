"""A messy real export: real demo invoice lines made into separate orders, order-line
and product files with the faults shops' exports have (mixed encodings, cancellations,
repeated rows, orphan lines, bad and future dates, zero quantities). Everything must be
accounted for, and every quarantined row must say where and why."""

from __future__ import annotations

import gzip

import pandas as pd

from shoplens.ingest import ingest
from shoplens.datasets import demo_data_dir


def _messy_files(tmp_path):
    with gzip.open(demo_data_dir() / "online_retail_sample.csv.gz", "rt", encoding="utf-8") as fh:
        lines = pd.read_csv(fh, dtype=str, nrows=3000)
    lines = lines[lines.CustomerID.notna()]
    orders = lines.groupby("InvoiceNo").agg(customer_id=("CustomerID", "first"), ordered_at=("InvoiceDate", "first")).reset_index()
    orders["status"] = orders.InvoiceNo.str.startswith("C").map({True: "cancelled", False: "completed"})
    orders = orders.rename(columns={"InvoiceNo": "order_id"})
    orders.loc[3, "ordered_at"] = "31/02/2011 25:61"  # unreadable date
    orders.loc[5, "ordered_at"] = "2031-01-01 10:00:00"  # far future
    orders = pd.concat([orders, orders.iloc[[7, 8]]])  # repeated rows
    orders.to_csv(tmp_path / "orders.csv", index=False)

    items = lines.rename(columns={"InvoiceNo": "order_id", "StockCode": "product_id", "Quantity": "quantity",
                                  "UnitPrice": "unit_price"})[["order_id", "product_id", "quantity", "unit_price"]]
    items = pd.concat([items, items.iloc[:25]])  # repeated lines
    orphan = items.iloc[:4].assign(order_id="999999")
    zero = items.iloc[10:12].assign(quantity="0")
    items = pd.concat([items, orphan, zero])
    items.to_csv(tmp_path / "order_items.csv", index=False)

    products = lines.drop_duplicates("StockCode")[["StockCode", "Description", "UnitPrice"]]
    products.columns = ["product_id", "name", "price"]
    products.loc[products.index[:30], "name"] = "中文品名 " + products.name[:30]
    products.loc[products.index[60:90], "name"] = "中文品名 " + products.name[60:90]
    head = products.iloc[:60].to_csv(index=False).encode("utf-8")
    tail = products.iloc[60:].to_csv(index=False, header=False).encode("gbk", errors="replace")  # another system's rows
    (tmp_path / "products.csv").write_bytes(head + tail)
    return len(orders), len(items), len(products)


def test_messy_export_adds_up_and_explains_every_rejection(tmp_wh, tmp_path):
    n_orders, n_items, n_products = _messy_files(tmp_path)
    results = {
        "products": ingest(tmp_wh, [tmp_path / "products.csv"], table="products"),
        "orders": ingest(tmp_wh, [tmp_path / "orders.csv"], table="orders"),
        "order_items": ingest(tmp_wh, [tmp_path / "order_items.csv"], table="order_items"),
    }
    for name, r in results.items():
        assert r.read == r.loaded + r.updated + r.quarantined + r.duplicates, name
    assert results["products"].read == n_products and results["orders"].read == n_orders
    assert results["order_items"].read == n_items
    assert results["orders"].quarantined == 2 and results["orders"].duplicates == 2
    q = tmp_wh.query('SELECT table_name, file, line, "column", reason FROM _quarantine')
    assert q.reason.notna().all() and q.line.notna().all() and q.column.notna().all() and q.file.notna().all()
    # order lines of the two quarantined orders, the orphans and the zero quantities, with reasons
    items_q = q[q.table_name == "order_items"]
    assert items_q.reason.str.contains("'999999' not found in orders").sum() == 4
    assert items_q.reason.str.contains("quantity is 0").sum() == 2
    assert len(items_q) == results["order_items"].quarantined
    # cancellations are data
    assert tmp_wh.query("SELECT count(*) n FROM orders WHERE status = 'cancelled'").n[0] > 0
    # the GBK rows were read as text, not as mojibake
    assert tmp_wh.query("SELECT count(*) n FROM products WHERE name LIKE '中文品名%'").n[0] == 60
    # a second run of the same files changes nothing
    again = ingest(tmp_wh, [tmp_path / "order_items.csv"], table="order_items")
    assert again.loaded == 0 and again.updated == 0 and again.quarantined == results["order_items"].quarantined
