"""Erasure reaches every table, registered column, quarantine row, model, export and vault key."""

from __future__ import annotations

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
    (wh.home / "exports" / "notes.json").write_text(f'{{"vip": "{CUSTOMER}"}}')
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
    assert report.removed["file:exports/segment_export.csv"] == 1 and report.removed["file:exports/notes.json"] == 1
    after = verify(demo_wh, CUSTOMER)
    assert after.clean, after.to_dict()
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
    with pytest.raises(NotFoundError, match="not in the warehouse"):
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
