"""Customer attributes after ingest: read typed, shown in the profile (CLI and REST helper),
clustered on by segments when asked, reachable by a campaign audience's ``sql:`` condition,
and erased with the customer."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shoplens.config import Settings
from shoplens.customers.attributes import attribute_types, customer_attributes, wide_sql
from shoplens.errors import UserInputError
from shoplens.ingest import ingest
from shoplens.privacy.ids import to_internal
from shoplens.store.warehouse import Warehouse

SECRET = "attributes-test-secret-0123456789abcdef"
N = 60


def _files(folder):
    from datetime import date, timedelta

    orders = ["order_id,customer_id,ordered_at,total_amount"]
    for i in range(N):  # two years of history: some customers keep buying, others stop
        for k in range(2 + i % 6 * 3):
            day = date(2022, 1, 1) + timedelta(days=(i * 5 + k * (20 + i % 9 * 7)) % 720)
            orders.append(f"o{i}-{k},{i},{day} 10:00:00,{10 + (i % 7) * 25 + k}")
    (folder / "orders.csv").write_text("\n".join(orders) + "\n")
    members = ["customer_id,tier,points,newsletter,consent_marketing,consent_personalization"]
    members += [f"{i},{'gold' if i % 3 == 0 else 'silver'},{i * 10},{'yes' if i % 2 else 'no'},true,true"
                for i in range(N)]
    (folder / "members.csv").write_text("\n".join(members) + "\n")


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("attrs")
    _files(folder)
    path = folder / "w.duckdb"
    settings = Settings(warehouse=path, secret=SECRET)
    with Warehouse(path) as wh:
        ingest(wh, [folder / "members.csv"], table="customers", settings=settings)
        ingest(wh, [folder / "orders.csv"], table="orders", settings=settings)
    return path


@pytest.fixture()
def wh(path, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("SHOPLENS_SECRET", SECRET)
    shutil.copy(path, tmp_path / "w.duckdb")
    with Warehouse(tmp_path / "w.duckdb") as w:
        yield w


def test_attributes_read_typed(wh):
    assert attribute_types(wh) == {"newsletter": "boolean", "points": "number", "tier": "text"}
    internal = to_internal(wh, ["3"])[0]
    assert customer_attributes(wh, internal) == {"newsletter": True, "points": 30, "tier": "gold"}
    wide = wh.query(wide_sql(wh, ["points", "tier"]))
    assert list(wide.columns) == ["customer_id", "attr_points", "attr_tier"] and len(wide) == N
    with pytest.raises(UserInputError, match="unknown customer attribute.*colour.*newsletter, points, tier"):
        wide_sql(wh, ["colour"])


def test_profile_json_has_the_attributes(path, tmp_path, monkeypatch):
    import shutil

    from shoplens.cli import app

    monkeypatch.setenv("SHOPLENS_SECRET", SECRET)
    shutil.copy(path, tmp_path / "w.duckdb")
    result = CliRunner().invoke(app, ["--warehouse", str(tmp_path / "w.duckdb"), "customers", "profile", "6", "--json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)
    assert profile["customer_id"] == "6"
    assert profile["attributes"] == {"newsletter": False, "points": 60, "tier": "gold"}


def test_customer_360_has_the_attributes(wh):
    from shoplens.customers.profile import customer_360

    assert customer_360(wh, "7")["attributes"] == {"newsletter": True, "points": 70, "tier": "silver"}


def test_segments_on_attributes(wh):
    from shoplens.customers.segments import build_segments

    plain = build_segments(wh, k_range=(2, 4), register=False)
    assert not any(c.startswith("attr_") for c in plain.features.columns)
    res = build_segments(wh, k_range=(2, 4), register=False, attributes=["tier", "points"])
    assert {"attr_points", "attr_tier=gold", "attr_tier=silver"} <= set(res.features.columns)
    # gold members (every third id) are one value of a 0/1 feature: its segment average is a share
    gold = res.features.groupby("segment_id")["attr_tier=gold"].mean()
    assert gold.between(0, 1).all() and gold.max() > gold.min()
    info = json.loads(wh.con.execute("SELECT info FROM _computed WHERE name = 'customer_segments'").fetchone()[0])
    assert info["attributes"] == ["tier", "points"]
    with pytest.raises(UserInputError):
        build_segments(wh, k_range=(2, 4), register=False, attributes=["colour"])


def test_an_audience_filters_on_attributes(wh):
    from datetime import datetime

    from shoplens.campaigns.assign import audience_members

    members = audience_members(wh, "sql:attr_tier = 'gold' AND attr_points >= 300", datetime(2024, 6, 1))
    expected = to_internal(wh, [str(i) for i in range(N) if i % 3 == 0 and i >= 30])
    assert sorted(members) == sorted(expected)
    assert audience_members(wh, "sql:attr_newsletter", datetime(2024, 6, 1)) and \
        len(audience_members(wh, "sql:attr_newsletter", datetime(2024, 6, 1))) == N // 2


def test_erasure_removes_the_attributes(wh):
    from shoplens.privacy.erasure import erase, verify

    internal = to_internal(wh, ["9"])[0]
    assert customer_attributes(wh, internal)
    report = erase(wh, "9")
    assert report.removed["customer_attributes"] == 3
    assert wh.con.execute("SELECT count(*) FROM customer_attributes WHERE customer_id = ?", [internal]).fetchone()[0] == 0
    assert verify(wh, "9").clean
    assert wh.row_count("customer_attributes") == 3 * (N - 1)
