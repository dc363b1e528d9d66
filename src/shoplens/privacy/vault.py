"""The vault: reversible AES-GCM encryption of PII values, one data key per customer.

``_vault_keys`` holds each subject's random data key, wrapped (AES-GCM) with the
vault key derived from the shop secret; ``_vault`` holds the encrypted values.
Erasure deletes a customer's data key and values (crypto-shredding): even a backup
of ``_vault`` cannot be decrypted afterwards.

The subject is the customer's pseudonym (or ``_shop`` for values found in texts
without a customer). The shop's own customer id is always stored here (field
``customer_id``) so pseudonyms can be turned back into the shop's ids at the edge.

>>> import tempfile, pathlib
>>> from shoplens.store.warehouse import Warehouse
>>> wh = Warehouse(pathlib.Path(tempfile.mkdtemp()) / "w.duckdb")
>>> vault = Vault(wh, b"k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> tokens = vault.store(["c1"], "email", ["grace@example.com"])
>>> vault.reveal("c1", "email")
['grace@example.com']
>>> vault.shred(["c1"]), vault.reveal("c1", "email")  # crypto-shredding: nothing can be decrypted
({'_vault_keys': 1, '_vault': 1}, [])
>>> wh.close()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shoplens.privacy.keys import derive_key
from shoplens.privacy.operators import pseudonym
from shoplens.store.warehouse import utcnow

VAULT_SQL = [
    "CREATE TABLE IF NOT EXISTS _vault_keys (subject VARCHAR PRIMARY KEY, wrapped_key BLOB, created_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS _vault (subject VARCHAR, field VARCHAR, token VARCHAR, ciphertext BLOB, stored_at TIMESTAMP)",
]
SHOP_SUBJECT = "_shop"


class Vault:
    """Encrypted PII values of one warehouse."""

    def __init__(self, wh: Any, secret: bytes) -> None:
        self.wh = wh
        self.secret = secret
        self._wrap = AESGCM(derive_key(secret, "vault"))
        self._keys: dict[str, bytes] = {}

    def ensure(self) -> Vault:
        for sql in VAULT_SQL:
            self.wh.con.execute(sql)
        return self

    def _data_keys(self, subjects: set[str], create: bool) -> dict[str, bytes]:
        missing = [s for s in subjects if s not in self._keys]
        if missing:
            rows = self.wh.con.execute(
                "SELECT subject, wrapped_key FROM _vault_keys WHERE subject IN (SELECT unnest(?))", [missing]
            ).fetchall()
            for subject, wrapped in rows:
                wrapped = bytes(wrapped)
                self._keys[subject] = self._wrap.decrypt(wrapped[:12], wrapped[12:], subject.encode())
            new = [s for s in missing if s not in self._keys]
            if new and create:
                now = utcnow()
                records = []
                # AES-GCM has no SQL function: keys are made and wrapped in Python, once per new subject
                for s in new:
                    key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
                    self._keys[s] = key
                    records.append((s, nonce + self._wrap.encrypt(nonce, key, s.encode()), now))
                frame = pd.DataFrame(records, columns=["subject", "wrapped_key", "created_at"])
                self.wh.con.register("_new_keys", frame)
                self.wh.con.execute("INSERT INTO _vault_keys SELECT * FROM _new_keys")
                self.wh.con.unregister("_new_keys")
        return {s: self._keys[s] for s in subjects if s in self._keys}

    def store(self, subjects: Sequence[str], field: str, values: Sequence[str], tokens: Sequence[str] | None = None) -> list[str]:
        """Encrypt ``values`` (one per subject) and return their tokens (keyed pseudonyms)."""
        self.ensure()
        keys = self._data_keys(set(subjects), create=True)
        tokens = list(tokens) if tokens is not None else [pseudonym(v, self.secret, prefix=field[:1]) for v in values]
        now = utcnow()
        records = []
        for subject, value, token in zip(subjects, values, tokens):
            nonce = os.urandom(12)
            records.append((subject, field, token, nonce + AESGCM(keys[subject]).encrypt(nonce, value.encode(), field.encode()), now))
        if records:
            frame = pd.DataFrame(records, columns=["subject", "field", "token", "ciphertext", "stored_at"])
            con = self.wh.con
            con.register("_new_values", frame)
            con.execute(
                "DELETE FROM _vault WHERE (subject, field, token) IN (SELECT (subject, field, token) FROM _new_values)"
            )
            con.execute("INSERT INTO _vault SELECT * FROM _new_values")
            con.unregister("_new_values")
        return tokens

    def reveal_tokens(self, field: str, tokens: Sequence[str]) -> dict[str, str]:
        """token -> decrypted value for ``field`` (missing or shredded tokens are absent)."""
        if not tokens or not self.wh.has_table("_vault"):
            return {}
        rows = self.wh.con.execute(
            "SELECT subject, token, ciphertext FROM _vault WHERE field = ? AND token IN (SELECT unnest(?))",
            [field, list(tokens)],
        ).fetchall()
        keys = self._data_keys({r[0] for r in rows}, create=False)
        out: dict[str, str] = {}
        for subject, token, blob in rows:
            if subject not in keys:
                continue  # shredded
            blob = bytes(blob)
            try:
                out[token] = AESGCM(keys[subject]).decrypt(blob[:12], blob[12:], field.encode()).decode()
            except InvalidTag:
                continue
        return out

    def reveal(self, subject: str, field: str) -> list[str]:
        """Every value of ``field`` stored for ``subject``."""
        rows = self.wh.con.execute("SELECT token FROM _vault WHERE subject = ? AND field = ?", [subject, field]).fetchall()
        return list(self.reveal_tokens(field, [r[0] for r in rows]).values())

    def shred(self, subjects: Sequence[str]) -> dict[str, int]:
        """Destroy the data keys and values of ``subjects``; counts per table."""
        for s in subjects:
            self._keys.pop(s, None)
        return shred(self.wh, subjects)


def shred(wh: Any, subjects: Sequence[str]) -> dict[str, int]:
    """Crypto-shredding: delete the data keys (and values) of ``subjects``; no secret needed."""
    if not wh.has_table("_vault_keys"):
        return {"_vault_keys": 0, "_vault": 0}
    con, ids = wh.con, list(subjects)
    out = {}
    for table in ("_vault_keys", "_vault"):
        out[table] = int(con.execute(f"SELECT count(*) FROM {table} WHERE subject IN (SELECT unnest(?))", [ids]).fetchall()[0][0])
        con.execute(f"DELETE FROM {table} WHERE subject IN (SELECT unnest(?))", [ids])
    return out
