"""Per-order measures count different products, never units: fuel litres or kilograms of fruit
must not make a customer a "bulk buyer"."""

from __future__ import annotations

from datetime import date

from shoplens.customers.features import customer_features


def test_items_per_order_counts_different_products(tmp_wh):
    tmp_wh.con.execute("""INSERT INTO orders (order_id, customer_id, ordered_at, status) VALUES
        ('O1', 'C1', TIMESTAMP '2024-03-01 10:00', 'completed'),
        ('O2', 'C2', TIMESTAMP '2024-03-02 10:00', 'completed'),
        ('O3', 'C2', TIMESTAMP '2024-03-05 10:00', 'completed')""")
    tmp_wh.con.execute("""INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) VALUES
        ('O1', 1, 'FUEL', 650, 1.5), ('O1', 2, 'MILK', 1, 2.0),
        ('O2', 1, 'MILK', 2, 2.0), ('O2', 2, 'MILK', 1, 2.0), ('O2', 3, 'BREAD', 1, 3.0),
        ('O3', 1, 'EGGS', 12, 0.3)""")
    features = customer_features(tmp_wh, date(2024, 4, 1), signals=False).set_index("customer_id")
    # C1: fuel and milk in one order; C2: milk (two lines) and bread, then eggs
    assert features.loc["C1", "items_per_order"] == 2.0
    assert features.loc["C2", "items_per_order"] == 1.5
