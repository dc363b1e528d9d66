"""Erasure (GDPR Art. 17 / PIPL art. 47): remove one customer from everything shoplens holds.

Erasure touches only what shoplens itself created and recorded:

- every warehouse table with a ``customer_id`` column (canonical tables and every
  result table other modules write), plus tables registered with
  :func:`register_table` that keep customer ids under another column name; ids are
  matched as whole values, never as substrings or patterns;
- dependent rows: the order lines of the customer's orders and the other messages
  of the customer's support conversations;
- raw rows in ``_quarantine`` holding the customer's id as a whole JSON value;
- every model file in the model registry whose model implements
  ``forget_customers(ids)`` (loaded, made to forget, saved in place);
- files shoplens wrote and recorded with their hash in ``_written_files``
  (:mod:`shoplens.store.files`: exports, recommendation lists, reports), and only
  while their bytes still match that hash: the customer's rows are removed from a
  CSV export, a report naming the customer is deleted;
- the anonymous identities merged into the customer (``_identity_links``, see
  :mod:`shoplens.stream.identity`): their rows not yet moved to the customer, their links and
  their vault keys, so the visitor's history before identification goes too;
- the customer's vault key and encrypted values (crypto-shredding);
- on a warehouse that has run on Spark, the same rows in every Parquet table of its
  Spark storage (canonical and result tables), rewritten without them.

Everything else below the warehouse folder that names the customer (a file shoplens
never wrote, an export someone changed since, a leftover upload) is searched and
*reported* (:attr:`ErasureReport.reported`, the ``--json`` output and the audit
record), never modified. Only ids the warehouse knows are erased: any other id is a
:class:`~shoplens.errors.NotFoundError` and changes nothing.

The database part runs in one transaction and files are replaced only after it
commits, so an erasure either happens or does not; running it again finds nothing
and records zero rows (idempotent). Each erasure appends to ``_erasure_audit``
(pseudonymous id, time, target, rows removed, files reported) and records an
``erasure`` event in the access log (``audit/access.jsonl``, hash-chained, never
edited); nothing ever updates or deletes audit rows. :func:`verify` searches
everything again.

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

import hashlib
import json
import mmap
import os
import pickle
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from shoplens.errors import NotFoundError, UserInputError
from shoplens.schema import quote_identifier as _q
from shoplens.store import spark_storage
from shoplens.store.files import (
    WrittenFile,
    csv_bytes,
    is_regular_file,
    settle_rewrite,
    stage_rewrite,
    write_private,
    written_files,
)
from shoplens.store.warehouse import Warehouse, utcnow

REGISTRY_SQL = """CREATE TABLE IF NOT EXISTS _erasure_registry (
    table_name VARCHAR, column_name VARCHAR, ids VARCHAR, registered_at TIMESTAMP)"""
AUDIT_SQL = """CREATE TABLE IF NOT EXISTS _erasure_audit (
    erasure_id VARCHAR, subject VARCHAR, requested_at TIMESTAMP, target VARCHAR, kind VARCHAR, removed BIGINT)"""
# bookkeeping that legitimately keeps the pseudonym (the audit) or is searched separately
_SKIP_TABLES = {"_erasure_audit", "_erasure_registry", "_vault", "_vault_keys", "_privacy_state", "_quarantine",
                "_written_files"}
# shoplens' own bookkeeping files beside the warehouse: they hold no customer id by construction
# (keys are random, the access log holds keyed hashes), so they are neither changed nor reported
_OWN_FILES = {"api_keys.json", "shoplens.key", "audit/access.jsonl"}
MAX_SCAN_BYTES = 512 * 1024 * 1024
MAX_SCAN_FILES = 200_000

# why a file naming the customer was reported and left as it is
OUTSIDE = "not written by shoplens"
CHANGED = "changed since shoplens wrote it"
UPLOAD = "leftover upload (removed when the server next starts)"
TOO_LARGE = "too large to search"
UNREADABLE = "unreadable"


@dataclass
class ErasureReport:
    """What one erasure did (``to_dict()`` is the ``--json`` output).

    ``removed``: rows/items removed per target; ``reported``: files below the warehouse
    folder that name the customer but were left untouched, with the reason.
    """

    customer: str
    subject: str
    erasure_id: str
    removed: dict[str, int] = field(default_factory=dict)
    reported: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    @property
    def outside(self) -> list[str]:
        """Files outside shoplens that mention the customer (never modified)."""
        return sorted(p for p, why in self.reported.items() if why != CHANGED)

    def to_dict(self) -> dict[str, Any]:
        # the pseudonym (``subject``) stays out of the answer: shop ids in and out; the audit
        # trail keeps it, and `privacy audit --customer ID` finds the records by shop id.
        return {"customer": self.customer, "erasure_id": self.erasure_id,
                "removed": self.removed, "total": self.total,
                "reported": [{"path": p, "reason": why} for p, why in sorted(self.reported.items())]}


@dataclass
class VerifyReport:
    """References left after an erasure (``to_dict()`` is the ``--json`` output).

    ``remaining`` counts references in what shoplens holds (``clean`` when none);
    ``reported`` lists files below the folder that shoplens does not own (or that
    were changed since it wrote them) and that still name the customer.
    """

    customer: str
    checked: list[str]
    remaining: dict[str, int]
    reported: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.remaining.values())

    @property
    def clean(self) -> bool:
        return self.total == 0

    def to_dict(self) -> dict[str, Any]:
        return {"customer": self.customer, "remaining": self.total, "clean": self.clean,
                "references": {k: v for k, v in self.remaining.items() if v}, "checked": self.checked,
                "reported": [{"path": p, "reason": why} for p, why in sorted(self.reported.items())]}


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


def merged_anonymous_ids(wh: Warehouse, internal: str) -> list[str]:
    """Warehouse ids of the anonymous visitors merged into the customer ``internal`` (the merge graph
    ``_identity_links`` the event collector keeps; read here as a table, privacy never imports the collector)."""
    if not wh.has_table("_identity_links"):
        return []
    return [r[0] for r in wh.con.execute(
        "SELECT DISTINCT anonymous_id FROM _identity_links WHERE customer_id = ? AND anonymous_id IS NOT NULL "
        "ORDER BY 1", [internal]).fetchall()]


def _id_pattern(ids: set[str]) -> re.Pattern[bytes]:
    """The ids as whole tokens (``12348`` matches in ``id,12348,x`` but not in ``123489`` or ``a12348``)."""
    alternatives = b"|".join(re.escape(i.encode()) for i in sorted(ids, key=len, reverse=True))
    return re.compile(rb"(?<![0-9A-Za-z_])(?:" + alternatives + rb")(?:\.0)?(?![0-9A-Za-z_])")


def _quarantine_sql(ids: set[str]) -> tuple[str, list[Any]]:
    """Quarantined raw rows (JSON objects) holding one of ``ids`` as a whole value (``"12348"``,
    ``12348`` or ``12348.0``), not inside a longer value: an order number or a text that merely
    contains the digits is another row's business."""
    values = "|".join(re.escape(json.dumps(i)[1:-1]) for i in sorted(ids))
    pattern = r'[:\[,]\s*"?(' + values + r')(\.0)?"?\s*[,}\]]'
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


def _count(path: Path, pattern: re.Pattern[bytes]) -> int:
    """Whole-token mentions of the ids in a file (memory-mapped: the file is never loaded whole)."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return 0
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return sum(1 for _ in pattern.finditer(data))  # type: ignore[arg-type]


def _rel(wh: Warehouse, path: Path) -> str:
    """A path as the reports show it: relative to the warehouse folder when inside it."""
    path, home = Path(os.path.abspath(path)), Path(os.path.abspath(wh.home))
    return path.relative_to(home).as_posix() if path.is_relative_to(home) else str(path)


def _known_paths(wh: Warehouse) -> tuple[set[Path], list[WrittenFile], set[Path]]:
    """(paths shoplens owns and erasure handles itself, recorded files, registered model files)."""
    recorded = written_files(wh)
    models: set[Path] = set()
    if wh.has_table("_models"):
        from shoplens.store.registry import ModelRegistry

        models = {Path(os.path.abspath(p)) for p in ModelRegistry(wh).files()}
    own = {Path(os.path.abspath(wh.home / f)) for f in _OWN_FILES}
    own |= {Path(os.path.abspath(f.path)) for f in recorded} | models
    return own, recorded, models


def _search_folder(wh: Warehouse, pattern: re.Pattern[bytes], own: set[Path]) -> dict[str, str]:
    """Files below the warehouse folder that shoplens does not own and that name the customer:
    path -> reason. Read only; symlinks, FIFOs and devices are never opened."""
    home = Path(os.path.abspath(wh.home))
    skip_dirs = {Path(os.path.abspath(spark_storage.spark_root(wh)))}  # tables, reached row by row
    tmp = Path(os.path.abspath(wh.tmp_dir))
    uploads = Path(os.path.abspath(wh.uploads_dir))
    found: dict[str, str] = {}
    seen = 0
    for root, dirs, files in os.walk(home):
        here = Path(root)
        # DuckDB's spill files and shoplens' staging live in .tmp: only the uploads there are searched (raw data)
        dirs[:] = sorted(d for d in dirs if here / d not in skip_dirs and (
            not (here / d).is_relative_to(tmp) or uploads.is_relative_to(here / d) or (here / d).is_relative_to(uploads)))
        if here.is_relative_to(tmp) and not here.is_relative_to(uploads):
            continue
        for name in sorted(files):
            path = here / name
            if path in own or (here == home and name.startswith(wh.path.name)) or not is_regular_file(path):
                continue
            seen += 1
            if seen > MAX_SCAN_FILES:
                found[_rel(wh, here)] = f"search stopped after {MAX_SCAN_FILES:,} files"
                return found
            rel = _rel(wh, path)
            try:
                if path.stat().st_size > MAX_SCAN_BYTES:
                    found[rel] = TOO_LARGE
                    continue
                if _count(path, pattern):
                    found[rel] = UPLOAD if path.is_relative_to(uploads) else OUTSIDE
            except (OSError, ValueError):
                found[rel] = UNREADABLE
    return found


def _erased_csv(path: Path, column: str, ids: set[str]) -> tuple[int, bytes | None]:
    """(rows naming the customer in ``column``, the file without them) for a CSV shoplens wrote."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if column not in frame.columns:
        return 0, None
    # a cell neutralised against formula injection keeps its id after a leading quote
    values = frame[column].str.strip().str.removeprefix("'")
    hit = values.isin(ids)
    n = int(hit.sum())
    return n, csv_bytes(frame[~hit]) if n else None


def known(wh: Warehouse, customer: str) -> bool:
    """True when ``customer`` (the shop's id) is a customer of this warehouse: its warehouse id is
    a whole value in a customer id column (of DuckDB or of Spark's Parquet tables), or it was
    erased before. Never a substring, pattern or token of a file."""
    external, internal = _ids(wh, customer)
    for table, column, kind in targets(wh):
        wanted = internal if kind == "internal" else external
        if wh.con.execute(f"SELECT 1 FROM {_q(table)} WHERE CAST({_q(column)} AS VARCHAR) = ? LIMIT 1",
                          [wanted]).fetchall():
            return True
    if any(spark_storage.customer_rows(wh, [internal]).values()):
        return True
    return wh.has_table("_erasure_audit") and bool(
        wh.con.execute("SELECT 1 FROM _erasure_audit WHERE subject = ? LIMIT 1", [internal]).fetchall())


def require_known(wh: Warehouse, customer: str) -> None:
    """Raise :class:`NotFoundError` unless ``customer`` is a customer of this warehouse (see :func:`known`)."""
    if not known(wh, customer):
        raise NotFoundError(f"no customer {str(customer).strip()!r} in the warehouse: nothing was changed "
                            "(check the id; ids are the shop's own)")


def erase(wh: Warehouse, customer: str, *, via: str = "python") -> ErasureReport:
    """Remove the shop's customer ``customer`` from everything shoplens holds (see module doc).

    ``via`` says who asked (``cli``, ``api:<key id>``), for the access log's erasure event.
    Raises :class:`NotFoundError` (nothing changed) when the warehouse does not know the id.
    """
    if wh.read_only:
        raise UserInputError("erasure needs write access to the warehouse (it is opened read-only)")
    require_known(wh, customer)
    external, internal = _ids(wh, customer)
    anonymous = merged_anonymous_ids(wh, internal)
    ids = {external, internal, *anonymous}
    report = ErasureReport(customer=external, subject=internal, erasure_id=uuid.uuid4().hex[:12])
    pattern = _id_pattern(ids)
    wh.con.execute(AUDIT_SQL)
    # 1. files: computed first, replaced only after the database commits
    own, recorded, model_paths = _known_paths(wh)
    models: list[tuple[Path, bytes]] = []
    for path in sorted(model_paths):
        if is_regular_file(path):
            n, data = _model_forgets(path, ids)
            if data is not None:
                report.removed[f"model:{_rel(wh, path)}"] = n
                if n:
                    models.append((path, data))
    exports: list[tuple[WrittenFile, bytes | None]] = []  # None: delete
    for wf in recorded:
        if not wf.names_customers or not is_regular_file(wf.path):
            continue
        if not wf.unchanged():
            if wf.path.stat().st_size <= MAX_SCAN_BYTES and _count(wf.path, pattern):
                report.reported[_rel(wh, wf.path)] = CHANGED
            continue
        if wf.id_column:
            n, data = _erased_csv(wf.path, wf.id_column, ids)
        else:
            n, data = (1, None) if _count(wf.path, pattern) else (0, b"")
        if n:
            report.removed[f"file:{_rel(wh, wf.path)}"] = n
            exports.append((wf, data))
    report.reported.update(_search_folder(wh, pattern, own))
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
        _erase_database(wh, report, ids, internal, exports)
    except BaseException:
        spark_storage.discard_staged(wh)
        raise
    spark_storage.publish_staged(wh, [name for name, n in staged.items() if n])
    for path, data in models:
        write_private(path, data)
    for wf, data in exports:
        if data is None:
            wf.path.unlink(missing_ok=True)
        else:
            write_private(wf.path, data)
        settle_rewrite(wh, wf.key)
    _log_event(wh, report, via)
    return report


def _log_event(wh: Warehouse, report: ErasureReport, via: str) -> None:
    """Append the erasure to the access log (a keyed hash of the customer, never the id)."""
    from shoplens.privacy.access_log import AuditLog
    from shoplens.privacy.keys import derive_key, warehouse_secret

    secret = warehouse_secret(wh)
    log = AuditLog.for_warehouse(wh.path, derive_key(secret, "audit") if secret else None)
    # without a shop secret a keyed hash could not be looked up later: the erasure id links the record
    log.record_event("erasure", customers=[report.customer] if secret else [], erasure_id=report.erasure_id,
                     via=via, removed=report.total, reported=len(report.reported))


def _erase_database(wh: Warehouse, report: ErasureReport, ids: set[str], internal: str,
                    exports: list[tuple[WrittenFile, bytes | None]]) -> None:
    con = wh.con
    anonymous = sorted(ids - {internal, report.customer})  # merged anonymous visitors (see erase)
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
        external = report.customer
        for table, column, kind in targets(wh):
            wanted = id_list if kind == "internal" else [external]
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

            for k, v in shred(wh, [internal, *anonymous]).items():
                report.removed[k] = v
        for wf, data in exports:
            stage_rewrite(wh, wf.key, None if data is None else _sha256(data))
        now = utcnow()
        rows = [[report.erasure_id, internal, now, target, target.split(":")[0] if ":" in target else "table", n]
                for target, n in report.removed.items()]
        # files left untouched are part of the record: what the erasure saw and did not change
        rows += [[report.erasure_id, internal, now, f"file:{path}", f"reported: {why}", 0]
                 for path, why in sorted(report.reported.items())]
        con.executemany("INSERT INTO _erasure_audit VALUES (?, ?, ?, ?, ?, ?)",
                        rows or [[report.erasure_id, internal, now, "-", "none", 0]])


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(wh: Warehouse, customer: str) -> VerifyReport:
    """Search every table, quarantine row, vault entry, model and recorded file again for
    ``customer``; files below the folder that shoplens does not own are searched and reported.
    An id that was never a customer here is a :class:`NotFoundError` (its "mentions" would be noise)."""
    require_known(wh, customer)
    external, internal = _ids(wh, customer)
    anonymous = merged_anonymous_ids(wh, internal)
    ids = sorted({external, internal, *anonymous})
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
            remaining[t] = int(con.execute(f"SELECT count(*) FROM {t} WHERE subject IN (SELECT unnest(?))",
                                           [[internal, *anonymous]]).fetchall()[0][0])
            checked.append(t)
    for name, n in spark_storage.customer_rows(wh, ids).items():
        checked.append(f"spark:{name}")
        remaining[f"spark:{name}"] = n
    pattern = _id_pattern(set(ids))
    own, recorded, model_paths = _known_paths(wh)
    reported: dict[str, str] = {}
    for path in sorted(model_paths):
        if is_regular_file(path):
            key = f"file:{_rel(wh, path)}"
            checked.append(key)
            remaining[key] = _count(path, pattern)
    for wf in recorded:
        if not wf.names_customers or not is_regular_file(wf.path):
            continue
        if not wf.unchanged():
            if _count(wf.path, pattern):
                reported[_rel(wh, wf.path)] = CHANGED
            continue
        key = f"file:{_rel(wh, wf.path)}"
        checked.append(key)
        remaining[key] = _erased_csv(wf.path, wf.id_column, set(ids))[0] if wf.id_column else _count(wf.path, pattern)
    reported.update(_search_folder(wh, pattern, own))
    return VerifyReport(customer=external, checked=checked, remaining=remaining, reported=reported)


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
