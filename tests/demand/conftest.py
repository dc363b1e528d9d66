"""A small synthetic shop for the demand tests: known weekly demand per product,
a return, a cancelled order, a bookkeeping adjustment and a late launch."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shoplens.store.warehouse import Warehouse

START = datetime(2024, 1, 1)  # a Monday


def build_shop(wh: Warehouse, weeks: int = 40, seed: int = 0) -> None:
    """Products P1..P5 in categories A/B; P1 steady, P2 rising, P3 intermittent, P4 launched late, P5 falling."""
    rng = np.random.default_rng(seed)
    orders, items = [], []

    def sell(product: str, when: datetime, qty: float, status: str = "completed", price: float = 2.0) -> None:
        oid = f"O{len(orders)}"
        orders.append({"order_id": oid, "customer_id": f"C{len(orders) % 17}", "ordered_at": when, "status": status})
        items.append({"order_id": oid, "line_number": 1, "product_id": product, "quantity": qty, "unit_price": price})

    for w in range(weeks):
        day = START + timedelta(weeks=w, days=int(rng.integers(0, 5)), hours=10)
        sell("P1", day, float(rng.poisson(20)) + 1)
        sell("P2", day, float(rng.poisson(2 + w)) + 1)
        if rng.random() < 0.3:
            sell("P3", day, float(rng.integers(1, 5)))
        if w >= weeks - 8:
            sell("P4", day, float(rng.poisson(5)) + 1)
        sell("P5", day, float(rng.poisson(max(1, 40 - w))) + 1, price=5.0)
    # a return (negative line), a cancelled order and an adjustment: none of them is demand
    sell("P1", START + timedelta(weeks=3, days=1), -500.0, status="cancelled")
    sell("P1", START + timedelta(weeks=4, days=1), 900.0, status="cancelled")
    sell("P1", START + timedelta(weeks=5, days=1), 700.0, status="adjustment")
    wh.con.register("_o", pd.DataFrame(orders))
    wh.con.register("_i", pd.DataFrame(items))
    wh.con.execute("INSERT INTO orders (order_id, customer_id, ordered_at, status) SELECT * FROM _o")
    wh.con.execute("INSERT INTO order_items (order_id, line_number, product_id, quantity, unit_price) SELECT * FROM _i")
    wh.con.execute("""INSERT INTO products (product_id, name, category, price, cost) VALUES
        ('P1', 'steady mug', 'A', 2, 1), ('P2', 'rising bag', 'A', 2, 1), ('P3', 'rare lamp', 'B', 2, 1),
        ('P4', 'new card', 'B', 2, 1), ('P5', 'fading tin', 'B', 5, 3)""")


@pytest.fixture()
def shop_wh(tmp_wh: Warehouse) -> Warehouse:
    build_shop(tmp_wh)
    return tmp_wh
