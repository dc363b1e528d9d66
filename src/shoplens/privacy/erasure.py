"""Erasure (GDPR Art. 17 / PIPL art. 47): remove one customer from everything.

What :func:`erase` reaches, found generically so later modules are covered:

- every warehouse table with a ``customer_id`` column (canonical tables and every
  result table other modules write), plus tables registered with
  :func:`register_table` that keep customer ids under another column name;
- dependent rows: the order lines of the customer's orders and the other messages
  of the customer's support conversations;
- raw rows in ``_quarantine`` that mention the customer;
- every model file in the model registry whose model implements
  ``forget_customers(ids)`` (loaded, made to forget, saved in place);
- exported files below the warehouse folder (lines naming the customer are removed
  from CSV/TSV/JSONL/text files; other files naming the customer are deleted);
- the customer's vault key and encrypted values (crypto-shredding);
- on a warehouse that has run on Spark, the same rows in every Parquet table of its
  Spark storage (canonical and result tables), rewritten without them.

The database part runs in one transaction and files are replaced only after it
commits, so an erasure either happens or does not; running it again finds nothing
and records zero rows (idempotent). Each erasure appends to ``_erasure_audit``
(pseudonymous id, time, target, rows removed); nothing ever updates or deletes
audit rows. :func:`verify` searches everything again.

Registering a table that keeps customer ids under another column name::

    from shoplens.privacy.erasure import register_table
    register_table(wh, "campaign_targets", "member")          # warehouse ids
    register_table(wh, "crm_sync", "shop_customer", ids="external")

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> report = erase(wh, "12348")  # the shop's own id
>>> report.customer, report.removed["orders"], report.removed["order_items"], report.removed["_vault_keys"]
('12348', 4, 31, 1)
>>> verify(wh, "12348").clean, erase(wh, "12348").total  # nothing is left; a second erasure finds nothing
(True, 0)
"""

from __future__ import annotations

import os
import pickle
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shoplens.errors import NotFoundError, UserInputError
from shoplens.schema import quote_identifier as _q
from shoplens.store import spark_storage
from shoplens.store.warehouse import Warehouse, utcnow

REGISTRY_SQL = """CREATE TABLE IF NOT EXISTS _erasure_registry (
    table_name VARCHAR, column_name VARCHAR, ids VARCHAR, registered_at TIMESTAMP)"""
AUDIT_SQL = """CREATE TABLE IF NOT EXISTS _erasure_audit (
    erasure_id VARCHAR, subject VARCHAR, requested_at TIMESTAMP, target VARCHAR, kind VARCHAR, removed BIGINT)"""
# bookkeeping that legitimately keeps the pseudonym (the audit) or is searched separately
_SKIP_TABLES = {"_erasure_audit", "_erasure_registry", "_vault", "_vault_keys", "_privacy_state", "_quarantine"}
LINE_FORMATS = {".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".log"}
_SKIP_FILES = {".duckdb", ".wal", ".key"}
MAX_SCAN_BYTES = 512 * 1024 * 1024


@dataclass
class ErasureReport:
    """What one erasure did (``to_dict()`` is the ``--json`` output)."""

    customer: str
    subject: str
    erasure_id: str
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def to_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, "erasure_id": self.erasure_id, "subject": self.subject,
                "removed": self.removed, "total": self.total}


@dataclass
class VerifyReport:
    """References left after an erasure (``to_dict()`` is the ``--json`` output)."""

    customer: str
    checked: list[str]
    remaining: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.remaining.values())

    @property
    def clean(self) -> bool:
        return self.total == 0

    def to_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, "remaining": self.total, "clean": self.clean,
                "references": {k: v for k, v in self.remaining.items() if v}, "checked": self.checked}


def register_table(wh: Warehouse, table: str, column: str, *, ids: Literal["internal", "external"] = "internal") -> None:
    """Make erasure reach ``table.column`` (customer ids under a column not named customer_id).

    ``ids``: "internal" when the column holds warehouse ids (pseudonyms), "external"
    when it holds the shop's own ids. Registering twice is harmless.
    """
    if ids not in ("internal", "external"):
        raise UserInputError(f"ids must be 'internal' or 'external', not {ids!r}")
    wh.con.execute(REGISTRY_SQL)
    wh.con.execute("DELETE FROM _erasure_registry WHERE table_name = ? AND column_name = ?", [table, column])
    wh.con.execute("INSERT INTO _erasure_registry VALUES (?, ?, ?, ?)", [table, column, ids, utcnow()])



def targets(wh: Warehouse) -> list[tuple[str, str, str]]:
    """(table, column, ids) for every table holding customer ids."""
    rows = wh.con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
        "AND column_name = 'customer_id' AND table_name IN "
        "(SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE') "
        "ORDER BY table_name"
    ).fetchall()
    out = [(t, c, "internal") for t, c in rows if t not in _SKIP_TABLES]
    if wh.has_table("_erasure_registry"):
        existing = set(wh.tables())
        for t, c, kind in wh.con.execute("SELECT table_name, column_name, ids FROM _erasure_registry ORDER BY 1, 2").fetchall():
            if t in existing and (t, c, kind) not in out:
                out.append((t, c, kind))
    return out


def _ids(wh: Warehouse, customer: str) -> tuple[str, str]:
    from shoplens.privacy.ids import to_internal

    customer = str(customer).strip()
    if not customer:
        raise UserInputError("give the shop's customer id to erase, e.g. --customer 12348")
    return customer, to_internal(wh, [customer])[0]


def _id_pattern(ids: set[str]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(i.encode()) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rb"(?<![0-9A-Za-z_])(?:" + alternatives + rb")(?:\.0)?(?![0-9A-Za-z_])")


def _files(wh: Warehouse) -> list[Path]:
    """Derived files below the warehouse folder (not the database itself, temp files or the key)."""
    out = []
    spark = spark_storage.spark_root(wh).resolve()  # tables, reached row by row (not as files)
    for root, dirs, files in os.walk(wh.home):
        dirs[:] = [d for d in dirs if d not in (".tmp",) and (Path(root) / d).resolve() != spark]
        for name in files:
            p = Path(root) / name
            if p.suffix in _SKIP_FILES or p.name.startswith(wh.path.name) or p.name.endswith(".tmp"):
                continue
            out.append(p)
    return sorted(out)


def _quarantine_sql(ids: set[str]) -> tuple[str, list[Any]]:
    pattern = "(^|[^0-9A-Za-z_])(" + "|".join(re.escape(i) for i in sorted(ids)) + r")(\.0)?([^0-9A-Za-z_]|$)"
    return "raw IS NOT NULL AND regexp_matches(raw, ?)", [pattern]


def _model_forgets(path: Path, ids: set[str]) -> tuple[int, bytes | None]:
    """(parameters forgotten, new file bytes) for one model file."""
    with open(path, "rb") as fh:
        payload = pickle.load(fh)
    model = payload.get("model") if isinstance(payload, dict) else None
    forget = getattr(model, "forget_customers", None)
    if forget is None:
        return 0, None
    n = int(forget(set(ids)) or 0)
    return n, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)


def erase(wh: Warehouse, customer: str) -> ErasureReport:
    """Remove the shop's customer ``customer`` from everything (see module doc)."""
    if wh.read_only:
        raise UserInputError("erasure needs write access to the warehouse (it is opened read-only)")
    external, internal = _ids(wh, customer)
    ids = {external, internal}
    report = ErasureReport(customer=external, subject=internal, erasure_id=uuid.uuid4().hex[:12])
    pattern = _id_pattern(ids)
    con = wh.con
    con.execute(AUDIT_SQL)
    # 1. files: computed first, replaced only after the database commits
    pending: list[tuple[Path, bytes | None]] = []
    model_paths: set[Path] = set()
    if wh.has_table("_models"):
        from shoplens.store.registry import ModelRegistry

        for path in ModelRegistry(wh).files():
            model_paths.add(path.resolve())
            if path.is_file():
                n, data = _model_forgets(path, ids)
                if data is not None:
                    report.removed[f"model:{path.relative_to(wh.home) if path.is_relative_to(wh.home) else path}"] = n
                    if n:
                        pending.append((path, data))
    for path in _files(wh):
        if path.resolve() in model_paths or path.stat().st_size > MAX_SCAN_BYTES:
            continue
        data = path.read_bytes()
        if not pattern.search(data):
            continue
        rel = f"file:{path.relative_to(wh.home)}"
        if path.suffix.lower() in LINE_FORMATS:
            lines = data.splitlines(keepends=True)
            kept = [ln for ln in lines if not pattern.search(ln)]
            report.removed[rel] = len(lines) - len(kept)
            pending.append((path, b"".join(kept)))
        else:
            report.removed[rel] = 1
            pending.append((path, None))  # a derived file naming the customer: deleted
    # 2. Spark's Parquet tables: next versions staged now, swapped in after the commit
    try:
        staged = spark_storage.stage_customer_erasure(wh, sorted(ids))
    except BaseException:
        spark_storage.discard_staged(wh)
        raise
    for name, n in staged.items():
        report.removed[f"spark:{name}"] = n
    # 3. the database, all or nothing
    try:
        _erase_database(wh, report, ids, internal, external)
    except BaseException:
        spark_storage.discard_staged(wh)
        raise
    spark_storage.publish_staged(wh, [name for name, n in staged.items() if n])
    for path, data in pending:
        if data is None:
            path.unlink(missing_ok=True)
        else:
            tmp = path.with_name(path.name + ".erasing")
            tmp.write_bytes(data)
            tmp.replace(path)
    return report


def _erase_database(wh: Warehouse, report: ErasureReport, ids: set[str], internal: str, external: str) -> None:
    con = wh.con
    with wh.transaction():
        id_list = sorted(ids)
        if wh.has_table("orders") and wh.has_table("order_items"):
            n = con.execute(
                "SELECT count(*) FROM order_items WHERE order_id IN (SELECT order_id FROM orders WHERE customer_id IN (SELECT unnest(?)))",
                [id_list]).fetchall()[0][0]
            con.execute("DELETE FROM order_items WHERE order_id IN "
                        "(SELECT order_id FROM orders WHERE customer_id IN (SELECT unnest(?)))", [id_list])
            report.removed["order_items"] = int(n)
        if wh.has_table("support_messages"):
            conv = "(SELECT conversation_id FROM support_messages WHERE customer_id IN (SELECT unnest(?)))"
            n = con.execute(f"SELECT count(*) FROM support_messages WHERE conversation_id IN {conv} "
                            "AND customer_id IS DISTINCT FROM ?", [id_list, internal]).fetchall()[0][0]
            con.execute(f"DELETE FROM support_messages WHERE conversation_id IN {conv} "
                        "AND customer_id IS DISTINCT FROM ?", [id_list, internal])
            report.removed["support_messages (same conversations)"] = int(n)
        for table, column, kind in targets(wh):
            wanted = [internal] if kind == "internal" else [external]
            wanted = sorted(set(wanted) | ids) if kind == "internal" else wanted
            n = con.execute(f"SELECT count(*) FROM {_q(table)} WHERE CAST({_q(column)} AS VARCHAR) IN (SELECT unnest(?))",
                            [wanted]).fetchall()[0][0]
            if n:
                con.execute(f"DELETE FROM {_q(table)} WHERE CAST({_q(column)} AS VARCHAR) IN (SELECT unnest(?))", [wanted])
            report.removed[table if column == "customer_id" else f"{table}.{column}"] = int(n)
        where, params = _quarantine_sql(ids)
        n = con.execute(f"SELECT count(*) FROM _quarantine WHERE {where}", params).fetchall()[0][0]
        con.execute(f"DELETE FROM _quarantine WHERE {where}", params)
        report.removed["_quarantine"] = int(n)
        if wh.has_table("_vault_keys"):
            from shoplens.privacy.vault import shred

            for k, v in shred(wh, [internal]).items():
                report.removed[k] = v
        now = utcnow()
        con.executemany(
            "INSERT INTO _erasure_audit VALUES (?, ?, ?, ?, ?, ?)",
            [[report.erasure_id, internal, now, target, target.split(":")[0] if ":" in target else "table", n]
             for target, n in report.removed.items()] or [[report.erasure_id, internal, now, "-", "none", 0]],
        )


def verify(wh: Warehouse, customer: str) -> VerifyReport:
    """Search every table, quarantine row, vault entry, model and file again for ``customer``."""
    external, internal = _ids(wh, customer)
    ids = sorted({external, internal})
    remaining: dict[str, int] = {}
    checked: list[str] = []
    con = wh.con
    for table, column, kind in targets(wh):
        wanted = ids if kind == "internal" else [external]
        n = con.execute(f"SELECT count(*) FROM {_q(table)} WHERE CAST({_q(column)} AS VARCHAR) IN (SELECT unnest(?))",
                        [wanted]).fetchall()[0][0]
        key = table if column == "customer_id" else f"{table}.{column}"
        checked.append(key)
        remaining[key] = int(n)
    where, params = _quarantine_sql(set(ids))
    remaining["_quarantine"] = int(con.execute(f"SELECT count(*) FROM _quarantine WHERE {where}", params).fetchall()[0][0])
    checked.append("_quarantine")
    if wh.has_table("_vault_keys"):
        for t in ("_vault_keys", "_vault"):
            remaining[t] = int(con.execute(f"SELECT count(*) FROM {t} WHERE subject = ?", [internal]).fetchall()[0][0])
            checked.append(t)
    for name, n in spark_storage.customer_rows(wh, ids).items():
        checked.append(f"spark:{name}")
        remaining[f"spark:{name}"] = n
    pattern = _id_pattern(set(ids))
    paths = list(_files(wh))
    if wh.has_table("_models"):
        from shoplens.store.registry import ModelRegistry

        paths += [p for p in ModelRegistry(wh).files() if p.is_file() and p not in paths]
    for path in paths:
        if path.stat().st_size > MAX_SCAN_BYTES:
            continue
        key = f"file:{path.relative_to(wh.home) if path.is_relative_to(wh.home) else path}"
        checked.append(key)
        remaining[key] = len(pattern.findall(path.read_bytes()))
    return VerifyReport(customer=external, checked=checked, remaining=remaining)


def audit_log(wh: Warehouse, customer: str | None = None) -> list[dict[str, Any]]:
    """The audit records (optionally of one customer), oldest first."""
    if not wh.has_table("_erasure_audit"):
        return []
    sql = "SELECT * FROM _erasure_audit"
    params: list[Any] = []
    if customer is not None:
        sql += " WHERE subject = ?"
        params.append(_ids(wh, customer)[1])
    return wh.query(sql + " ORDER BY requested_at, target", params).to_dict("records")


def require_known(wh: Warehouse, customer: str) -> None:
    """Raise :class:`NotFoundError` when no table knows ``customer`` (and it was never erased)."""
    external, internal = _ids(wh, customer)
    if any(verify(wh, customer).remaining.values()):
        return
    if wh.has_table("_erasure_audit") and con_count(wh, "SELECT count(*) FROM _erasure_audit WHERE subject = ?", [internal]):
        return
    raise NotFoundError(f"customer {external!r} is not in the warehouse (check the id; ids are the shop's own)")


def con_count(wh: Warehouse, sql: str, params: list[Any]) -> int:
    return int(wh.con.execute(sql, params).fetchall()[0][0])
