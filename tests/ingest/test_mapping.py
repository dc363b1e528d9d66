"""Mappings and presets: renames, formats, time zones, values, constants, derived
columns, one file feeding several tables."""

from __future__ import annotations

import pytest

from shoplens.errors import MappingError
from shoplens.ingest import Mapping, ingest, list_presets
from shoplens.datasets import demo_data_dir

from .helpers import adds_up, write

EXPORT = """Invoice;Line;SKU;Item;Qty;Price;When;Buyer;State
1001;1;A-1;Red mug;2;3,50;01/06/2011 10:00;c1;OK
1001;2;B-2;Blue bowl;1;5,00;01/06/2011 10:00;c1;OK
1002;1;A-1;Red mug;-1;3,50;02/06/2011 09:30;c2;RET
1003;1;B-2;Blue bowl;1;5,00;32/06/2011 09:30;c2;OK
"""

MAPPING = """
[source]
timezone = "Asia/Shanghai"
date_formats = ["%d/%m/%Y %H:%M"]
delimiter = ";"

[tables.order_items]
order_id = "Invoice"
line_number = "Line"
product_id = "SKU"
quantity = "Qty"
unit_price = { expr = "replace(Price, ',', '.')" }

[tables.orders]
order_id = "Invoice"
customer_id = "Buyer"
ordered_at = "When"
status = { column = "State", values = { OK = "completed", RET = "returned" } }
total_amount = { expr = "sum(CAST(Qty AS DOUBLE) * CAST(replace(Price, ',', '.') AS DOUBLE))" }
currency = { const = "CNY" }

[tables.products]
product_id = "SKU"
name = "Item"
"""


def test_one_export_feeds_several_tables(tmp_wh, tmp_path):
    f = write(tmp_path / "export.csv", EXPORT)
    m = write(tmp_path / "m.toml", MAPPING)
    r = ingest(tmp_wh, [f], mapping=m)
    assert r.table == "order_items" and adds_up(r)
    # the bad date quarantines order 1003, and its line with it (reason says why)
    assert (r.read, r.loaded, r.quarantined) == (4, 3, 1)
    assert r.derived["orders"].quarantined == 1 and r.derived["products"].loaded == 2
    orders = tmp_wh.query("SELECT * FROM orders ORDER BY order_id")
    assert orders.order_id.tolist() == ["1001", "1002"]
    assert orders.status.tolist() == ["completed", "returned"]
    assert orders.total_amount.tolist() == [12.0, -3.5]
    assert orders.currency.tolist() == ["CNY", "CNY"]
    # 10:00 in Shanghai is 02:00 UTC
    assert str(orders.ordered_at[0]) == "2011-06-01 02:00:00"
    q = tmp_wh.query("SELECT table_name, reason FROM _quarantine ORDER BY table_name")
    assert "cannot read '32/06/2011 09:30'" in q.reason[q.table_name == "orders"].iloc[0]
    assert "was quarantined in orders" in q.reason[q.table_name == "order_items"].iloc[0]


def test_yaml_mapping(tmp_wh, tmp_path):
    f = write(tmp_path / "p.csv", "code,title,cost\nX,Lamp,12\n")
    m = write(tmp_path / "m.yaml", "tables:\n  products:\n    product_id: code\n    name: title\n    price: {expr: 'cost * 1.2'}\n")
    ingest(tmp_wh, [f], mapping=m)
    assert tmp_wh.query("SELECT price FROM products").price[0] == pytest.approx(14.4)


def test_epoch_seconds(tmp_wh, tmp_path):
    f = write(tmp_path / "e.csv", "user,item,behavior,ts\n1,10,pv,1511544070\n")
    m = write(tmp_path / "m.toml", '[tables.events]\ncustomer_id = "user"\nproduct_id = "item"\nevent_type = "behavior"\noccurred_at = { column = "ts", unit = "s" }\n')
    ingest(tmp_wh, [f], mapping=m)
    got = tmp_wh.query("SELECT event_type, occurred_at FROM events")
    assert got.event_type[0] == "view" and str(got.occurred_at[0]) == "2017-11-24 17:21:10"


@pytest.mark.parametrize("text,message", [
    ('[tables.widgets]\nx = "y"\n', "unknown table 'widgets'"),
    ('[tables.orders]\nnope = "y"\n', "unknown column 'nope'"),
    ('[tables.orders]\norder_id = { expr = "sum((" }\n', "cannot parse expression"),
    ('[tables.orders]\norder_id = { column = "a", const = 1 }\n', "exactly one of column, expr or const"),
    ('tables = 3\n', "invalid mapping"),
    ('[tables.orders\n', "cannot parse mapping"),
])
def test_invalid_mappings_are_clear_errors(tmp_path, text, message):
    with pytest.raises(MappingError, match=message):
        Mapping.from_file(write(tmp_path / "m.toml", text))


def test_mapping_naming_a_missing_source_column(tmp_wh, tmp_path):
    f = write(tmp_path / "o.csv", "id,when\n1,2011-01-01\n")
    m = write(tmp_path / "m.toml", '[tables.orders]\norder_id = "order_no"\nordered_at = "when"\n')
    with pytest.raises(MappingError, match="column 'order_no', which the file does not have"):
        ingest(tmp_wh, [f], mapping=m)
    assert tmp_wh.row_count("orders") == 0


def test_presets_exist_and_unknown_preset_is_clear():
    presets = list_presets()
    assert "online-retail" in presets
    with pytest.raises(MappingError, match="unknown preset 'nope'; available presets: .*online-retail"):
        Mapping.preset("nope")


def test_online_retail_preset_on_demo_file(tmp_wh):
    r = ingest(tmp_wh, [demo_data_dir() / "online_retail_sample.csv.gz"], preset="online-retail")
    assert adds_up(r) and r.read == 112150
    assert r.duplicates > 0  # the source's exact repeated lines
    for t, c in r.derived.items():
        assert c.read == c.loaded + c.updated + c.quarantined + c.duplicates, t
    cancelled = tmp_wh.query("SELECT count(*) n FROM orders WHERE status = 'cancelled'").n[0]
    assert cancelled > 0
    assert tmp_wh.query("SELECT count(*) n FROM order_items WHERE quantity < 0").n[0] > 0
    # every order line references a loaded order; line numbers are per order
    assert tmp_wh.query("SELECT count(*) n FROM order_items WHERE order_id NOT IN (SELECT order_id FROM orders)").n[0] == 0
    assert tmp_wh.query("SELECT min(line_number) m FROM order_items").m[0] == 1


def test_a_misspelt_key_suggests_the_known_one():
    with pytest.raises(MappingError, match=r"ordered_at\.fmt: .*did you mean 'format'\?"):
        Mapping.parse({"tables": {"orders": {"order_id": "id", "ordered_at": {"column": "d", "fmt": "%Y"}}}})
    with pytest.raises(MappingError) as info:
        Mapping.parse({"tables": {"orders": {"order_id": "id", "ordered_at": {"column": "d", "zzzzzz": 1}}}})
    assert "did you mean" not in str(info.value)  # nothing close: no guess


def test_a_mappings_shop_section_is_checked():
    m = Mapping.parse({"shop": {"currency": "cny", "timezone": "Asia/Shanghai"}, "tables": {"orders": {}}})
    assert (m.shop.currency, m.shop.timezone) == ("CNY", "Asia/Shanghai")
    with pytest.raises(MappingError, match="shop.timezone 'Beijing' is not an IANA time zone"):
        Mapping.parse({"shop": {"timezone": "Beijing"}, "tables": {"orders": {}}})
