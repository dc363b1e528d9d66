"""The ingest summary flags units dominated by a few products (fuel, goods sold by weight)."""

from __future__ import annotations

from shoplens.ingest import ingest


def _lines(wh, path, fuel_litres: float):
    """Ingest 300 orders, then their lines (three items each, and fuel in one order of sixty)."""
    orders = path.with_name("orders.csv")
    orders.write_text("order_id,customer_id,ordered_at\n"
                      + "".join(f"O{o},C{o % 50},2024-01-{1 + o % 28:02d}T10:00:00\n" for o in range(300)))
    ingest(wh, [orders], table="orders", privacy="off")
    rows = ["order_id,line_number,product_id,quantity,unit_price"]
    for o in range(300):
        for k in range(3):
            rows.append(f"O{o},{k + 1},P{(o + k) % 40},1,2.5")
        if o % 60 == 0:  # one order in sixty also fills up the car
            rows.append(f"O{o},4,FUEL,{fuel_litres},1.6")
    path.write_text("\n".join(rows) + "\n")
    return ingest(wh, [path], table="order_items", privacy="off")


def test_a_few_products_carrying_most_units_are_flagged(tmp_wh, tmp_path):
    result = _lines(tmp_wh, tmp_path / "lines.csv", fuel_litres=400)
    notes = [n for n in result.notes if n.startswith("units are dominated")]
    assert result.loaded == 905 and len(notes) == 1 and notes == result.to_dict()["notes"][-1:]
    # 5 fuel lines of 905, 2,000 litres against 900 items
    assert "1 product on 0.6% of lines carries 69% of all units (FUEL)" in notes[0]


def test_ordinary_units_are_not_flagged(tmp_wh, tmp_path):
    result = _lines(tmp_wh, tmp_path / "lines.csv", fuel_litres=1)
    assert not any(n.startswith("units are dominated") for n in result.notes)
    assert "units are dominated" not in str(result.to_dict())
