"""Consent fails closed: the one check, the per-purpose defaults, shop ids at the public
boundary, unknown ids reported, and the export path."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens import privacy
from shoplens.config import Settings
from shoplens.errors import ConfigError, UserInputError
from shoplens.ingest import ingest
from shoplens.privacy.consent import (
    ACTIONS,
    _check_internal,
    allowed,
    consent_default,
    consent_filter_sql,
    purposes_for,
)
from shoplens.privacy.export import export_customers
from shoplens.privacy.ids import to_internal

SECRET = "consent-test-secret-0123456789"


@pytest.fixture()
def consent_wh(tmp_wh, tmp_path):
    """yes: both consents; no: both refused; never: both NULL (never asked); buyer: known only
    from behaviour events (no customers row); 'not-a-customer' appears nowhere."""
    rows = [
        {"customer_id": "yes", "consent_marketing": "true", "consent_personalization": "true"},
        {"customer_id": "no", "consent_marketing": "false", "consent_personalization": "false"},
        {"customer_id": "never", "consent_marketing": "", "consent_personalization": ""},
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    settings = Settings(warehouse=tmp_wh.path, secret=SECRET)
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", settings=settings)
    (tmp_path / "e.csv").write_text("customer_id,event_type,product_id,occurred_at\nbuyer,view,P1,2011-01-02\n")
    ingest(tmp_wh, [tmp_path / "e.csv"], table="events", settings=settings)
    return tmp_wh


def test_marketing_is_opt_in_and_personalisation_legitimate_interest_by_default() -> None:
    assert consent_default("marketing", Settings()) is False
    assert consent_default("personalization", Settings()) is True


def test_public_allowed_takes_and_returns_shop_ids_and_reports_unknown_ids(consent_wh) -> None:
    ids = ["yes", "no", "never", "buyer", "not-a-customer"]
    marketing = allowed(consent_wh, ids, "marketing")
    assert marketing.allowed == ["yes"]
    assert marketing.refused == ["no", "never", "buyer"]
    assert marketing.unknown == ["not-a-customer"]
    assert marketing.defaulted == ["never", "buyer"]
    assert "consent_marketing is false" in marketing.reason("no")
    assert "never given" in marketing.reason("never") and "opt-in" in marketing.reason("never")
    assert "unknown customer" in marketing.reason("not-a-customer") and marketing.reason("yes") is None
    personal = allowed(consent_wh, ids, "personalization")
    assert personal.allowed == ["yes", "never", "buyer"]
    assert personal.refused == ["no"] and personal.unknown == ["not-a-customer"]
    # iterating goes over the allowed ids (so list(allowed(...)) keeps working)
    assert list(personal) == personal.allowed and len(personal) == 3 and "never" in personal
    assert privacy.allowed is allowed


def test_a_warehouse_id_is_not_a_shop_id(consent_wh) -> None:
    """Regression (#25): allowed() used to take warehouse ids; a pseudonym given where a shop id
    belongs is not a customer, so it is never allowed."""
    pseudonyms = to_internal(consent_wh, ["yes"])
    check = allowed(consent_wh, pseudonyms, "personalization")
    assert check.allowed == [] and check.unknown == pseudonyms


def test_unknown_ids_are_never_allowed_even_when_the_default_says_yes(consent_wh) -> None:
    check = allowed(consent_wh, ["never", "not-a-customer", "yes"], "marketing", default=True)
    assert check.allowed == ["never", "yes"] and check.unknown == ["not-a-customer"]
    per_purpose = allowed(consent_wh, ["never"], "personalization", default={"personalization": False})
    assert per_purpose.allowed == [] and per_purpose.refused == ["never"]


@pytest.mark.parametrize("need", ["personalization", "marketing", "offer", ["profile", "campaign"]])
@pytest.mark.parametrize("default", [True, False, None])
def test_filter_sql_agrees_with_the_check(consent_wh, need, default) -> None:
    everyone = to_internal(consent_wh, ["yes", "no", "never", "buyer", "not-a-customer"])
    sql = consent_filter_sql(need, default=default)
    kept = [r[0] for r in consent_wh.con.execute(
        f"SELECT customer_id FROM (SELECT unnest(?::VARCHAR[]) AS customer_id) WHERE {sql}", [everyone]).fetchall()]
    assert sorted(kept) == sorted(_check_internal(consent_wh, everyone, need, default).allowed)
    assert everyone[-1] not in kept  # never a non-customer


def test_every_action_needs_its_purpose() -> None:
    assert {a for a, p in ACTIONS.items() if p == ("marketing",)} == {"offer", "ad", "campaign", "audience_export"}
    assert set(purposes_for(["profile", "campaign"])) == {"personalization", "marketing"}
    with pytest.raises(UserInputError, match="unknown consent purpose"):
        purposes_for("ads")


def test_defaults_are_configurable_per_purpose(consent_wh, tmp_path, monkeypatch) -> None:
    assert consent_default("marketing", Settings(privacy={"consent_default": True})) is True
    assert consent_default("personalization", Settings(privacy={"consent_default": False})) is False
    # one purpose given: the other keeps its out-of-the-box default
    assert consent_default("marketing", Settings(privacy={"consent_default": {"personalization": False}})) is False
    assert consent_default("personalization", Settings(privacy={"consent_default": {"marketing": True}})) is True
    with pytest.raises(ConfigError, match="true or false"):
        consent_default("marketing", Settings(privacy={"consent_default": {"marketing": "yes"}}))
    config = tmp_path / "shoplens.toml"
    config.write_text("[privacy]\nconsent_default = {marketing = true, personalization = false}\n")
    monkeypatch.setenv("SHOPLENS_CONFIG", str(config))
    monkeypatch.setenv("SHOPLENS_SECRET", SECRET)
    assert allowed(consent_wh, ["never"], "personalization").allowed == []
    assert allowed(consent_wh, ["never"], "marketing").allowed == ["never"]


def test_unknown_purpose(consent_wh) -> None:
    with pytest.raises(UserInputError, match="unknown consent purpose"):
        allowed(consent_wh, ["x"], "ads")  # type: ignore[arg-type]


def test_a_customer_ingested_without_consent_columns_is_not_marketable(tmp_wh, tmp_path) -> None:
    (tmp_path / "c.csv").write_text("customer_id,country\nplain,UK\n")
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", settings=Settings(warehouse=tmp_wh.path, secret=SECRET))
    assert allowed(tmp_wh, ["plain"], "marketing").refused == ["plain"]
    result = export_customers(tmp_wh, ["plain"], "nobody")
    assert result.exported == 0 and pd.read_csv(result.path, dtype=str).empty


def test_export_takes_shop_ids_and_keeps_only_marketing_consent(consent_wh) -> None:
    """Regression (#25): given shop ids, the old export kept a customer whose consent_marketing is false."""
    result = export_customers(consent_wh, ["yes", "no", "never", "buyer", "not-a-customer"], "winback")
    assert result.path.parent == consent_wh.home / "exports"
    assert pd.read_csv(result.path, dtype=str)["customer_id"].tolist() == ["yes"]
    assert result.exported == 1 and result.refused == ["no", "never", "buyer"] and result.unknown == ["not-a-customer"]
    extra = pd.DataFrame({"segment": ["loyal", "lapsed"]}, index=["yes", "no"])
    with_extra = export_customers(consent_wh, ["yes", "no"], "with_segment", extra=extra)
    assert pd.read_csv(with_extra.path, dtype=str).to_dict("records") == [{"customer_id": "yes", "segment": "loyal"}]
    with pytest.raises(UserInputError, match="export name"):
        export_customers(consent_wh, [], "../evil")


def test_export_for_personalisation_and_formula_ids_are_neutralised(tmp_wh, tmp_path) -> None:
    (tmp_path / "c.csv").write_text('customer_id,consent_marketing\n"=cmd|\' /C calc\'!A0",true\n-17,true\n')
    ingest(tmp_wh, [tmp_path / "c.csv"], table="customers", settings=Settings(warehouse=tmp_wh.path, secret=SECRET))
    result = export_customers(tmp_wh, ["=cmd|' /C calc'!A0", "-17"], "audience")
    assert result.path.read_text().splitlines() == ["customer_id", "'=cmd|' /C calc'!A0", "-17"]
