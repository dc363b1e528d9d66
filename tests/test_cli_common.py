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


def test_wide_tables_fit_80_columns_and_name_what_they_leave_out():
    from rich.console import Console

    from shoplens.cli_common import rows_table

    rows = [{"antecedent": "jewellery & accessories", "consequent": "garden & outdoor", "support": 0.04,
             "confidence": 0.61, "lift": 1.69, "baskets": 1234, "units_change_pct": -12.5}]
    console = Console(width=80, record=True)
    console.print(rows_table(rows, width_of=80))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(lines)
    assert "0.61" in text and "1.69" in text  # the columns shown hold their numbers whole
    assert "not shown: baskets, units_change_pct" in " ".join(text.split())
    wide = Console(width=200, record=True)
    wide.print(rows_table(rows, width_of=200))
    out = wide.export_text()
    assert "not shown" not in out and "1,234" in out
