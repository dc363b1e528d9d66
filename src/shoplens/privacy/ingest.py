"""Privacy at ingest: the policy applied to staged rows before anything lands.

The data flow is sources -> ingest -> privacy -> warehouse: :func:`shoplens.ingest.ingest`
hands its validated rows to this stage itself, on every write path (CLI, Python, REST
upload, Spark), by calling :func:`write_policy`; no caller passes (or can forget) it.
The returned hook runs per table after validation and before reference checks and the
upsert, and rewrites the staged rows in place: it gets them as a DuckDB temp table
(a :class:`~shoplens.store.staging.Relation`; on Spark the engine brings the rows to
DuckDB and back, see ``SparkEngine.on_duckdb``):

1. ``customer_id`` -> keyed pseudonym (HMAC-SHA256, computed in SQL); the shop's id
   goes encrypted into the vault so interfaces can show it again;
2. structured PII columns (customers.email/phone/name/address...) -> pseudonym,
   vault token, mask or NULL, as the policy says;
3. free-text columns (reviews, support messages, search queries) -> PII findings
   replaced by the policy's operator.

After the quarantine is written, :meth:`PrivacyHook.after_write` masks the raw
source rows kept there, so raw PII does not land in ``_quarantine`` either.

Writing raw personal data needs the explicit opt-out ``ingest(..., privacy="off")``
(CLI ``--privacy off``): :class:`RawWrite` records every such run in
``_privacy_optouts`` (inside the ingest's transaction) and says so on stderr. It is
refused on a warehouse that already holds pseudonyms (raw and keyed ids would never
join), as privacy is refused on customer ids once raw ones were written.

>>> import tempfile, pathlib
>>> from shoplens.config import Settings
>>> from shoplens.ingest import ingest
>>> from shoplens.store.warehouse import Warehouse
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "customers.csv").write_text("customer_id,email,name\\n12348,grace@example.com,Grace Roberts\\n")
>>> settings = Settings(warehouse=folder / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
>>> with Warehouse(settings.warehouse) as wh:
...     _ = ingest(wh, [folder / "customers.csv"], table="customers", settings=settings)  # calls write_policy
...     stored = wh.query("SELECT customer_id, email, name FROM customers").iloc[0].tolist()
>>> stored  # the id pseudonymised, the e-mail a vault token, the name dropped: no raw PII lands
['c7d9691b46b8747e0d5d4', 'e68467d807e70ba542b4f', None]
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Literal

import duckdb
import pandas as pd

from shoplens.errors import UserInputError
from shoplens.privacy.detect import PiiScanner
from shoplens.privacy.keys import STATE_SQL, bind_secret, resolve_secret, warehouse_state
from shoplens.privacy.operators import apply_operator, pseudonym, pseudonym_sql
from shoplens.privacy.policy import Policy
from shoplens.privacy.vault import SHOP_SUBJECT, Vault
from shoplens.schema import quote_identifier as _q
from shoplens.store.staging import Relation

CUSTOMER_PREFIX = "c"
# normalised source column names that hold customer ids or PII in raw quarantined rows
_RAW_ID_KEYS = {"customerid", "customer", "custid", "userid", "clientid", "memberid", "buyerid", "user"}
_RAW_PII_KEYS = re.compile(
    r"(name|email|mail|phone|mobile|tel|address|addr|street|postcode|zip|姓名|名字|电话|手机|地址|收件人|邮箱)", re.I
)



def _normalised(column: str) -> str:
    """How a PII value is normalised before hashing, so equal values give equal tokens."""
    c = _q(column)
    if column == "email":
        return f"lower(trim({c}))"
    if column == "phone":
        return f"regexp_replace({c}, '[^0-9+]', '', 'g')"
    return f"trim({c})"


OPTOUTS_SQL = """CREATE TABLE IF NOT EXISTS _privacy_optouts (
    run_id VARCHAR, recorded_at TIMESTAMP, table_name VARCHAR, columns VARCHAR, note VARCHAR)"""


def _raw_ids_written(wh: Any) -> bool:
    return warehouse_state(wh.con).get("raw_customer_ids") == "true"


class PrivacyHook:
    """The ingest hook (a ``BeforeWrite`` callable with an ``after_write`` quarantine step)."""

    privacy_policy = True  # ingest recognises the policy stage by this mark (never applied twice)

    def __init__(self, settings: Any, wh: Any) -> None:
        self.policy = Policy.from_settings(settings)
        self.wh = wh
        self.secret = resolve_secret(settings, wh.home)
        assert self.secret is not None
        bind_secret(wh, self.secret)
        wh.con.execute(
            "INSERT OR REPLACE INTO _privacy_state VALUES ('pseudonymize_customer_id', ?)",
            ["true" if self.policy.pseudonymize_customer_id else "false"],
        )
        self.vault = Vault(wh, self.secret).ensure()
        self.scanner = PiiScanner(threshold=self.policy.threshold)

    def __call__(self, con: duckdb.DuckDBPyConnection, table: str, staged: Relation, provided: list[str]) -> None:
        if "customer_id" in provided and self.policy.pseudonymize_customer_id:
            if _raw_ids_written(self.wh):
                raise UserInputError(
                    f"{self.wh.path}: this warehouse holds raw customer ids written with privacy='off' (see "
                    "_privacy_optouts); pseudonyms would never join them: load into a new warehouse, or keep "
                    "privacy='off' (--privacy off) for this one")
            self._pseudonymise_ids(con, staged)
        for column in provided:
            action = self.policy.columns.get(f"{table}.{column}")
            if action and action != "keep":
                self._structured(con, staged, column, action, "customer_id" in provided)
        for column in provided:
            operator = self.policy.text_columns.get(f"{table}.{column}")
            if operator and operator != "keep":
                self._texts(con, staged, column, operator, "customer_id" in provided)

    # ------------------------------------------------------------------ steps
    def _pseudonymise_ids(self, con: duckdb.DuckDBPyConnection, staged: Relation) -> None:
        expr = pseudonym_sql("customer_id", self.secret, prefix=CUSTOMER_PREFIX)  # type: ignore[arg-type]
        new = con.execute(
            f"SELECT ext, pid FROM (SELECT DISTINCT customer_id AS ext, {expr} AS pid FROM {staged} "
            f"WHERE customer_id IS NOT NULL) WHERE pid NOT IN (SELECT token FROM _vault WHERE field = 'customer_id')"
        ).fetchall()
        if new:
            pids = [p for _, p in new]
            self.vault.store(pids, "customer_id", [e for e, _ in new], tokens=pids)
        con.execute(f"UPDATE {staged} SET customer_id = {expr}")

    def _structured(self, con: duckdb.DuckDBPyConnection, staged: Relation, column: str, action: str, has_customer: bool) -> None:
        c = _q(column)
        if action == "redact":
            con.execute(f"UPDATE {staged} SET {c} = NULL")
        elif action == "mask":
            con.execute(f"UPDATE {staged} SET {c} = repeat('*', greatest(length({c}) - 4, 0)) || right({c}, 4)")
        elif action == "pseudonym":
            expr = pseudonym_sql(_normalised(column), self.secret, prefix=column[:1])  # type: ignore[arg-type]
            con.execute(f"UPDATE {staged} SET {c} = {expr}")
        elif action == "vault":
            subject = "customer_id" if has_customer else f"'{SHOP_SUBJECT}'"
            rows = con.execute(
                f"SELECT __seq, {subject}, {_normalised(column)} FROM {staged} WHERE {c} IS NOT NULL"
            ).fetchall()
            if rows:
                tokens = self.vault.store([r[1] or SHOP_SUBJECT for r in rows], column, [r[2] for r in rows])
                self._write_back(con, staged, column, [r[0] for r in rows], tokens)

    def _texts(self, con: duckdb.DuckDBPyConnection, staged: Relation, column: str, operator: str, has_customer: bool) -> None:
        c = _q(column)
        subject = "customer_id" if has_customer else f"'{SHOP_SUBJECT}'"
        rows = con.execute(f"SELECT __seq, {subject}, {c} FROM {staged} WHERE {c} IS NOT NULL").fetchall()
        seqs, masked = [], []
        # the regex scanner is Python; only rows with findings are written back
        for seq, subj, text in rows:
            findings = self.scanner.scan(text)
            if not findings:
                continue
            encrypt = None
            if operator == "encrypt":
                def encrypt(value: str, kind: str, _s: str = subj or SHOP_SUBJECT) -> str:
                    return self.vault.store([_s], "text:" + kind, [value])[0]
            seqs.append(seq)
            masked.append(apply_operator(text, findings, operator, secret=self.secret, encrypt=encrypt))
        if seqs:
            self._write_back(con, staged, column, seqs, masked)

    @staticmethod
    def _write_back(con: duckdb.DuckDBPyConnection, staged: Relation, column: str, seqs: list, values: list) -> None:
        frame = pd.DataFrame({"__seq": seqs, "__value": values})
        con.register("_privacy_values", frame)
        con.execute(
            f"UPDATE {staged} SET {_q(column)} = v.__value FROM _privacy_values v WHERE {staged}.__seq = v.__seq"
        )
        con.unregister("_privacy_values")

    # ------------------------------------------------------------------ quarantine
    def mask_raw(self, raw: str | None, table: str = "") -> str | None:
        """A raw source row (JSON) with ids pseudonymised and PII masked."""
        if raw is None:
            return None
        try:
            row = json.loads(raw)
        except ValueError:
            return apply_operator(raw, self.scanner.scan(raw), "placeholder")
        if not isinstance(row, dict):
            return apply_operator(raw, self.scanner.scan(raw), "placeholder")
        out = {}
        for key, value in row.items():
            norm = re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", str(key).lower())
            if value is None:
                out[key] = None
            elif norm in _RAW_ID_KEYS and self.policy.pseudonymize_customer_id:
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                out[key] = pseudonym(str(value).strip(), self.secret, prefix=CUSTOMER_PREFIX)  # type: ignore[arg-type]
            elif _RAW_PII_KEYS.search(str(key)) and (table == "customers" or not norm.endswith("name")):
                out[key] = "<REDACTED>"
            elif isinstance(value, str):
                out[key] = apply_operator(value, self.scanner.scan(value), "placeholder")
            else:
                out[key] = value
        return json.dumps(out, ensure_ascii=False)

    def after_write(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Called by ingest inside its transaction once the rows and the quarantine are written."""
        self.mask_quarantine(con, run_id)

    def mask_quarantine(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        """Mask the raw rows this run wrote to ``_quarantine`` (few: only bad rows)."""
        rows = con.execute(
            "SELECT rowid, raw, table_name, reason FROM _quarantine WHERE run_id = ?", [run_id]
        ).fetchall()
        if not rows:
            return
        frame = pd.DataFrame({
            "rid": [r[0] for r in rows],
            "masked": [self.mask_raw(r[1], r[2]) for r in rows],
            "reason": [apply_operator(r[3], self.scanner.scan(r[3]), "placeholder") if r[3] else r[3] for r in rows],
        })
        con.register("_privacy_raw", frame)
        con.execute(
            "UPDATE _quarantine SET raw = m.masked, reason = m.reason FROM _privacy_raw m WHERE _quarantine.rowid = m.rid"
        )
        con.unregister("_privacy_raw")


class RawWrite:
    """The explicit opt-out: rows land as they came (no pseudonyms, no masking); every run
    is recorded in ``_privacy_optouts`` and announced on stderr."""

    privacy_policy = True

    def __init__(self, wh: Any) -> None:
        self.wh = wh
        self.written: list[tuple[str, list[str]]] = []

    def __call__(self, con: duckdb.DuckDBPyConnection, table: str, staged: Relation, provided: list[str]) -> None:
        state = warehouse_state(con)
        if "customer_id" in provided and state.get("key_fingerprint") and \
                state.get("pseudonymize_customer_id", "true") == "true":
            raise UserInputError(
                f"{self.wh.path}: this warehouse holds pseudonymised customer ids; raw ids written with "
                "privacy='off' would never join them: keep privacy on, or load into a new warehouse")
        if not self.written:
            print(f"shoplens: privacy is OFF for this ingest into {self.wh.path}: personal data (customer ids, "
                  "e-mails, phones, names, free text) is written as it came; the run is recorded in _privacy_optouts",
                  file=sys.stderr)
        self.written.append((table, list(provided)))

    def after_write(self, con: duckdb.DuckDBPyConnection, run_id: str) -> None:
        from shoplens.store.warehouse import utcnow

        con.execute(OPTOUTS_SQL)
        for table, columns in self.written:
            con.execute("INSERT INTO _privacy_optouts VALUES (?, ?, ?, ?, ?)",
                        [run_id, utcnow(), table, ",".join(columns), "ingest with privacy='off'"])
        if any("customer_id" in columns for _, columns in self.written):
            con.execute(STATE_SQL)
            con.execute("INSERT OR REPLACE INTO _privacy_state VALUES ('raw_customer_ids', 'true')")


def write_policy(wh: Any, settings: Any = None, privacy: Literal["on", "off"] = "on") -> list[Any]:
    """The privacy stage for one ingest into ``wh``: the shop's policy (``privacy="on"``,
    settings from ``settings`` or, when None, the environment and shoplens.toml as the
    CLI reads them), or the logged opt-out (``privacy="off"``)."""
    if privacy == "off":
        return [RawWrite(wh)]
    if privacy != "on":
        raise UserInputError(f"privacy must be 'on' or 'off', not {privacy!r}")
    if settings is None:
        from shoplens.config import load_settings

        settings = load_settings(warehouse=wh.path)
    return [PrivacyHook(settings, wh)]


def ingest_hooks(settings: Any, wh: Any) -> list[PrivacyHook]:
    """The policy hook for ``wh`` (ingest obtains it itself through :func:`write_policy`)."""
    return [PrivacyHook(settings, wh)]
