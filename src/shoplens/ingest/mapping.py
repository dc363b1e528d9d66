"""Mappings: how a source file's columns and values become canonical tables.

A mapping is a TOML or YAML file (or a named preset shipped with shoplens)::

    [source]
    timezone = "Europe/London"          # naive timestamps are local to this zone
    date_formats = ["%d/%m/%Y %H:%M"]   # tried in order; ISO 8601 always works
    encoding = "gb18030"                # optional; detected when absent
    delimiter = ";"                     # optional; detected when absent
    spreadsheet_text = true             # optional: read ="0123" and '0123 as the text 0123

    [shop]                              # optional: what the export says about the shop; an ingest
    currency = "CNY"                    # fills the shop's settings (shoplens shop) that are not set yet
    timezone = "Asia/Shanghai"

    [tables.order_items]                # the first table gets one row per source row
    order_id = "InvoiceNo"              # a plain string renames a source column
    quantity = { column = "Qty" }
    unit_price = { expr = "Amount / Qty" }                  # derived (SQL expression)

    [tables.orders]                     # further tables are grouped by their key
    order_id = "InvoiceNo"
    status = { column = "State", values = { C = "cancelled", "" = "completed" } }
    total_amount = { expr = "sum(Qty * Price)" }            # aggregate over the order's rows
    currency = { const = "GBP" }

>>> m = Mapping.identity("orders")
>>> m.primary
'orders'
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlglot import exp

from shoplens.errors import MappingError
from shoplens.schema import TABLES, get_table
from shoplens.store.staging import quote  # the one definition (also re-exported for ingest)


def _suggestion(error: Any) -> str:
    """For a misspelt key (``fmt``), the known key it most resembles: ``; did you mean 'format'?``.

    >>> _suggestion({"type": "extra_forbidden", "loc": ("tables", "orders", "ordered_at", "fmt")})
    "; did you mean 'format'?"
    """
    import difflib

    if error.get("type") != "extra_forbidden" or not error.get("loc"):
        return ""
    known = set(ColumnSpec.model_fields) | set(SourceSpec.model_fields) | set(Mapping.model_fields)
    close = difflib.get_close_matches(str(error["loc"][-1]), sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class ColumnSpec(BaseModel):
    """How one canonical column is produced."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = None
    expr: str | None = None
    const: Any = None
    values: dict[str, Any] | None = None
    format: str | list[str] | None = None
    unit: str | None = Field(None, description="for epoch numbers: s or ms")

    @model_validator(mode="after")
    def _one_source(self) -> ColumnSpec:
        given = [x for x in (self.column, self.expr) if x is not None] + ([1] if self.const is not None else [])
        if len(given) != 1:
            raise ValueError("give exactly one of column, expr or const")
        return self

    @property
    def formats(self) -> list[str]:
        if self.format is None:
            return []
        return [self.format] if isinstance(self.format, str) else list(self.format)


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    date_formats: list[str] = Field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    format: str | None = Field(None, description="csv, parquet or jsonl; from the file name when absent")
    spreadsheet_text: bool = Field(
        False, description="values written for spreadsheets as =\"...\" or with a leading ' are read as the text inside")


class ShopSpec(BaseModel):
    """What an export says about the shop itself (a Taobao report: CNY, Beijing time): filled into the
    shop's settings (``shoplens shop``) by an ingest when the shop has none of its own yet."""

    model_config = ConfigDict(extra="forbid")

    currency: str | None = None
    timezone: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ShopSpec:
        from shoplens.errors import UserInputError
        from shoplens.store.shop import check_currency, check_timezone

        try:
            if self.currency is not None:
                self.currency = check_currency(self.currency)
            if self.timezone is not None:
                self.timezone = check_timezone(self.timezone)
        except UserInputError as exc:
            raise ValueError(str(exc).replace("--", "shop.", 1)) from None
        return self


class Mapping(BaseModel):
    """A validated mapping from one source layout to one or more canonical tables."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    source: SourceSpec = Field(default_factory=SourceSpec)
    shop: ShopSpec = Field(default_factory=ShopSpec)
    tables: dict[str, dict[str, ColumnSpec]]
    attributes: bool | list[str] = Field(
        True, description="for a customers source: keep the columns no canonical column takes as customer "
                          "attributes (true), only the source columns listed, or none (false)")

    @model_validator(mode="before")
    @classmethod
    def _expand_strings(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("tables"), dict):
            tables = {}
            for tname, cols in data["tables"].items():
                if not isinstance(cols, dict):
                    raise ValueError(f"[tables.{tname}] must be a table of column = source entries")
                tables[tname] = {
                    c: ({"column": v} if isinstance(v, str) else v) for c, v in cols.items()
                }
            data = {**data, "tables": tables}
        return data

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        if not self.tables:
            raise ValueError("a mapping needs at least one [tables.NAME] section")
        for tname, cols in self.tables.items():
            if tname not in TABLES:
                raise ValueError(f"unknown table {tname!r}; choose from {', '.join(TABLES)}")
            known = set(TABLES[tname].column_names)
            for c, spec in cols.items():
                if c not in known:
                    raise ValueError(f"table {tname}: unknown column {c!r}; canonical columns are {', '.join(sorted(known))}")
                if spec.expr is not None:
                    _parse_expr(spec.expr, f"{tname}.{c}")
        return self

    # -- construction --------------------------------------------------------------
    @classmethod
    def identity(cls, table: str) -> Mapping:
        """Mapping for a file already in canonical form (columns matched by name)."""
        get_table(table)
        return cls(name=f"canonical {table}", tables={table: {}})

    @classmethod
    def from_file(cls, path: str | Path) -> Mapping:
        path = Path(path)
        if not path.is_file():
            raise MappingError(f"{path}: mapping file not found")
        text = path.read_text(encoding="utf-8")
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = tomllib.loads(text)
        except Exception as exc:
            raise MappingError(f"{path}: cannot parse mapping: {exc}") from None
        return cls.parse(data, str(path))

    @classmethod
    def parse(cls, data: Any, origin: str = "mapping") -> Mapping:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'mapping'}: {e['msg']}{_suggestion(e)}" for e in exc.errors()
            )
            raise MappingError(f"{origin}: invalid mapping: {problems}") from None

    @classmethod
    def preset(cls, name: str) -> Mapping:
        files = {p.name[:-5]: p for p in resources.files("shoplens.ingest.presets").iterdir() if p.name.endswith(".toml")}
        if name not in files:
            raise MappingError(f"unknown preset {name!r}; available presets: {', '.join(sorted(files))}")
        return cls.parse(tomllib.loads(files[name].read_text(encoding="utf-8")), f"preset {name}")

    # -- queries ---------------------------------------------------------------------
    @property
    def primary(self) -> str:
        """The table that receives one row per source row."""
        return next(iter(self.tables))

    @property
    def derived(self) -> list[str]:
        """Further tables, written parents first."""
        order = ["customers", "customer_attributes", "products", "orders", "order_items", "events", "reviews", "support_messages", "decisions"]
        return sorted((t for t in self.tables if t != self.primary), key=order.index)


def list_presets() -> dict[str, str]:
    """Preset name -> description."""
    out = {}
    for p in sorted(resources.files("shoplens.ingest.presets").iterdir(), key=lambda p: p.name):
        if p.name.endswith(".toml"):
            out[p.name[:-5]] = tomllib.loads(p.read_text(encoding="utf-8")).get("description", "")
    return out


def spreadsheet_text_sql(columns: list[str], view: str, keep: tuple[str, ...] = ("__file", "__line", "__seq")) -> str:
    """SELECT over ``view`` reading each of ``columns`` as the text a spreadsheet would show.

    Platform exports (Taobao, Tmall, many ERPs) write long numbers as ``="3312345678901234567"``
    and phone numbers as ``'13800138000`` so that spreadsheets keep them as text; the value is
    the text inside. Written with LIKE and substr only, so that it runs on every engine.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute(\"\"\"CREATE TABLE t AS SELECT * FROM (VALUES ('="0012"', '''138'), ('plain', NULL)) v(a, b)\"\"\")
    >>> con.execute(spreadsheet_text_sql(["a", "b"], "t", keep=())).fetchall()
    [('0012', '138'), ('plain', None)]
    """
    items = []
    for c in columns:
        q = quote(c)
        items.append(f"CASE WHEN {q} LIKE '=\"%\"' THEN substr({q}, 3, length({q}) - 3) "
                     f"WHEN {q} LIKE '''%' THEN substr({q}, 2) ELSE {q} END AS {q}")
    return f"SELECT {', '.join([*items, *keep])} FROM {view}"


def _parse_expr(sql: str, where: str) -> exp.Expression:
    try:
        tree = sqlglot.parse_one(sql, dialect="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"{where}: cannot parse expression {sql!r}: {str(exc).splitlines()[0]}") from None
    if isinstance(tree, (exp.Select, exp.Insert, exp.Delete, exp.Update, exp.Drop, exp.Create)):
        raise ValueError(f"{where}: expected an expression, got a statement: {sql!r}")
    return tree


def is_aggregate(sql: str) -> bool:
    """True when an expression aggregates rows (sum, count, min, max...)."""
    return _parse_expr(sql, "expression").find(exp.AggFunc) is not None


def normalise_name(name: str) -> str:
    """'Customer ID' -> 'customer_id' (how canonical columns are matched in raw files)."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", s.lower()).strip("_")


