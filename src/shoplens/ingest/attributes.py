"""Customer attributes: what a customers file says beyond the canonical columns.

A source whose first table is ``customers`` often brings more than the canonical model
holds: demographics (age band, income, household size), a loyalty tier, tags. Every
column of such a source that no canonical column takes is kept in the long table
``customer_attributes(customer_id, attribute, value, type)``, one row per customer and
non-empty value, through the one ingest path: validated, pseudonymised and accounted for
like any table the file fills (``read = loaded + updated + quarantined + duplicates``).

- ``attribute`` is the column's name normalised (``Loyalty Level`` -> ``loyalty_level``;
  letters of any script are kept: ``会员等级``);
- ``type`` is ``number`` when every value of the column in the file reads as a number,
  ``boolean`` when every value is a yes/no word, else ``text``;
- a column that looks like personal data (a name, e-mail, phone or address column by its
  name, or values the PII scanner finds e-mails, phones, ID or card numbers in) is never
  stored: it is refused and the ingest's notes say so. Map it to ``customers.email``,
  ``phone``, ``name`` or ``address`` to have the privacy policy protect it.

A mapping chooses with ``attributes = true`` (the default: every unused column),
``attributes = ["age", "income"]`` (these source columns only) or ``attributes = false``.

>>> attribute_name("Loyalty Level"), attribute_name("kidsCount"), attribute_name(" 会员等级 ")
('loyalty_level', 'kids_count', '会员等级')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from shoplens.errors import MappingError
from shoplens.ingest.validate import FALSE_WORDS, TRUE_WORDS, lit
from shoplens.schema import quote_identifier as quote
from shoplens.store.engine import Engine

TABLE = "customer_attributes"
SAMPLE = 2000  # distinct values per column the PII screen reads (a demographic band has a handful)


def attribute_name(column: str) -> str:
    """A source column's name as an attribute name: lower case, words joined by ``_``."""
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", column.strip())
    return re.sub(r"[\W_]+", "_", s.lower()).strip("_")


@dataclass
class AttributePlan:
    """The attribute columns of one run: source column -> (attribute name, type), and the
    columns refused as personal data (source column -> why)."""

    columns: dict[str, tuple[str, str]] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def notes(self) -> list[str]:
        out = []
        if self.columns:
            kept = ", ".join(f"{name} ({kind})" for name, kind in self.columns.values())
            out.append(f"kept as customer attributes: {kept}")
        for column, why in self.refused.items():
            out.append(f"column {column!r} not kept: {why}; personal data is never stored as an attribute "
                       "(map it to customers.email, phone, name or address to have the privacy policy protect it)")
        return out


def candidate_columns(wanted: bool | list[str], unused: Sequence[str], columns: Sequence[str], files: str) -> list[str]:
    """The source columns to keep as attributes: every unused one, those the mapping lists, or none."""
    if wanted is False:
        return []
    if wanted is True:
        return list(unused)
    lower = {c.lower(): c for c in columns}
    missing = [c for c in wanted if c.lower() not in lower]
    if missing:
        raise MappingError(f"{files}: the mapping's attributes name column(s) the file does not have: "
                           f"{', '.join(missing)} (columns: {', '.join(columns[:30])})")
    return [lower[c.lower()] for c in wanted]


def _text(column: str) -> str:
    return f"NULLIF(TRIM(CAST({quote(column)} AS VARCHAR)), '')"


def plan_attributes(engine: Engine, source: str, columns: Sequence[str], files: str) -> AttributePlan:
    """Screen and type the candidate ``columns`` of ``source`` (a relation of source rows)."""
    from shoplens.privacy.detect import personal_data_reason  # the next stage of the flow

    plan = AttributePlan()
    if not columns:
        return plan
    names: dict[str, str] = {}
    for c in columns:
        name = attribute_name(c)
        if not name:
            raise MappingError(f"{files}: column {c!r} has no letters or digits to name an attribute by")
        if name in names.values():
            other = next(k for k, v in names.items() if v == name)
            raise MappingError(f"{files}: columns {other!r} and {c!r} would both be attribute {name!r}; "
                               "rename one, or list the attributes to keep in a mapping")
        names[c] = name
    bools = ", ".join(lit(w) for w in (*TRUE_WORDS, *FALSE_WORDS))
    stats = []
    for c in columns:
        v = _text(c)
        stats += [f"count({v})", f"count(TRY_CAST({v} AS DOUBLE))", f"count(CASE WHEN lower({v}) IN ({bools}) THEN 1 END)"]
    got = engine.first(f"SELECT {', '.join(stats)} FROM {source}")
    for i, c in enumerate(columns):
        # a sample spread over the values (by hash), not the first ones in sort order
        values = engine.query(f"SELECT v FROM (SELECT DISTINCT {_text(c)} AS v FROM {source} WHERE {_text(c)} IS NOT NULL) d "
                              f"ORDER BY hash(v), v LIMIT {SAMPLE}")["v"].astype(str).tolist()
        why = personal_data_reason(c, values)
        if why:
            plan.refused[c] = why
            continue
        n, numbers, booleans = (int(x) for x in got[3 * i: 3 * i + 3])
        kind = "number" if n and numbers == n else "boolean" if n and booleans == n else "text"
        plan.columns[c] = (names[c], kind)
    return plan


def long_rows_sql(plan: AttributePlan, source: str, customer_expr: str) -> str:
    """One row per source row and non-empty attribute value, in the table's columns (raw
    text, validated like any source) with the source row's ``__file``, ``__line``, ``__seq``."""
    parts = []
    for column, (name, kind) in plan.columns.items():
        v = _text(column)
        parts.append(f"SELECT {customer_expr} AS customer_id, {lit(name)} AS attribute, {v} AS value, "
                     f"{lit(kind)} AS type, __file, __line, __seq FROM {source} WHERE {v} IS NOT NULL")
    return " UNION ALL ".join(parts)
