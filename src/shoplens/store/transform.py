"""Transforms declared once, run on either engine.

A :class:`Transform` is a SELECT in DuckDB SQL plus the tables it reads. Run it on a
warehouse and it executes on the warehouse's engine: DuckDB as written, or Spark
after sqlglot transpiles it (see :func:`shoplens.store.engine.to_spark_sql`). Other
modules declare their data-layer logic this way (RFM, cohorts, profile features,
interactions) so that it is never written twice; see ``docs/spark.md``.

>>> import tempfile, pathlib
>>> from shoplens.store.warehouse import Warehouse
>>> ORDERS_SINCE = Transform("orders_since", "SELECT count(*) AS orders FROM orders WHERE ordered_at >= {since}",
...                          inputs=("orders",), params={"since": date(2000, 1, 1)})
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> _ = wh.con.execute("INSERT INTO orders (order_id, ordered_at) VALUES ('o1', '2024-01-05'), ('o2', '2024-03-01')")
>>> int(ORDERS_SINCE.run(wh)["orders"][0]), int(ORDERS_SINCE.run(wh, since=date(2024, 2, 1))["orders"][0])
(2, 1)
>>> wh.close()
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
import sqlglot
from sqlglot import exp

from shoplens.errors import UserInputError
from shoplens.store.engine import Engine

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Transform:
    """One SELECT over warehouse tables, in DuckDB SQL.

    ``inputs``: the warehouse tables it reads (checked against the SQL, so the list
    cannot drift). ``params``: defaults for ``{name}`` placeholders; values are
    inlined as SQL literals (numbers, dates, strings), never as raw text.
    """

    name: str
    sql: str
    inputs: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        read = tables_read(_PARAM.sub("0", self.sql))
        unknown = read - set(self.inputs)
        if unknown:
            raise ValueError(f"transform {self.name}: reads {sorted(unknown)} but declares inputs {list(self.inputs)}")

    def render(self, **params: Any) -> str:
        """The SQL with its parameters filled in."""
        values = {**self.params, **params}
        missing = set(_PARAM.findall(self.sql)) - set(values)
        if missing:
            raise UserInputError(f"transform {self.name}: give a value for {', '.join(sorted(missing))}")
        return _PARAM.sub(lambda m: sql_literal(values[m.group(1)]), self.sql)

    def run(self, target: Any, **params: Any) -> pd.DataFrame:
        """Run on a :class:`~shoplens.store.warehouse.Warehouse` (its engine) or an engine."""
        engine: Engine = getattr(target, "engine", target)
        return engine.query(self.render(**params))


def sql_literal(value: Any) -> str:
    """A Python value as a SQL literal.

    >>> sql_literal(10), sql_literal("it's"), sql_literal(date(2011, 12, 9))
    ('10', "'it''s'", "DATE '2011-12-09'")
    """
    if isinstance(value, bool) or value is None:
        return {True: "TRUE", False: "FALSE", None: "NULL"}[value]
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise UserInputError(f"cannot use {type(value).__name__} as a SQL value")


def tables_read(sql: str) -> set[str]:
    """Names of the tables a SELECT reads (CTE names excluded).

    >>> sorted(tables_read("WITH s AS (SELECT * FROM orders) SELECT * FROM s JOIN order_items USING (order_id)"))
    ['order_items', 'orders']
    """
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


def first_row(frame: pd.DataFrame) -> dict[str, Any]:
    """The first row as plain Python values (numbers, datetimes, None)."""
    if frame.empty:
        return {c: None for c in frame.columns}
    out: dict[str, Any] = {}
    for k, v in frame.iloc[0].items():
        if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
            out[str(k)] = None
        elif isinstance(v, pd.Timestamp):
            out[str(k)] = v.to_pydatetime()
        elif hasattr(v, "item"):
            out[str(k)] = v.item()
        else:
            out[str(k)] = v
    return out
