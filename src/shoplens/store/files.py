"""Files shoplens writes: created owner-only, and recorded so that erasure knows its own.

Every file shoplens writes (the warehouse, exports, reports, recommendation lists,
forecasts, models, API keys, the access audit) is created owner-only: 0600 files,
in folders created 0700 (:func:`private_dir`, :func:`open_private`,
:func:`write_private`; existing folders keep their mode). Writes are atomic: a
temporary sibling, then a rename, so a reader never sees half a file.

Exports and reports are also recorded, at write time, in the warehouse table
``_written_files`` with their SHA-256 (:func:`write_export`, :func:`register_file`).
Erasure rewrites only recorded files whose bytes still hash to what shoplens wrote;
anything else (a file someone edited, or one shoplens never wrote) is only reported.
What a recorded file holds is declared when it is written:

- ``id_column="customer_id"``: a CSV with one customer per row in that column; erasure
  removes the rows whose value is exactly the customer's id;
- ``names_customers=True`` without a column (an HTML report): erasure deletes the file
  when it names the customer (it can be regenerated);
- ``names_customers=False`` (a demand forecast, mined rules): holds no customer data;
  erasure leaves it alone.

>>> import tempfile, pathlib, stat
>>> p = write_private(pathlib.Path(tempfile.mkdtemp()) / "new" / "a.txt", "hi")
>>> oct(stat.S_IMODE(p.stat().st_mode)), oct(stat.S_IMODE(p.parent.stat().st_mode))
('0o600', '0o700')
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd

from shoplens.files import csv_text
from shoplens.store.warehouse import Warehouse, utcnow

FILE_MODE = 0o600
DIR_MODE = 0o700
WRITTEN_FILES_SQL = """CREATE TABLE IF NOT EXISTS _written_files (
    path VARCHAR, kind VARCHAR, sha256 VARCHAR, pending_sha256 VARCHAR, bytes BIGINT,
    id_column VARCHAR, names_customers BOOLEAN, written_at TIMESTAMP)"""


def private_dir(path: str | Path) -> Path:
    """Create ``path`` and its missing parents, each new one 0700; existing folders are left as they are."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:  # created meanwhile by another writer
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask; say it exactly
    return path


def restrict(path: str | Path) -> None:
    """Make a file another library created (DuckDB's database file) owner-only."""
    try:
        os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass


def restrict_tree(path: str | Path) -> None:
    """Make a folder another library wrote for shoplens (a Parquet table Spark or DuckDB wrote)
    owner-only: the folder and every folder below 0700, every file 0600."""
    path = Path(path)
    if not path.is_dir() or path.is_symlink():
        restrict(path)
        return
    os.chmod(path, DIR_MODE)
    for top, dirs, files in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(top, name), DIR_MODE)
        for name in files:
            restrict(os.path.join(top, name))


# DuckDB creates its database file, and deletes and re-creates its write-ahead log (``<file>.wal``)
# after every checkpoint, with the process umask: with no way to pass a mode, the umask is the only
# way to have them born owner-only (a chmod afterwards leaves a window in which another user can open
# the file and keep reading it). The umask is process-wide, so it is tightened only around the DuckDB
# calls that create those files (opening a warehouse, a commit), and shared by reference count: the
# first thread in tightens it, the last one out restores the caller's. Meanwhile, files other threads
# of the process create are at most owner-accessible (stricter, never looser); the windows are short,
# and a CLI process runs with umask 077 anyway. (A thread that changes the umask itself inside such a
# window sees its change undone when the window closes.)
_umask_lock = threading.Lock()
_umask_users = 0
_umask_saved = 0


@contextmanager
def owner_only_umask() -> Iterator[None]:
    """Inside the block, files and folders the process creates get no group or other permissions;
    the caller's umask is restored when the last thread inside leaves.

    >>> old = os.umask(0o022)
    >>> with owner_only_umask():
    ...     inside = os.umask(0o077); _ = os.umask(inside)
    >>> oct(inside), oct(os.umask(old))
    ('0o77', '0o22')
    """
    global _umask_users, _umask_saved
    with _umask_lock:
        if _umask_users == 0:
            _umask_saved = os.umask(0o077)
            os.umask(_umask_saved | 0o077)  # keep any stricter bits of the caller's
        _umask_users += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_users -= 1
            if _umask_users == 0:
                os.umask(_umask_saved)


@contextmanager
def open_private(path: str | Path, mode: str = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Write ``path`` atomically as a 0600 file (its folder created 0700 when missing).

    The data goes to a temporary sibling created 0600, renamed over ``path`` only when
    the block succeeds; a failed write leaves ``path`` as it was.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"open_private writes whole files: mode 'w' or 'wb', not {mode!r}")
    path = Path(path)
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, mode, encoding=encoding if mode == "w" else None, newline="" if mode == "w" else None) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private(path: str | Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` owner-only and atomically; returns the path."""
    path = Path(path)
    with open_private(path, "wb") as fh:
        fh.write(data.encode(encoding) if isinstance(data, str) else data)
    return path


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as the CSV bytes every shoplens export uses (UTF-8, no index, spreadsheet
    formulas neutralised by :func:`shoplens.files.neutralise_formulas`)."""
    return csv_text(frame).encode("utf-8")


@dataclass(frozen=True)
class WrittenFile:
    """A file shoplens wrote and recorded."""

    path: Path
    key: str
    kind: str
    sha256: str
    pending_sha256: str | None
    id_column: str | None
    names_customers: bool

    def unchanged(self) -> bool:
        """True when the file still holds the bytes shoplens wrote (or its own pending rewrite)."""
        try:
            digest = sha256_file(self.path)
        except OSError:
            return False
        return digest in (self.sha256, self.pending_sha256)


def _key(wh: Warehouse, path: Path) -> str:
    """How a path is recorded: relative to the warehouse folder when inside it (a copied
    folder keeps its records), absolute otherwise."""
    path = Path(os.path.abspath(path))
    home = Path(os.path.abspath(wh.home))
    return path.relative_to(home).as_posix() if path.is_relative_to(home) else str(path)


def register_file(wh: Warehouse, path: str | Path, kind: str, *, id_column: str | None = None,
                  names_customers: bool = True) -> Path:
    """Record ``path`` (already written by shoplens) with its current SHA-256; returns the path.

    ``id_column``: the CSV column holding one customer id per row; ``names_customers``:
    False for files that hold no customer data (see the module doc).
    """
    path = Path(path)
    wh.con.execute(WRITTEN_FILES_SQL)
    key = _key(wh, path)
    with wh.transaction() as con:
        con.execute("DELETE FROM _written_files WHERE path = ?", [key])
        con.execute("INSERT INTO _written_files VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
                    [key, kind, sha256_file(path), path.stat().st_size, id_column, names_customers, utcnow()])
    return path


def write_export(wh: Warehouse, path: str | Path, content: pd.DataFrame | bytes | str, *, kind: str,
                 id_column: str | None = None, names_customers: bool = True) -> Path:
    """Write an export (a DataFrame as CSV, or bytes/text) owner-only and record it in ``wh``.

    Every file shoplens writes for the shop to take away goes through here, so erasure
    can tell the files it wrote (and may clean) from everything else (which it only reports).
    """
    data = csv_bytes(content) if isinstance(content, pd.DataFrame) else content
    if wh.read_only:
        raise ValueError("write_export needs a warehouse opened for writing (it records the file)")
    write_private(path, data)
    return register_file(wh, path, kind, id_column=id_column, names_customers=names_customers)


def stage_rewrite(wh: Warehouse, key: str, digest: str | None) -> None:
    """Inside the caller's transaction: note the hash a recorded file is about to get (None: it is
    about to be deleted). A crash between the commit and the file change leaves a file that still
    counts as shoplens' own, either way, so running the erasure again finishes the job."""
    wh.con.execute("UPDATE _written_files SET pending_sha256 = ? WHERE path = ?", [digest, key])


def settle_rewrite(wh: Warehouse, key: str) -> None:
    """After the file change: record its new hash (or forget a deleted file)."""
    path = Path(key) if Path(key).is_absolute() else wh.home / key
    if not path.exists():
        wh.con.execute("DELETE FROM _written_files WHERE path = ?", [key])
        return
    wh.con.execute("UPDATE _written_files SET sha256 = ?, pending_sha256 = NULL, bytes = ? WHERE path = ?",
                   [sha256_file(path), path.stat().st_size, key])


def written_files(wh: Warehouse) -> list[WrittenFile]:
    """Every recorded file (paths resolved against the warehouse folder), oldest first."""
    if not wh.has_table("_written_files"):
        return []
    rows = wh.con.execute("SELECT path, kind, sha256, pending_sha256, id_column, names_customers "
                          "FROM _written_files ORDER BY written_at, path").fetchall()
    out = []
    for key, kind, digest, pending, id_column, names in rows:
        p = Path(key)
        out.append(WrittenFile(p if p.is_absolute() else wh.home / p, key, kind, digest, pending, id_column, bool(names)))
    return out


def is_regular_file(path: Path) -> bool:
    """True for a regular file that is not a symlink (never read a FIFO, device or link target)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
