"""The service layer: the one place a warehouse is opened from settings, and ingest under
the shop's settings (privacy policy, future-date limit) for every interface."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shoplens import services
from shoplens.config import Settings
from shoplens.errors import ConfigError
from shoplens.privacy.ids import to_internal
from shoplens.privacy.operators import pseudonym
from tests.ingest.helpers import ORDERS_HEADER, write

SECRET = "services-test-secret-0123456789abcdefghij"


def settings_for(tmp_path, **kw) -> Settings:
    return Settings(warehouse=tmp_path / "shop" / "warehouse.duckdb", secret=SECRET, **kw)


def test_open_warehouse_follows_the_settings(tmp_path):
    s = settings_for(tmp_path, memory_limit="256MB", threads=1)
    with services.open_warehouse(s) as wh:
        assert wh.path == s.warehouse and wh.engine_name == "duckdb"
        limit, threads = wh.con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    assert limit == "244.1 MiB" and threads == 1
    with services.open_warehouse(s, read_only=True) as wh:
        assert wh.read_only
    spark = settings_for(tmp_path, engine="spark", spark_master="local[1]")
    with services.open_warehouse(spark, engine="duckdb") as wh:  # as the API server opens it
        assert wh.engine_name == "duckdb" and wh.spark_master == "local[1]"


def test_open_warehouse_read_only_needs_a_warehouse(tmp_path):
    with pytest.raises(ConfigError, match="no warehouse here"):
        services.open_warehouse(settings_for(tmp_path / "none"), read_only=True)


def test_ingest_files_applies_the_settings_privacy_policy(tmp_path):
    s = settings_for(tmp_path)
    orders = write(tmp_path / "orders.csv", ORDERS_HEADER + "O1,C1,2011-01-01,completed,10,GBP\n")
    with services.open_warehouse(s) as wh:
        result = services.ingest_files(s, wh, [orders], table="orders")
        stored = [r[0] for r in wh.con.execute("SELECT customer_id FROM orders").fetchall()]
        assert result.loaded == 1 and stored == to_internal(wh, ["C1"])
    assert stored[0] != "C1" and stored[0] == pseudonym("C1", SECRET.encode(), prefix="c")


def test_ingest_files_off_writes_as_it_came_and_records_it(tmp_path):
    s = settings_for(tmp_path)
    orders = write(tmp_path / "orders.csv", ORDERS_HEADER + "O1,C1,2011-01-01,completed,10,GBP\n")
    with services.open_warehouse(s) as wh:
        services.ingest_files(s, wh, [orders], table="orders", privacy="off")
        assert wh.con.execute("SELECT customer_id FROM orders").fetchall() == [("C1",)]
        assert wh.con.execute("SELECT count(*) FROM _privacy_optouts").fetchone()[0] == 1


def test_ingest_files_uses_the_settings_future_limit(tmp_path):
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    orders = write(tmp_path / "orders.csv", ORDERS_HEADER + f"O1,C1,{soon},completed,10,GBP\n")
    strict = settings_for(tmp_path / "a")  # max_future_days = 1
    lenient = settings_for(tmp_path / "b", max_future_days=10)
    with services.open_warehouse(strict) as wh:
        assert services.ingest_files(strict, wh, [orders], table="orders").quarantined == 1
    with services.open_warehouse(lenient) as wh:
        assert services.ingest_files(lenient, wh, [orders], table="orders").loaded == 1


def test_demo_jobs_name_the_bundled_files_in_load_order(tmp_path):
    jobs = services.demo_jobs()
    assert [t or p for t, p, _ in jobs] == ["customers", "online-retail", "reviews", "support_messages"]
    assert all(f.is_file() for _, _, files in jobs for f in files)
    (tmp_path / "customers.csv").write_text("customer_id\nC1\n")
    assert [(t, [f.name for f in fs]) for t, _, fs in services.demo_jobs(tmp_path)] == [("customers", ["customers.csv"])]


def test_a_failed_first_ingest_leaves_no_key_file(tmp_path):
    """The key file a first ingest creates is removed when that ingest fails before writing anything,
    and the next ingest starts clean (a new key, no fingerprint mismatch)."""
    from shoplens.config import Settings
    from shoplens.errors import ShoplensError
    from shoplens.services import ingest_files, open_warehouse

    (tmp_path / "bad.csv").write_text("order_id,customer_id\n1,2\n")
    (tmp_path / "good.csv").write_text("order_id,customer_id,ordered_at\n1,2,2020-01-01\n")
    settings = Settings(warehouse=tmp_path / "shop" / "warehouse.duckdb")
    with open_warehouse(settings) as wh:
        with pytest.raises(ShoplensError):
            ingest_files(settings, wh, [tmp_path / "bad.csv"], table="orders")
        assert not (wh.home / "shoplens.key").exists()
        assert ingest_files(settings, wh, [tmp_path / "good.csv"], table="orders").loaded == 1
        assert (wh.home / "shoplens.key").exists()
        (tmp_path / "bad2.csv").write_text("order_id,customer_id\n3,4\n")
        with pytest.raises(ShoplensError):  # a later failure keeps the key that data was written with
            ingest_files(settings, wh, [tmp_path / "bad2.csv"], table="orders")
        assert (wh.home / "shoplens.key").exists()
