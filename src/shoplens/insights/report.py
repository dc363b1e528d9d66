"""A self-contained HTML report: sections of text, tables and Plotly charts.

The Plotly library is embedded once in the file, so the report opens offline.

>>> r = Report("Demo")
>>> section = r.add_section("Hello", text="First line.")
>>> "<h2" in r.to_html()
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens import __version__
from shoplens.store.files import write_private


@dataclass
class Section:
    title: str
    key: str = ""
    text: str = ""
    blocks: list[str] = field(default_factory=list)


MORE_ROWS = {"en": "{n} more rows not shown.", "zh": "另有 {n} 行未显示。"}
EMPTY = {"en": "Nothing to show yet.", "zh": "暂无数据。"}


def _table_html(frame: pd.DataFrame, max_rows: int, lang: str = "en", currency: str | None = None) -> str:
    """A table for people (:func:`shoplens.formatting.for_people`: human headers, numbers with separators,
    money with its currency, no microseconds); an empty frame is a sentence, not bare headers."""
    from shoplens.formatting import count, for_people

    if frame.empty:
        return f'<p class="note">{EMPTY.get(lang, EMPTY["en"])}</p>'
    shown = for_people(frame.head(max_rows), lang, currency)
    out = shown.to_html(index=False, border=0, classes="tbl", na_rep="")
    if len(frame) > max_rows:
        out += f'<p class="note">{MORE_ROWS.get(lang, MORE_ROWS["en"]).format(n=count(len(frame) - max_rows, lang))}</p>'
    return out


class Report:
    """Collects sections during a run and writes one HTML file."""

    def __init__(self, title: str, subtitle: str = "", *, lang: str = "en", currency: str | None = None) -> None:
        self.title = title
        self.subtitle = subtitle
        self.lang = lang  # of the tables' headers and numbers (shoplens.formatting)
        self.currency = currency
        self.sections: list[Section] = []
        self._has_plotly = False

    def add_section(
        self,
        title: str,
        *,
        key: str = "",
        text: str = "",
        tables: list[tuple[str, pd.DataFrame]] | None = None,
        figures: list[Any] | None = None,
        max_rows: int = 20,
    ) -> Section:
        """Add a section; ``figures`` are Plotly figures, ``tables`` (caption, frame) pairs."""
        section = Section(title=title, key=key or title.lower().replace(" ", "-"), text=text)
        for fig in figures or []:
            self.add_figure(section, fig)
        for caption, frame in tables or []:
            self.add_table(section, caption, frame, max_rows=max_rows)
        self.sections.append(section)
        return section

    def add_figure(self, section: Section, fig: Any) -> None:
        include = "inline" if not self._has_plotly else False
        self._has_plotly = True
        section.blocks.append(
            fig.to_html(full_html=False, include_plotlyjs=include, config={"displaylogo": False, "responsive": True})
        )

    def add_table(self, section: Section, caption: str, frame: pd.DataFrame, *, max_rows: int = 20) -> None:
        cap = f"<h3>{html.escape(caption)}</h3>" if caption else ""
        section.blocks.append(cap + _table_html(frame, max_rows, self.lang, self.currency))

    def to_html(self) -> str:
        nav = "".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in self.sections)
        body = []
        for s in self.sections:
            text = "".join(f"<p>{html.escape(p)}</p>" for p in s.text.split("\n\n") if p.strip())
            body.append(f'<section id="{s.key}"><h2>{html.escape(s.title)}</h2>{text}{"".join(s.blocks)}</section>')
        return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if self.lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(self.title)}</title>
<style>
body {{ font-family: -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", sans-serif; margin: 0; color: #1f2933; background: #f7f9fb; }}
header {{ background: #1f3a5f; color: white; padding: 18px 32px; }}
header p {{ margin: 4px 0 0; opacity: .8; }}
nav {{ padding: 8px 32px; background: #e4ebf3; position: sticky; top: 0; z-index: 10; }}
nav a {{ margin-right: 16px; color: #1f3a5f; text-decoration: none; font-size: 14px; }}
main {{ padding: 0 32px 48px; max-width: 1200px; }}
section {{ background: white; margin: 20px 0; padding: 16px 24px; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }}
h2 {{ margin-top: 4px; color: #1f3a5f; }}
table.tbl {{ border-collapse: collapse; font-size: 13px; margin: 8px 0; }}
table.tbl th, table.tbl td {{ padding: 4px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; }}
table.tbl th {{ background: #f0f4f8; }}
.note {{ color: #616e7c; font-size: 12px; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.kpi {{ background: #f0f4f8; border-radius: 6px; padding: 10px 16px; min-width: 140px; }}
.kpi b {{ display: block; font-size: 22px; color: #1f3a5f; }}
.summary h3 {{ margin: 12px 0 4px; color: #1f3a5f; }} .summary ul, .summary ol {{ margin: 4px 0; }}
.summary .up {{ color: #2e7d32; }} .summary .down {{ color: #c62828; }} .summary code {{ color: #616e7c; }}
</style></head>
<body><header><h1>{html.escape(self.title)}</h1><p>{html.escape(self.subtitle)}</p>
<p>shoplens {__version__}</p></header>
<nav>{nav}</nav><main>{"".join(body)}</main></body></html>"""

    def write(self, path: str | Path) -> Path:
        return write_private(path, self.to_html())  # owner-only, like every file shoplens writes


def kpi_html(items: list[tuple[str, str]]) -> str:
    """A row of KPI tiles: (label, formatted value)."""
    tiles = "".join(f'<div class="kpi"><b>{html.escape(v)}</b>{html.escape(k)}</div>' for k, v in items)
    return f'<div class="kpis">{tiles}</div>'
