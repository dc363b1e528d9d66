"""The access audit log: who called what, which customers they read, and every erasure.

One JSON object per line in ``<warehouse folder>/audit/access.jsonl`` (0600 in a
0700 folder), opened in append mode only; nothing ever rewrites or shortens it.
Each line carries the SHA-256 of the previous line, so a deleted or edited line
breaks the chain (:func:`verify_chain`). Appends take an exclusive file lock and
read the previous line from the file, so the server and a CLI erasure writing to
the same log keep one chain.

Customers are recorded as keyed hashes (HMAC-SHA256 with a key derived from the
shop secret), and paths as route templates (``/api/v1/customers/{customer_id}``):
the log can answer "who read customer X" for whoever holds the secret, yet holds
no customer id. An erasure is recorded as an event (``"event": "erasure"``, with
its erasure id); it is never applied to the log.

>>> import tempfile, pathlib
>>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "access.jsonl", id_key=b"k" * 32)
>>> log.record(key_id="ab12", role="analyst", method="GET", path="/api/v1/customers/{customer_id}",
...            status=200, customers=["17850"])
>>> log.record_event("erasure", customers=["17850"], erasure_id="e1", via="cli")
>>> len(log.read(customer="17850")), len(log.read(customer="12346"))
(2, 0)
>>> "17850" in log.path.read_text()
False
>>> verify_chain(log.path)
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shoplens.store.files import FILE_MODE, private_dir

try:  # POSIX: one chain across processes (the server and a CLI erasure)
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process at a time
    fcntl = None  # type: ignore[assignment]

GENESIS = "0" * 64
LOG_PATH = Path("audit") / "access.jsonl"


def _last_line_hash(fd: int, size: int) -> str:
    """SHA-256 of the file's last line (GENESIS for an empty file), read backwards from the end."""
    pos, tail = size, b""
    while pos > 0:
        step = min(1 << 16, pos)
        pos -= step
        tail = os.pread(fd, step, pos) + tail
        body = tail.rstrip(b"\n")
        cut = body.rfind(b"\n")
        if cut >= 0:
            return hashlib.sha256(body[cut + 1:]).hexdigest()
    body = tail.rstrip(b"\n")
    return hashlib.sha256(body).hexdigest() if body else GENESIS


class AuditLog:
    """Append-only JSON-lines log, safe across threads and processes."""

    def __init__(self, path: str | Path, id_key: bytes | None = None) -> None:
        self.path = Path(path)
        # without a shop secret (tests, check=False) a per-process key still keeps ids out of the file
        self.id_key = id_key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._last: str | None = None  # hash of the last line this object wrote...
        self._size = -1  # ...and the file size just after it (another writer changes the size)

    @classmethod
    def for_warehouse(cls, warehouse_path: str | Path, id_key: bytes | None = None) -> AuditLog:
        return cls(Path(warehouse_path).parent / LOG_PATH, id_key)

    def customer_ref(self, customer_id: str) -> str:
        """The keyed hash recorded for a shop customer id."""
        return hmac.new(self.id_key, str(customer_id).encode(), hashlib.sha256).hexdigest()[:24]

    @contextmanager
    def _locked(self) -> Iterator[int]:
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _append(self, entry: dict[str, Any]) -> None:
        with self._lock, self._locked() as fd:
            size = os.fstat(fd).st_size
            entry["prev"] = self._last if self._last is not None and size == self._size else _last_line_hash(fd, size)
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
            os.write(fd, line + b"\n")
            self._last, self._size = hashlib.sha256(line).hexdigest(), size + len(line) + 1

    def record(self, *, key_id: str | None, role: str | None, method: str, path: str, status: int,
               customers: list[str] | None = None, client: str | None = None) -> None:
        """One API request (``path`` is the route template, never the concrete path)."""
        self._append({
            "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": "request",
            "key_id": key_id, "role": role, "method": method, "path": path, "status": status,
            "customers": [self.customer_ref(c) for c in customers or []], "client": client,
        })

    def record_event(self, event: str, *, customers: list[str] | None = None, **fields: Any) -> None:
        """Another event, e.g. ``record_event("erasure", customers=[id], erasure_id=..., via="cli")``."""
        self._append({
            "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event,
            **fields, "customers": [self.customer_ref(c) for c in customers or []],
        })

    def read(self, *, customer: str | None = None, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        """Newest entries last; ``customer`` keeps only the entries about that customer."""
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
        if customer is not None:
            ref = self.customer_ref(customer)
            rows = [r for r in rows if ref in r.get("customers", [])]
        return rows[offset: offset + limit]


def verify_chain(path: str | Path) -> bool:
    """True when no line of the log was removed or changed."""
    prev = GENESIS
    p = Path(path)
    if not p.exists():
        return True
    for line in p.read_bytes().splitlines():
        if json.loads(line).get("prev") != prev:
            return False
        prev = hashlib.sha256(line).hexdigest()
    return True
