"""Consent: the function, the configurable NULL default and the export path."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.config import Settings
from shoplens.errors import UserInputError
from shoplens.ingest import ingest
from shoplens.privacy.consent import allowed, consent_default, consent_filter_sql
from shoplens.privacy.export import export_customers
from shoplens.privacy.ids import to_internal
from shoplens.privacy.ingest import ingest_hooks


@pytest.fixture()
def consent_wh(tmp_wh, tmp_path):
    rows = [
        {"customer_id": "yes", "consent_marketing": "true", "consent_personalization": "true"},
        {"customer_id": "no", "consent_marketing": "false", "consent_personalization": "false"},
        {"customer_id": "unknown", "consent_marketing": "", "consent_personalization": ""},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    s = Settings(warehouse=tmp_wh.path, secret="consent-test-secret-0123456789")
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", before_write=ingest_hooks(s, tmp_wh))
    return tmp_wh


def ids(wh, *names):
    return to_internal(wh, list(names))


@pytest.mark.parametrize("purpose", ["personalization", "marketing"])
def test_allowed_excludes_refusals_and_follows_the_default(consent_wh, purpose) -> None:
    everyone = ids(consent_wh, "yes", "no", "unknown", "never-seen")
    assert allowed(consent_wh, everyone, purpose, default=True) == [everyone[0], everyone[2], everyone[3]]
    assert allowed(consent_wh, everyone, purpose, default=False) == [everyone[0]]


@pytest.mark.parametrize("default", [True, False])
def test_filter_sql_agrees_with_allowed(consent_wh, default) -> None:
    everyone = ids(consent_wh, "yes", "no", "unknown")
    sql = consent_filter_sql("personalization", default=default)
    kept = [r[0] for r in consent_wh.con.execute(
        f"SELECT customer_id FROM (SELECT unnest(?) AS customer_id) WHERE {sql}", [everyone]).fetchall()]
    assert sorted(kept) == sorted(allowed(consent_wh, everyone, "personalization", default=default))


def test_default_comes_from_the_privacy_section(consent_wh, tmp_path, monkeypatch) -> None:
    assert consent_default("marketing", Settings()) is True
    assert consent_default("marketing", Settings(privacy={"consent_default": False})) is False
    assert consent_default("marketing", Settings(privacy={"consent_default": {"marketing": False}})) is False
    assert consent_default("personalization", Settings(privacy={"consent_default": {"marketing": False}})) is True
    config = tmp_path / "shoplens.toml"
    config.write_text("[privacy]\nconsent_default = false\n")
    monkeypatch.setenv("SHOPLENS_CONFIG", str(config))
    unknown = ids(consent_wh, "unknown")
    assert allowed(consent_wh, unknown, "personalization") == []
    assert "IN (SELECT customer_id FROM customers WHERE consent_personalization = TRUE)" in consent_filter_sql("personalization")


def test_unknown_purpose(consent_wh) -> None:
    with pytest.raises(UserInputError, match="unknown consent purpose"):
        allowed(consent_wh, ["x"], "ads")  # type: ignore[arg-type]


def test_export_keeps_only_marketing_consent_and_shop_ids(consent_wh) -> None:
    path = export_customers(consent_wh, ids(consent_wh, "yes", "no", "unknown"), "winback")
    assert path.parent == consent_wh.home / "exports"
    assert pd.read_csv(path, dtype=str)["customer_id"].tolist() == ["yes", "unknown"]
    with pytest.raises(UserInputError, match="export name"):
        export_customers(consent_wh, [], "../evil")
