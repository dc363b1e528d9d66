"""Customer attributes at ingest: the columns a customers file brings beyond the canonical ones
are kept as typed rows of ``customer_attributes`` through the one ingest path (accounted for,
pseudonymised), and a column that looks like personal data is refused, never stored."""

from __future__ import annotations

import pytest

from shoplens.config import Settings
from shoplens.errors import MappingError
from shoplens.ingest import ingest
from shoplens.ingest.attributes import attribute_name
from shoplens.store.warehouse import Warehouse

SECRET = "attributes-test-secret-0123456789abcdef"

# the Complete Journey hh_demographic layout (banded text, empty where unknown)
DEMOGRAPHICS = """household_id,age,income,home_ownership,marital_status,household_size,household_comp,kids_count
1,65+,35-49K,Homeowner,Married,2,2 Adults No Kids,0
1001,45-54,50-74K,Homeowner,Unmarried,1,1 Adult No Kids,0
1003,35-44,25-34K,,Unmarried,1,1 Adult No Kids,0
1004,25-34,15-24K,,Unmarried,1,1 Adult No Kids,0
"""


@pytest.fixture()
def wh(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def _settings(wh: Warehouse) -> Settings:
    return Settings(warehouse=wh.path, secret=SECRET)


def test_demographics_become_typed_attributes_with_counts_that_add_up(wh, tmp_path):
    path = tmp_path / "demographics.csv"
    path.write_text(DEMOGRAPHICS)
    result = ingest(wh, [path], preset="completejourney-demographics", settings=_settings(wh))
    assert (result.read, result.loaded) == (4, 4)
    attrs = result.derived["customer_attributes"]
    # 4 households x 7 columns, less the two empty home_ownership values
    assert (attrs.read, attrs.loaded, attrs.quarantined, attrs.duplicates) == (26, 26, 0, 0) and attrs.adds_up()
    assert not any(n.startswith("columns not used") for n in result.notes)
    assert any(n.startswith("kept as customer attributes: age (text), income (text)") for n in result.notes)
    rows = wh.query("SELECT * FROM customer_attributes ORDER BY customer_id, attribute")
    assert set(rows["attribute"]) == {"age", "income", "home_ownership", "marital_status", "household_size",
                                      "household_comp", "kids_count"}
    assert set(rows["type"]) == {"text", "number"}  # household_size and kids_count: numbers in this file
    assert set(rows.loc[rows["attribute"] == "kids_count", "type"]) == {"number"}
    # ids are pseudonyms that join the customers table; the shop's ids are not stored
    assert not set(rows["customer_id"]) & {"1", "1001", "1003", "1004"}
    assert set(rows["customer_id"]) == set(wh.query("SELECT customer_id FROM customers")["customer_id"])
    again = ingest(wh, [path], preset="completejourney-demographics", settings=_settings(wh))
    assert again.derived["customer_attributes"].duplicates == 26 and again.derived["customer_attributes"].loaded == 0


def test_a_changed_value_is_an_update_and_types_are_inferred(wh, tmp_path):
    path = tmp_path / "members.csv"
    path.write_text("customer_id,Loyalty Level,points,newsletter,会员等级\nc1,gold,120,yes,金卡\nc2,silver,7.5,no,\n")
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    assert r.derived["customer_attributes"].loaded == 7
    types = dict(wh.con.execute("SELECT DISTINCT attribute, type FROM customer_attributes").fetchall())
    assert types == {"loyalty_level": "text", "points": "number", "newsletter": "boolean", "会员等级": "text"}
    path.write_text("customer_id,Loyalty Level,points,newsletter,会员等级\nc1,platinum,120,yes,金卡\n")
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    a = r.derived["customer_attributes"]
    assert (a.read, a.loaded, a.updated, a.duplicates) == (4, 0, 1, 3)
    assert wh.query("SELECT value FROM customer_attributes WHERE attribute = 'loyalty_level' AND value = 'platinum'") \
        .shape[0] == 1


def test_personal_data_columns_are_refused_and_never_stored(wh, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text("customer_id,tier,Contact Email,Full Name,note\n"
                    "c1,gold,ann@example.com,Ann Lee,call 13800138000\n"
                    "c2,silver,bo@example.com,Bo Chen,call +44 7700 900123\n")
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    assert r.derived["customer_attributes"].loaded == 2  # tier only
    refused = [n for n in r.notes if "not kept" in n]
    assert len(refused) == 3 and "'Contact Email'" in refused[0] and "'Full Name'" in refused[1]
    assert "values sampled hold personal data (PHONE)" in refused[2]
    stored = " ".join(str(v) for v in wh.query("SELECT * FROM customer_attributes").to_numpy().ravel())
    for raw in ("ann@example.com", "Ann Lee", "13800138000", "7700"):
        assert raw not in stored


def test_one_personal_value_among_many_refuses_the_column(wh, tmp_path):
    """A free-text column where one customer in 300 wrote an e-mail address: stored, it would keep it raw."""
    path = tmp_path / "crm.csv"
    notes = [f"prefers parcel locker {i}" for i in range(300)]
    notes[217] = "write to zoe.w@example.com"
    path.write_text("customer_id,tier,note\n" + "".join(f"c{i},gold,{n}\n" for i, n in enumerate(notes)))
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    assert r.derived["customer_attributes"].loaded == 300  # tier only
    assert any("'note'" in n and "EMAIL" in n for n in r.notes if "not kept" in n)
    assert wh.query("SELECT count(*) FROM customer_attributes WHERE value LIKE '%example.com%'").iloc[0, 0] == 0


def test_values_the_screen_did_not_sample_are_masked_at_rest(wh, tmp_path, monkeypatch):
    """A free-text column with more distinct values than the screen samples: whatever personal data
    the sample missed is masked in each stored value (zh and en), never stored raw."""
    import shoplens.ingest.attributes as attributes

    monkeypatch.setattr(attributes, "SAMPLE", 0)  # the screen reads none: everything is past the sample
    path = tmp_path / "crm.csv"
    notes = [f"prefers parcel locker {i}" for i in range(20)]
    notes[3] = "call 13800138000 after six"
    notes[7] = "write to zoe.w@example.com"
    notes[11] = "收货人王小明，电话13900139000，浙江省杭州市西湖区文三路100号"
    path.write_text("customer_id,tier,note\n" + "".join(f"c{i},gold,{n}\n" for i, n in enumerate(notes)),
                    encoding="utf-8")
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    a = r.derived["customer_attributes"]
    assert (a.read, a.loaded) == (40, 40) and a.adds_up()  # kept: the sample saw nothing
    stored = wh.query("SELECT value FROM customer_attributes WHERE attribute = 'note'")["value"].tolist()
    everything = " ".join(str(v) for v in stored)
    for raw in ("13800138000", "zoe.w@example.com", "13900139000", "文三路100号"):
        assert raw not in everything
    assert "call <PHONE> after six" in stored and "write to <EMAIL>" in stored
    assert "prefers parcel locker 0" in stored  # values without personal data stay as written


def test_a_mapping_chooses_the_attributes(wh, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,tier,segment_code\nc1,gold,A\n")
    only = tmp_path / "only.toml"
    only.write_text('attributes = ["tier"]\n[tables.customers]\ncustomer_id = "id"\n')
    r = ingest(wh, [path], mapping=only, settings=_settings(wh))
    assert r.derived["customer_attributes"].loaded == 1 and any("segment_code" in n for n in r.notes)
    none = tmp_path / "none.toml"
    none.write_text('attributes = false\n[tables.customers]\ncustomer_id = "id"\n')
    r = ingest(wh, [path], mapping=none, settings=_settings(wh))
    assert "customer_attributes" not in r.derived
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('attributes = ["tiers"]\n[tables.customers]\ncustomer_id = "id"\n')
    with pytest.raises(MappingError, match="attributes name column.*tiers"):
        ingest(wh, [path], mapping=wrong, settings=_settings(wh))


def test_an_order_source_keeps_no_attributes(wh, tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("order_id,customer_id,ordered_at,till_note\no1,c1,2024-01-05,x\n")
    r = ingest(wh, [path], table="orders", settings=_settings(wh))
    assert r.derived == {} and r.notes == ["columns not used: till_note"]


def test_attributes_of_a_quarantined_customer_row_are_not_read(wh, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_id,birth_year,tier\nc1,1980,gold\nc2,1850,silver\n")
    r = ingest(wh, [path], table="customers", settings=_settings(wh))
    assert (r.read, r.loaded, r.quarantined) == (2, 1, 1)
    assert r.derived["customer_attributes"].read == 1


def test_a_long_attributes_file_is_checked_against_customers(wh, tmp_path):
    (tmp_path / "c.csv").write_text("customer_id\nc1\n")
    ingest(wh, [tmp_path / "c.csv"], table="customers", settings=_settings(wh))
    (tmp_path / "a.csv").write_text("customer_id,attribute,value,type\nc1,tier,gold,text\nc9,tier,gold,text\n"
                                    "c1,score,x,colour\n")
    r = ingest(wh, [tmp_path / "a.csv"], table="customer_attributes", settings=_settings(wh))
    assert (r.read, r.loaded, r.quarantined) == (3, 1, 2)
    reasons = sorted(wh.query("SELECT reason FROM _quarantine WHERE table_name = 'customer_attributes'")["reason"])
    assert "not found in customers" in reasons[1] and "is not" in reasons[0]


def test_attribute_names():
    assert attribute_name("Household Size") == "household_size"
    assert attribute_name("VIP-Tier (2024)") == "vip_tier_2024"
