"""Erasure reaches every table, registered column, quarantine row, model, export and vault key."""

from __future__ import annotations

import json

import re

import pandas as pd
import pytest

from shoplens.base import Model
from shoplens.errors import NotFoundError
from shoplens.privacy.erasure import audit_log, erase, register_table, require_known, verify
from shoplens.privacy.export import export_customers
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.registry import ModelRegistry

CUSTOMER = "12348"


class Factors(Model):
    """A model with per-customer parameters (like user factors)."""

    def __init__(self, dim: int = 2) -> None:
        self.dim = dim

    def fit(self, customer_ids: list[str]) -> Factors:
        self.factors_ = {c: [0.1] * self.dim for c in customer_ids}
        return self

    def forget_customers(self, ids: set[str]) -> int:
        gone = [c for c in self.factors_ if c in ids]
        for c in gone:
            del self.factors_[c]
        return len(gone)


class Sticky(Model):
    """A model that keeps customer ids but cannot forget them."""

    def fit(self, customer_ids: list[str]) -> Sticky:
        self.seen_ = list(customer_ids)
        return self


def _everything(wh):
    """Put the customer into every kind of place erasure must reach."""
    internal = to_internal(wh, [CUSTOMER])[0]
    others = [r[0] for r in wh.con.execute("SELECT customer_id FROM customers WHERE customer_id <> ? LIMIT 3", [internal]).fetchall()]
    wh.write_table("churn_scores", pd.DataFrame({"customer_id": [internal] + others, "churn_risk": [0.9, 0.1, 0.2, 0.3]}))
    wh.write_table("campaign_targets", pd.DataFrame({"member": [internal, others[0]], "offer": ["a", "b"]}))
    register_table(wh, "campaign_targets", "member")
    wh.write_table("crm_sync", pd.DataFrame({"shop_customer": [CUSTOMER, "99999"]}))
    register_table(wh, "crm_sync", "shop_customer", ids="external")
    wh.con.execute("INSERT INTO _quarantine VALUES ('r', 'orders', 'f.csv', 2, 'x', 'bad', ?, now())",
                   [f'{{"CustomerID": "{internal}", "Quantity": "x"}}'])
    reg = ModelRegistry(wh)
    reg.register("factors", Factors().fit([internal] + others))
    export_customers(wh, to_external(wh, [internal] + others), "segment_export", purpose="personalization")
    (wh.home / "exports" / "notes.json").write_text(f'{{"vip": "{CUSTOMER}"}}')  # the shop's own file
    return internal, others


def _brute_force_references(wh, ids: set[str]) -> dict[str, int]:
    """Independent check: every VARCHAR column of every table (not only the ones erasure knows)."""
    out = {}
    for (table,) in wh.con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
    ).fetchall():
        if table == "_erasure_audit":  # keeps the pseudonym on purpose (who was erased, when)
            continue
        for (col,) in wh.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND data_type = 'VARCHAR'", [table]
        ).fetchall():
            n = wh.con.execute(
                f'SELECT count(*) FROM "{table}" WHERE "{col}" IN (SELECT unnest(?)) '
                f'OR list_has_any(regexp_extract_all("{col}", \'[A-Za-z0-9_]+\'), ?)', [sorted(ids), sorted(ids)]
            ).fetchone()[0]
            if n:
                out[f"{table}.{col}"] = n
    return out


def test_erase_reaches_everything_and_verify_is_clean(demo_wh) -> None:
    internal, others = _everything(demo_wh)
    exported = pd.read_csv(demo_wh.home / "exports" / "segment_export.csv", dtype=str)["customer_id"].tolist()
    assert CUSTOMER in exported
    before = verify(demo_wh, CUSTOMER)
    assert not before.clean and before.remaining["churn_scores"] == 1 and before.remaining["campaign_targets.member"] == 1
    assert _brute_force_references(demo_wh, {internal, CUSTOMER})
    report = erase(demo_wh, CUSTOMER)
    assert report.removed["customers"] == 1 and report.removed["orders"] > 0 and report.removed["order_items"] > 0
    assert report.removed["churn_scores"] == 1 and report.removed["crm_sync.shop_customer"] == 1
    assert report.removed["_quarantine"] == 1 and report.removed["_vault_keys"] == 1
    assert report.removed["model:models/factors/1.pkl"] == 1
    assert report.removed["file:exports/segment_export.csv"] == 1
    # a file shoplens did not write is reported, not changed
    assert "file:exports/notes.json" not in report.removed
    assert report.reported == {"exports/notes.json": "not written by shoplens"}
    assert (demo_wh.home / "exports" / "notes.json").read_text() == f'{{"vip": "{CUSTOMER}"}}'
    after = verify(demo_wh, CUSTOMER)
    assert after.clean, after.to_dict()
    assert after.reported == {"exports/notes.json": "not written by shoplens"}
    assert _brute_force_references(demo_wh, {internal, CUSTOMER}) == {}
    # nobody else was touched
    assert demo_wh.con.execute("SELECT count(*) FROM churn_scores").fetchone()[0] == 3
    model = ModelRegistry(demo_wh).load("factors")
    assert set(model.factors_) == set(others)
    exported = pd.read_csv(demo_wh.home / "exports" / "segment_export.csv", dtype=str)["customer_id"].tolist()
    assert CUSTOMER not in exported and exported and set(exported) <= set(to_external(demo_wh, others))
    # the vault key is gone: the shop id can no longer be recovered, and the pseudonym never leaves as one
    assert to_external(demo_wh, [internal]) == [None]


def test_erase_is_idempotent_and_audited(demo_wh) -> None:
    first = erase(demo_wh, CUSTOMER)
    second = erase(demo_wh, CUSTOMER)
    assert first.total > 0 and second.total == 0
    log = audit_log(demo_wh, CUSTOMER)
    assert {r["erasure_id"] for r in log} == {first.erasure_id, second.erasure_id}
    assert all(r["subject"] == first.subject != CUSTOMER for r in log)
    # the answer names the customer by shop id and never carries the pseudonym
    assert first.to_dict()["customer"] == CUSTOMER and first.subject not in json.dumps(first.to_dict())
    require_known(demo_wh, CUSTOMER)  # erased before: not an unknown id


def test_erase_is_atomic(demo_wh, monkeypatch) -> None:
    _everything(demo_wh)
    export = demo_wh.home / "exports" / "segment_export.csv"
    before_rows, before_file = demo_wh.row_count("orders"), export.read_bytes()
    import shoplens.privacy.vault as vault

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(vault, "shred", boom)
    with pytest.raises(RuntimeError):
        erase(demo_wh, CUSTOMER)
    assert demo_wh.row_count("orders") == before_rows
    assert export.read_bytes() == before_file
    assert not verify(demo_wh, CUSTOMER).clean


def test_verify_reports_a_model_that_cannot_forget(demo_wh) -> None:
    internal = to_internal(demo_wh, [CUSTOMER])[0]
    ModelRegistry(demo_wh).register("sticky", Sticky().fit([internal]))
    erase(demo_wh, CUSTOMER)
    result = verify(demo_wh, CUSTOMER)
    assert not result.clean and result.remaining["file:models/sticky/1.pkl"] >= 1


def test_unknown_customer(demo_wh) -> None:
    with pytest.raises(NotFoundError, match="no customer .no-such-customer. in the warehouse"):
        require_known(demo_wh, "no-such-customer")


def test_erase_without_pseudonyms(tmp_wh, tmp_path) -> None:
    from shoplens.config import Settings
    from shoplens.ingest import ingest
    from shoplens.privacy.ingest import ingest_hooks

    pd.DataFrame({"customer_id": ["A1", "B2"], "email": ["a@x.com", "b@x.com"]}).to_csv(tmp_path / "c.csv", index=False)
    s = Settings(warehouse=tmp_wh.path, secret="plain-ids-secret-0123456789", privacy={"pseudonymize_customer_id": False})
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", before_write=ingest_hooks(s, tmp_wh))
    report = erase(tmp_wh, "A1")
    assert report.subject == "A1" and report.removed["customers"] == 1
    assert verify(tmp_wh, "A1").clean and tmp_wh.row_count("customers") == 1


def _hashes(folder) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _strangers(folder) -> dict[str, bytes]:
    """Files a shop keeps beside its warehouse that name the customer: shoplens never wrote them."""
    files = {
        "notes.md": f"# VIP list\n- customer {CUSTOMER}: call back on Monday\n".encode(),
        "scripts/report_vip.py": f'VIP = "{CUSTOMER}"\nprint(VIP)\n'.encode(),
        ".venv/lib/python3.11/site-packages/duckdb/_duckdb.cpython-311-x86_64-linux-gnu.so":
            b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + f"\x00{CUSTOMER}\x00".encode() + b"\xff" * 32,
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def test_erase_never_touches_files_shoplens_did_not_write(demo_wh) -> None:
    """Issue #16 item 1: a warehouse in a project folder; erasure used to delete or rewrite every file
    naming the customer (notes, scripts, even the virtual environment's DuckDB library)."""
    folder = demo_wh.home
    strangers = _strangers(folder)
    internal = to_internal(demo_wh, [CUSTOMER])[0]
    others = [r[0] for r in demo_wh.con.execute(
        "SELECT customer_id FROM customers WHERE customer_id <> ? ORDER BY 1 LIMIT 2", [internal]).fetchall()]
    export = export_customers(demo_wh, to_external(demo_wh, [internal, *others]), "vip", purpose="personalization").path
    before = _hashes(folder)
    report = erase(demo_wh, CUSTOMER)
    after = _hashes(folder)
    for name, data in strangers.items():
        assert (folder / name).read_bytes() == data and after[name] == before[name], name
        assert report.reported[name] == "not written by shoplens"
    assert set(report.outside) == set(strangers)
    # the export shoplens wrote and recorded lost the customer's row, and only that
    assert report.removed["file:exports/vip.csv"] == 1
    assert pd.read_csv(export, dtype=str)["customer_id"].tolist() == to_external(demo_wh, others)
    # the audit record lists what was reported, with the reason
    reported = {r["target"]: r["kind"] for r in audit_log(demo_wh, CUSTOMER) if r["kind"].startswith("reported")}
    assert reported == {f"file:{name}": "reported: not written by shoplens" for name in strangers}
    # verify says the same: clean in what shoplens holds, the strangers still reported
    check = verify(demo_wh, CUSTOMER)
    assert check.clean and set(check.reported) == set(strangers)
    assert _hashes(folder) == after  # verify reads only


def test_an_export_changed_after_shoplens_wrote_it_is_reported_not_touched(demo_wh) -> None:
    export = export_customers(demo_wh, [CUSTOMER], "winback", purpose="personalization").path
    edited = export.read_bytes() + f"{CUSTOMER},added by hand\n".encode()
    export.write_bytes(edited)
    report = erase(demo_wh, CUSTOMER)
    assert export.read_bytes() == edited
    assert report.reported == {"exports/winback.csv": "changed since shoplens wrote it"}
    assert "file:exports/winback.csv" not in report.removed


def test_a_recorded_report_naming_the_customer_is_deleted_others_are_kept(demo_wh) -> None:
    from shoplens.store.files import register_file, write_export

    named = register_file(demo_wh, write_private_text(demo_wh.home / "report.html", f"<td>{CUSTOMER}</td>"), "report")
    other = write_export(demo_wh, demo_wh.home / "forecast.csv", f"key,forecast\n{CUSTOMER},3\n", kind="forecast",
                         names_customers=False)  # declared free of customer data: left alone
    report = erase(demo_wh, CUSTOMER)
    assert not named.exists() and report.removed["file:report.html"] == 1
    assert other.exists() and "file:forecast.csv" not in report.removed and "forecast.csv" not in report.reported
    assert erase(demo_wh, CUSTOMER).total == 0  # idempotent: the record of the deleted report is gone too


def write_private_text(path, text):
    from shoplens.store.files import write_private

    return write_private(path, text)


@pytest.mark.parametrize("customer", ["%", "_", "2026", "200", "1234", "12348%", ".*", "1234_"])
def test_ids_that_are_not_customers_change_nothing(demo_wh, customer) -> None:
    """Issue #16 item 13: "known customer" was decided by counting the id in files, so any token (a
    year, an HTTP status, a LIKE wildcard) qualified and erasure deleted the key file and the report."""
    folder = demo_wh.home
    (folder / "api_keys.json").write_text('{"keys": [{"created_at": "2026-01-01", "status": 200}]}')
    (folder / "report.html").write_text("<p>2026: 200 orders, 1234 customers, 12348%</p>")
    counts = {t: demo_wh.row_count(t) for t in ("customers", "orders", "order_items", "_quarantine")}
    before = {k: v for k, v in _hashes(folder).items() if not k.startswith("warehouse.duckdb")}
    with pytest.raises(NotFoundError, match=f"no customer {re.escape(repr(customer))} in the warehouse"):
        erase(demo_wh, customer)
    with pytest.raises(NotFoundError):  # nor is there anything to verify: the year's mentions are not a customer's
        verify(demo_wh, customer)
    assert {k: v for k, v in _hashes(folder).items() if not k.startswith("warehouse.duckdb")} == before
    assert {t: demo_wh.row_count(t) for t in counts} == counts
    assert not audit_log(demo_wh)


def test_ids_match_as_whole_values_without_pseudonyms(tmp_wh, tmp_path) -> None:
    """Where ids are stored as the shop gives them, wildcards and prefixes still match nothing."""
    from shoplens.config import Settings
    from shoplens.ingest import ingest
    from shoplens.privacy.ingest import ingest_hooks

    ids = ["200", "2000", "12026", "A_1", "AB1", "x%y"]
    pd.DataFrame({"customer_id": ids}).to_csv(tmp_path / "c.csv", index=False)
    s = Settings(warehouse=tmp_wh.path, secret="plain-ids-secret-0123456789", privacy={"pseudonymize_customer_id": False})
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", before_write=ingest_hooks(s, tmp_wh))
    for stranger in ("20", "2026", "A_", "A%1", "_", "%", "x"):
        with pytest.raises(NotFoundError):
            erase(tmp_wh, stranger)
    assert tmp_wh.row_count("customers") == len(ids)
    assert erase(tmp_wh, "A_1").removed["customers"] == 1
    assert erase(tmp_wh, "200").removed["customers"] == 1
    left = sorted(r[0] for r in tmp_wh.con.execute("SELECT customer_id FROM customers").fetchall())
    assert left == sorted(["2000", "12026", "AB1", "x%y"])


def test_quarantine_rows_match_the_id_as_a_whole_value(demo_wh) -> None:
    internal = to_internal(demo_wh, [CUSTOMER])[0]
    rows = [f'{{"CustomerID":"{internal}","Quantity":"x"}}', f'{{"CustomerID":{CUSTOMER}.0,"Quantity":"x"}}',
            f'{{"CustomerID":"99","Description":"re order {CUSTOMER} late"}}', f'{{"CustomerID":"{CUSTOMER}7"}}']
    for raw in rows:
        demo_wh.con.execute("INSERT INTO _quarantine VALUES ('r', 'orders', 'f.csv', 2, 'x', 'bad', ?, now())", [raw])
    report = erase(demo_wh, CUSTOMER)
    assert report.removed["_quarantine"] == 2
    kept = {r[0] for r in demo_wh.con.execute("SELECT raw FROM _quarantine").fetchall()}
    assert set(rows[2:]) <= kept and not set(rows[:2]) & kept


def test_erasure_is_an_event_in_the_access_log_which_it_never_edits(demo_wh) -> None:
    from shoplens.privacy.access_log import AuditLog, verify_chain
    from shoplens.privacy.keys import derive_key, warehouse_secret

    log = AuditLog.for_warehouse(demo_wh.path, derive_key(warehouse_secret(demo_wh), "audit"))
    for status in (200, 200, 404):  # lines full of tokens an old erasure of "200" cut out
        log.record(key_id="k1", role="analyst", method="GET", path="/api/v1/customers/{customer_id}", status=status,
                   customers=[CUSTOMER])
    before = log.path.read_bytes()
    report = erase(demo_wh, CUSTOMER, via="cli")
    after = log.path.read_bytes()
    assert after.startswith(before) and verify_chain(log.path)
    event = [r for r in log.read() if r.get("event") == "erasure"]
    assert len(event) == 1 and event[0]["erasure_id"] == report.erasure_id and event[0]["via"] == "cli"
    assert log.read(customer=CUSTOMER)[-1]["event"] == "erasure" and CUSTOMER.encode() not in after
    assert "audit/access.jsonl" not in report.reported


def test_reported_paths_are_relative_to_the_warehouse_folder(demo_wh, monkeypatch) -> None:
    (demo_wh.home / "notes.md").write_text(f"{CUSTOMER}\n")
    monkeypatch.chdir(demo_wh.home)
    demo_wh.path = type(demo_wh.path)(demo_wh.path.name)  # opened as `-w warehouse.duckdb`
    assert erase(demo_wh, CUSTOMER).reported == {"notes.md": "not written by shoplens"}


def test_leftover_uploads_are_reported_and_shoplens_temp_files_are_not(demo_wh) -> None:
    upload = demo_wh.uploads_dir / "upload-k1ll3d" / "customers.csv"
    upload.parent.mkdir(parents=True)
    upload.write_text(f"customer_id\n{CUSTOMER}\n")
    staging = demo_wh.tmp_dir / "__stage_0.csv"  # an ingest's staging copy: shoplens' own scratch space
    staging.write_text(f"customer_id\n{CUSTOMER}\n")
    report = erase(demo_wh, CUSTOMER)
    rel = upload.relative_to(demo_wh.home).as_posix()
    assert report.reported == {rel: "leftover upload (removed when the server next starts)"}
    assert upload.exists() and staging.exists()
