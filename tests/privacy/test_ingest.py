"""Policy at ingest: pseudonymised ids, no raw PII outside the vault, quarantine masked."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from shoplens.config import Settings
from shoplens.errors import ConfigError, UserInputError
from shoplens.ingest import ingest
from shoplens.datasets import demo_data_dir
from shoplens.privacy.audit import raw_pii_leaks
from shoplens.privacy.ids import pseudonymised, to_external, to_internal
from shoplens.privacy.ingest import ingest_hooks
from shoplens.privacy.policy import Policy
from shoplens.privacy.vault import Vault
from shoplens.privacy.keys import warehouse_secret

SECRET = "another-test-secret-0123456789abcdef"


def test_demo_ingest_stores_no_raw_email_phone_or_name(demo_wh) -> None:
    customers = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)
    leaks = raw_pii_leaks(demo_wh, {k: customers[k].dropna().tolist() for k in ("email", "phone", "name")})
    assert leaks.empty, leaks
    stored = demo_wh.query("SELECT * FROM customers")
    assert stored["name"].isna().all()
    assert stored["email"].str.startswith("e").all() and stored["phone"].str.startswith("p").all()


def test_demo_customer_ids_are_pseudonyms_and_round_trip(demo_wh) -> None:
    assert pseudonymised(demo_wh)
    shop_ids = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)["customer_id"].tolist()
    for table in ("customers", "orders", "reviews", "support_messages"):
        n = demo_wh.con.execute(f"SELECT count(*) FROM {table} WHERE customer_id IN (SELECT unnest(?))", [shop_ids]).fetchone()[0]
        assert n == 0, table
    internal = to_internal(demo_wh, shop_ids[:5])
    assert all(i.startswith("c") and len(i) == 21 for i in internal)
    assert demo_wh.con.execute("SELECT count(*) FROM customers WHERE customer_id IN (SELECT unnest(?))", [internal]).fetchone()[0] == 5
    assert to_external(demo_wh, internal) == shop_ids[:5]
    # joins still work: every order of a known customer meets its customer row
    orphans = demo_wh.con.execute(
        "SELECT count(*) FROM orders WHERE customer_id IS NOT NULL AND customer_id NOT IN (SELECT customer_id FROM customers)"
    ).fetchone()[0]
    assert orphans == 0


def test_demo_texts_are_masked(demo_wh) -> None:
    masked = demo_wh.query("SELECT text FROM support_messages WHERE text LIKE '%<PERSON>%'")
    assert len(masked) > 0
    raw = pd.read_csv(demo_data_dir() / "support_messages.csv.gz", dtype=str)
    from shoplens.privacy.detect import PiiScanner

    scanner = PiiScanner()
    stored = demo_wh.query("SELECT text FROM support_messages")["text"].dropna()
    assert sum(len(scanner.scan(t)) for t in stored) == 0
    assert sum(len(scanner.scan(t)) for t in raw["text"].dropna()) > 0


def _customers_csv(path, rows: list[dict]) -> str:
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def test_reingest_is_an_upsert_with_the_same_pseudonyms(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET)
    f = _customers_csv(tmp_path / "c.csv", [{"customer_id": "A1", "email": "a@x.com", "name": "Ann Lee"}])
    hooks = ingest_hooks(s, tmp_wh)
    first = ingest(tmp_wh, [f], table="customers", before_write=hooks)
    again = ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(s, tmp_wh))
    assert (first.loaded, again.duplicates, again.loaded) == (1, 1, 0)
    assert tmp_wh.row_count("customers") == 1


def test_vault_policy_keeps_a_recoverable_encrypted_copy(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET, privacy={"columns": {"customers.name": "vault"}})
    f = _customers_csv(tmp_path / "c.csv", [{"customer_id": "A1", "name": "Ann Lee"}])
    ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(s, tmp_wh))
    token = tmp_wh.con.execute("SELECT name FROM customers").fetchone()[0]
    assert token != "Ann Lee" and token.startswith("n")
    vault = Vault(tmp_wh, warehouse_secret(tmp_wh))
    assert vault.reveal(to_internal(tmp_wh, ["A1"])[0], "name") == ["Ann Lee"]
    blob = tmp_wh.con.execute("SELECT ciphertext FROM _vault WHERE field = 'name'").fetchone()[0]
    assert b"Ann Lee" not in bytes(blob)


def test_quarantined_raw_rows_are_masked(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET)
    f = _customers_csv(tmp_path / "c.csv", [
        {"customer_id": "B7", "email": "bob@x.com", "name": "Bob Stone", "phone": "+44 7700 900123", "birth_year": "1850"},
    ])
    result = ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(s, tmp_wh))
    assert result.quarantined == 1
    raw = tmp_wh.con.execute("SELECT raw || reason FROM _quarantine").fetchone()[0]
    for value in ("bob@x.com", "Bob Stone", "7700 900123", '"B7"'):
        assert value not in raw
    assert to_internal(tmp_wh, ["B7"])[0] in raw  # erasure can still find it


def test_pseudonymisation_can_be_turned_off(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET, privacy={"pseudonymize_customer_id": False})
    f = _customers_csv(tmp_path / "c.csv", [{"customer_id": "A1", "email": "a@x.com"}])
    ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(s, tmp_wh))
    assert tmp_wh.con.execute("SELECT customer_id FROM customers").fetchone()[0] == "A1"
    assert to_internal(tmp_wh, ["A1"]) == ["A1"] and to_external(tmp_wh, ["A1"]) == ["A1"]


def test_wrong_secret_is_refused(tmp_wh, tmp_path) -> None:
    f = _customers_csv(tmp_path / "c.csv", [{"customer_id": "A1"}])
    ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(Settings(warehouse=tmp_wh.path, secret=SECRET), tmp_wh))
    with pytest.raises(ConfigError, match="does not match"):
        ingest_hooks(Settings(warehouse=tmp_wh.path, secret="x" * 40), tmp_wh)


@pytest.mark.parametrize("privacy, message", [
    ({"columns": {"customers.email": "burn"}}, "choose one of"),
    ({"columns": {"customers.shoe": "redact"}}, "not a canonical"),
    ({"threshold": 3}, "between 0 and 1"),
    ({"colour": 1}, "unknown setting"),
    ({"consent_default": {"ads": False}}, "unknown purpose"),
])
def test_bad_policy_is_a_clear_config_error(privacy, message) -> None:
    with pytest.raises(ConfigError, match=message):
        Policy.from_settings(Settings(privacy=privacy))


def test_missing_ids_stay_missing(demo_wh) -> None:
    internal = to_internal(demo_wh, ["12348", None, float("nan")])
    assert internal[0].startswith("c") and internal[1:] == [None, None]
    assert to_external(demo_wh, [internal[0], None]) == ["12348", None]


# -- privacy by construction (#16 item 12) ----------------------------------------------------
PII_ROW = {"customer_id": "A1", "email": "ann@example.com", "phone": "+44 7700 900123", "name": "Ann Lee"}


def _stored_raw(wh) -> bool:
    rows = wh.query("SELECT customer_id, email, phone, name FROM customers").astype(str)
    return bool(rows.isin(list(PII_ROW.values())).to_numpy().any())


def test_plain_python_ingest_applies_the_policy(tmp_wh, tmp_path, monkeypatch) -> None:
    """Regression: `ingest(wh, files, table=...)` without hooks stored raw ids, e-mails and phones."""
    monkeypatch.setenv("SHOPLENS_SECRET", SECRET)
    f = _customers_csv(tmp_path / "c.csv", [PII_ROW])
    ingest(tmp_wh, [f], table="customers")
    assert not _stored_raw(tmp_wh)
    assert to_external(tmp_wh, tmp_wh.query("SELECT customer_id FROM customers")["customer_id"].tolist()) == ["A1"]
    # settings passed explicitly carry the shop's policy (here: keep e-mails in the vault)
    s = Settings(warehouse=tmp_wh.path, secret=SECRET, privacy={"columns": {"customers.email": "vault"}})
    f2 = _customers_csv(tmp_path / "c2.csv", [{"customer_id": "B2", "email": "bee@example.com"}])
    ingest(tmp_wh, [f2], table="customers", settings=s)
    vault = Vault(tmp_wh, warehouse_secret(tmp_wh))
    assert vault.reveal(to_internal(tmp_wh, ["B2"])[0], "email") == ["bee@example.com"]


def test_hooks_passed_by_an_old_caller_are_applied_once(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET)
    f = _customers_csv(tmp_path / "c.csv", [PII_ROW])
    ingest(tmp_wh, [f], table="customers", before_write=ingest_hooks(s, tmp_wh), settings=s)
    assert tmp_wh.query("SELECT customer_id FROM customers")["customer_id"].tolist() == to_internal(tmp_wh, ["A1"])


def test_writing_raw_personal_data_is_an_explicit_logged_opt_out(tmp_wh, tmp_path, capsys) -> None:
    f = _customers_csv(tmp_path / "c.csv", [PII_ROW])
    result = ingest(tmp_wh, [f], table="customers", privacy="off")
    assert "privacy is OFF" in capsys.readouterr().err
    assert _stored_raw(tmp_wh)
    log = tmp_wh.query("SELECT run_id, table_name, columns FROM _privacy_optouts")
    assert log["run_id"].tolist() == [result.run_id] and log["table_name"].tolist() == ["customers"]
    assert "email" in log["columns"].iloc[0]
    # pseudonyms would never join the raw ids now stored: privacy on customer ids is refused here
    f2 = _customers_csv(tmp_path / "c2.csv", [{"customer_id": "B2"}])
    with pytest.raises(UserInputError, match="raw customer ids written with privacy='off'"):
        ingest(tmp_wh, [f2], table="customers", settings=Settings(warehouse=tmp_wh.path, secret=SECRET))
    assert tmp_wh.row_count("customers") == 1
    with pytest.raises(UserInputError, match="privacy must be"):
        ingest(tmp_wh, [f2], table="customers", privacy="maybe")  # type: ignore[arg-type]


def test_the_opt_out_is_refused_on_a_pseudonymised_warehouse(tmp_wh, tmp_path) -> None:
    s = Settings(warehouse=tmp_wh.path, secret=SECRET)
    ingest(tmp_wh, [_customers_csv(tmp_path / "c.csv", [PII_ROW])], table="customers", settings=s)
    with pytest.raises(UserInputError, match="holds pseudonymised customer ids"):
        ingest(tmp_wh, [_customers_csv(tmp_path / "c2.csv", [{"customer_id": "B2"}])], table="customers",
               privacy="off")
    assert tmp_wh.row_count("customers") == 1 and not tmp_wh.has_table("_privacy_optouts")


def test_cli_ingest_privacy_off_is_printed_and_logged(tmp_path) -> None:
    from typer.testing import CliRunner

    from shoplens.cli import app

    f = _customers_csv(tmp_path / "c.csv", [PII_ROW])
    res = CliRunner().invoke(app, ["-w", str(tmp_path / "w.duckdb"), "ingest", "customers", f, "--privacy", "off",
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert "privacy is OFF" in res.output  # stderr is mixed into the runner's output
    from shoplens.store.warehouse import Warehouse

    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.row_count("_privacy_optouts") == 1 and _stored_raw(wh)


def test_quarantine_reasons_show_shop_ids_never_pseudonyms(tmp_path, monkeypatch) -> None:
    """Sibling of #16 item 3: a reference check names the staged (pseudonymised) id in its reason."""
    import json

    from typer.testing import CliRunner

    from shoplens.cli import app
    from shoplens.store.warehouse import Warehouse

    monkeypatch.setenv("SHOPLENS_SECRET", SECRET)
    w = tmp_path / "w.duckdb"
    with Warehouse(w) as wh:
        hooks = ingest_hooks(Settings(warehouse=w, secret=SECRET), wh)  # as an older caller passes them
        ingest(wh, [_customers_csv(tmp_path / "c.csv", [{"customer_id": "C1"}])], table="customers", before_write=hooks)
        (tmp_path / "o.csv").write_text("order_id,customer_id,ordered_at\nO1,C1,2011-01-01\nO2,C9,2011-01-01\n")
        assert ingest(wh, [tmp_path / "o.csv"], table="orders", before_write=hooks).quarantined == 1
        stored = wh.con.execute("SELECT reason FROM _quarantine").fetchone()[0]
        assert to_internal(wh, ["C9"])[0] in stored  # kept pseudonymous inside (erasure finds it)
    res = CliRunner().invoke(app, ["-w", str(w), "quarantine", "orders", "--json"])
    assert res.exit_code == 0, res.output
    reason = json.loads(res.output)[0]["reason"]
    assert "'C9'" in reason and not re.search(r"\bc[0-9a-f]{20}\b", reason)
