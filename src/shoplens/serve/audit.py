"""The access audit log: who called what, and which customers they read, when.

One JSON object per line in ``<warehouse folder>/audit/access.jsonl``, opened in
append mode only. Each line carries the SHA-256 of the previous line, so a
deleted or edited line breaks the chain (:func:`verify_chain`).

Customers are recorded as keyed hashes (HMAC-SHA256 with a key derived from the
shop secret), and paths as route templates (``/api/v1/customers/{customer_id}``):
the log can answer "who read customer X" for whoever holds the secret, yet holds
no customer id that an erasure would have to cut out of it (which would break the
chain).

>>> import tempfile, pathlib
>>> log = AuditLog(pathlib.Path(tempfile.mkdtemp()) / "access.jsonl", id_key=b"k" * 32)
>>> log.record(key_id="ab12", role="analyst", method="GET", path="/api/v1/customers/{customer_id}",
...            status=200, customers=["17850"])
>>> len(log.read(customer="17850")), len(log.read(customer="12346"))
(1, 0)
>>> "17850" in log.path.read_text()
False
>>> verify_chain(log.path)
True
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


class AuditLog:
    """Append-only JSON-lines log, safe across threads of one process."""

    def __init__(self, path: str | Path, id_key: bytes | None = None) -> None:
        self.path = Path(path)
        # without a shop secret (tests, check=False) a per-process key still keeps ids out of the file
        self.id_key = id_key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._last: str | None = None

    @classmethod
    def for_warehouse(cls, warehouse_path: str | Path, id_key: bytes | None = None) -> AuditLog:
        return cls(Path(warehouse_path).parent / "audit" / "access.jsonl", id_key)

    def customer_ref(self, customer_id: str) -> str:
        """The keyed hash recorded for a shop customer id."""
        return hmac.new(self.id_key, str(customer_id).encode(), hashlib.sha256).hexdigest()[:24]

    def _last_hash(self) -> str:
        if self._last is None:
            self._last = GENESIS
            if self.path.exists():
                with self.path.open("rb") as f:
                    lines = f.read().splitlines()
                if lines:
                    self._last = hashlib.sha256(lines[-1]).hexdigest()
        return self._last

    def record(self, *, key_id: str | None, role: str | None, method: str, path: str, status: int,
               customers: list[str] | None = None, client: str | None = None) -> None:
        entry: dict[str, Any] = {
            "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "key_id": key_id, "role": role, "method": method, "path": path, "status": status,
            "customers": [self.customer_ref(c) for c in customers or []], "client": client,
        }
        with self._lock:
            entry["prev"] = self._last_hash()
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line + b"\n")
            finally:
                os.close(fd)
            self._last = hashlib.sha256(line).hexdigest()

    def read(self, *, customer: str | None = None, limit: int = 1000, offset: int = 0) -> list[dict[str, Any]]:
        """Newest entries last; ``customer`` keeps only the entries that read that customer."""
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
