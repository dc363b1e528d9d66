"""A small synthetic shop for campaign tests (edge cases need exact, known orders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplens.ingest import ingest

N_CUSTOMERS = 300
CONSENTING = 260   # S001..S260 said yes to marketing
REFUSED = 20       # S261..S280 said no; S281..S300 were never asked (opt-in: excluded)


def shop_id(i: int) -> str:
    return f"S{i:03d}"


def load_orders(wh, tmp_path: Path, rows: list[tuple], name: str = "orders") -> None:
    """Ingest orders: (order_id, customer_id, ordered_at, status, total_amount)."""
    path = tmp_path / f"{name}.csv"
    lines = ["order_id,customer_id,ordered_at,status,total_amount,currency"]
    lines += [f"{o},{c},{t},{s},{a},GBP" for o, c, t, s, a in rows]
    path.write_text("\n".join(lines) + "\n")
    ingest(wh, [path], table="orders")


@pytest.fixture()
def shop(tmp_wh, tmp_path, monkeypatch):
    """300 customers with known consent, each with one purchase of 50 on 2024-01-10.

    The pseudonymisation secret is fixed: arms are hashed from pseudonyms, so a random key per
    test would give a different split each run (and a sample-ratio alarm now and then)."""
    monkeypatch.setenv("SHOPLENS_SECRET", "campaign-tests-fixed-secret-0123456789abcdef")
    path = tmp_path / "customers.csv"
    rows = ["customer_id,country,consent_marketing,consent_personalization"]
    for i in range(1, N_CUSTOMERS + 1):
        consent = "true" if i <= CONSENTING else "false" if i <= CONSENTING + REFUSED else ""
        rows.append(f"{shop_id(i)},United Kingdom,{consent},true")
    path.write_text("\n".join(rows) + "\n")
    ingest(tmp_wh, [path], table="customers")
    load_orders(tmp_wh, tmp_path, [(f"P{i}", shop_id(i), "2024-01-10 12:00:00", "completed", 50.0)
                                   for i in range(1, N_CUSTOMERS + 1)], name="past")
    return tmp_wh
