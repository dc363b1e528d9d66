"""A check after each ingest of order lines: are the shop's units dominated by a few products?

Quantities of fuel, or of goods sold by weight or length, are litres, kilograms or metres:
a handful of such products can carry most of a shop's units (in Complete Journey fuel is
0.9 % of lines and 83 % of units). Unit totals then describe those products, not the shop,
so the ingest summary says so. shoplens's per-order measures count different products, never
units, for that reason (see ``docs/customers.md``).

>>> import duckdb
>>> con = duckdb.connect()
>>> _ = con.execute("CREATE TABLE order_items AS SELECT 'P' || (i % 200) AS product_id, "
...                 "CASE WHEN i % 200 = 0 THEN 900 ELSE 1 END AS quantity FROM range(20000) t(i)")
>>> _ = con.execute("CREATE TABLE products AS SELECT 'P0' AS product_id, 'GASOLINE' AS name")
>>> print(unit_concentration_note(con))
units are dominated by a few products: 1 product on 0.5% of lines carries 82% of all units (GASOLINE); their quantities are probably volumes or weights, so read unit totals with care (segments count different products per order, not units)
"""

from __future__ import annotations

import duckdb

# flagged when products making at most MAX_LINE_SHARE of the lines carry at least half of the units
MAX_LINE_SHARE = 0.02
MIN_PRODUCTS = 20

CONCENTRATION_SQL = """
WITH per AS (
    SELECT product_id, count(*) AS lines, sum(quantity) AS units
    FROM order_items WHERE quantity > 0 AND product_id IS NOT NULL GROUP BY product_id
),
tot AS (SELECT sum(lines) AS lines, sum(units) AS units, count(*) AS products FROM per),
ranked AS (
    SELECT per.*, sum(units) OVER (ORDER BY units DESC, product_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
           AS before
    FROM per
),
top AS (SELECT * FROM ranked, tot WHERE coalesce(before, 0) < 0.5 * tot.units)
SELECT count(*) AS products, sum(top.lines) / any_value(tot.lines) AS line_share,
       sum(top.units) / any_value(tot.units) AS unit_share, any_value(tot.products) AS all_products,
       list(top.product_id ORDER BY top.units DESC, top.product_id) AS ids
FROM top, tot
"""


def unit_concentration_note(con: duckdb.DuckDBPyConnection) -> str | None:
    """A note when a few products (at most 2 % of lines) carry half of the shop's units, else ``None``."""
    row = con.execute(CONCENTRATION_SQL).fetchone()
    if row is None or not row[0] or row[3] < MIN_PRODUCTS or row[1] > MAX_LINE_SHARE:
        return None
    n, line_share, unit_share, _, ids = row
    names = {}
    has_products = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'products'").fetchone()
    if has_products and has_products[0]:
        names = dict(con.execute("SELECT product_id, name FROM products WHERE product_id IN (SELECT unnest(?))",
                                 [ids[:3]]).fetchall())
    shown = ", ".join(str(names.get(i) or i) for i in ids[:3]) + (", ..." if n > 3 else "")
    return (f"units are dominated by a few products: {n:,} product{'s' if n != 1 else ''} on {line_share:.1%} of lines "
            f"carr{'y' if n != 1 else 'ies'} {unit_share:.0%} of all units ({shown}); their quantities are probably "
            "volumes or weights, so read unit totals with care (segments count different products per order, not units)")
