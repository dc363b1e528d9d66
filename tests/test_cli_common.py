"""Shared CLI helpers: tables print user text as it is, never as Rich markup."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from shoplens.cli_common import console, err_console, frame_table, rows_table


def _render(renderable) -> str:
    out = io.StringIO()
    Console(file=out, width=200, emoji=False, color_system=None).print(renderable)
    return out.getvalue()


def test_product_named_like_markup_prints_as_itself():
    products = pd.DataFrame({"name": ["[bold]x[/bold]", "MUG [red]"], "revenue": [10.0, 2.5]})
    text = _render(frame_table(products, title="Top [dim]products[/dim]"))
    assert "[bold]x[/bold]" in text and "MUG [red]" in text
    assert "Top [dim]products[/dim]" in text
    text = _render(rows_table([{"[b]column": "a"}]))
    assert "[b]column" in text


def test_consoles_leave_emoji_codes_alone():
    assert not console._emoji and not err_console._emoji  # ":smile:" in a product name stays text


def _at(renderable, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, emoji=False, color_system=None).print(renderable)
    return out.getvalue()


def test_a_wide_table_fits_80_columns_by_leaving_out_the_last_columns_and_saying_so():
    """At 80 columns no cell is cut: text wraps, numbers stay whole, and columns that cannot fit are
    left out (the right-most: the lower-priority ones), named under the table."""
    rows = [{"customer_id": "17841", "segment": "Recently active, high-spend customers", "net_revenue": 40_991.48 + i,
             "orders": 124 + i, "clv": 12_345.67, "churn_risk": 0.12, "reasons": "many orders; recent purchases",
             "first_order_at": "2010-12-01 08:00", "last_order_at": "2011-12-08 18:00", "country": "United Kingdom"}
            for i in range(3)]
    text = _at(rows_table(rows, width=80), 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text  # nothing truncated
    for r in rows:  # every number shown in full
        assert f"{r['net_revenue']:,.2f}" in text and f"{r['orders']:,}" in text
    assert "Left out to fit 80 columns:" in text and "country" in text.split("Left out")[1]
    assert "customer_id" in text.split("Left out")[0]  # the first column is never left out
    wide = _at(rows_table(rows, width=250), 250)
    assert "Left out" not in wide and "United Kingdom" in wide  # a wide terminal shows every column


def test_wide_tables_fit_80_columns_and_name_what_they_leave_out():
    from rich.console import Console

    from shoplens.cli_common import rows_table

    rows = [{"antecedent": "jewellery & accessories", "consequent": "garden & outdoor", "support": 0.04,
             "confidence": 0.61, "lift": 1.69, "baskets": 1234, "units_change_pct": -12.5}]
    console = Console(width=80, record=True)
    console.print(rows_table(rows, width=80))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(lines)
    assert "0.61" in text and "1.69" in text  # the columns shown hold their numbers whole
    assert "Left out to fit 80 columns:" in text and "units_change_pct" in text.split("Left out")[1]
    wide = Console(width=200, record=True)
    wide.print(rows_table(rows, width=200))
    out = wide.export_text()
    assert "Left out" not in out and "1,234" in out


def test_every_terminal_table_goes_through_the_one_fitting_rule():
    """Only cli_common builds Rich tables (rows_table/frame_table, which fit the terminal with
    fit_columns): a table built elsewhere would overflow 80 columns."""
    import re
    from pathlib import Path

    import shoplens

    src = Path(shoplens.__file__).parent
    direct = [str(p.relative_to(src)) for p in sorted(src.rglob("*.py"))
              if p.name != "cli_common.py" and re.search(r"from rich\.table import|rich\.table\.Table|\bTable\.grid\(",
                                                          p.read_text(encoding="utf-8"))]
    assert direct == [], direct
