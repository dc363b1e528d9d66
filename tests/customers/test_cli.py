"""`shoplens customers ...`: JSON shapes, consent and shop ids at the boundary, user errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.privacy.ids import to_external
from shoplens.store.warehouse import Warehouse

runner = CliRunner()


@pytest.fixture(scope="module")
def wpath(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    return path


def run_json(wpath: Path, *args: str) -> dict:
    result = runner.invoke(app, ["-w", str(wpath), "customers", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def no_consent_external(wpath: Path) -> set[str]:
    with Warehouse(wpath, read_only=True) as wh:
        ids = wh.query("SELECT customer_id FROM customers WHERE consent_personalization = FALSE")["customer_id"].tolist()
        return set(to_external(wh, ids))


def shop_ids() -> set[str]:
    import pandas as pd

    from shoplens.datasets import demo_data_dir

    return set(pd.read_csv(demo_data_dir() / "customers.csv", dtype={"customer_id": str})["customer_id"])


def test_rfm_json(wpath: Path) -> None:
    out = run_json(wpath, "rfm", "--limit", "500")
    assert {"as_of", "segments", "customers", "count"} <= set(out)
    assert {"segment", "segment_zh", "customers", "share_of_revenue", "action"} <= set(out["segments"][0])
    ids = {c["customer_id"] for c in out["customers"]}
    assert ids <= shop_ids()  # the shop's own ids, not pseudonyms
    assert not ids & no_consent_external(wpath)


def test_segments_churn_cohorts_json(wpath: Path) -> None:
    seg = run_json(wpath, "segments")
    assert seg["k"] == len(seg["segments"]) and seg["selection"]
    assert all(s["description"] for s in seg["segments"])
    churn = run_json(wpath, "churn", "--limit", "50")
    assert {"roc_auc", "pr_auc", "brier"} <= set(churn["metrics"])
    assert all("risk" in c["reasons"] or "typical" in c["reasons"] for c in churn["customers"])
    assert {c["customer_id"] for c in churn["customers"]} <= shop_ids()
    coh = run_json(wpath, "cohorts")
    assert {"retention", "intervals", "weekday_hour", "category_trends", "anomalies"} == set(coh)
    assert coh["retention"][0]["months_since"] == 0


def test_profile_and_rules_json(wpath: Path, tmp_path: Path) -> None:
    listing = run_json(wpath, "profile", "--limit", "5")
    assert listing["count"] > 0 and len(listing["data"]) == 5
    first = listing["data"][0]
    assert {"segment", "clv", "clv_reason", "churn_risk", "churn_reasons", "next_best_action", "action_reason"} <= set(first)
    one = run_json(wpath, "profile", first["customer_id"])
    assert one["customer_id"] == first["customer_id"] and one["clv"] == pytest.approx(first["clv"])
    export = tmp_path / "rules.yaml"
    rules = run_json(wpath, "rules", "--apply", "--export", str(export))
    assert rules["rules"] and export.exists()
    assert rules["tagged_customers"] > 0 and set(rules["tags"]) <= {r["rule_id"] for r in rules["rules"] if r["validated"]}


def test_profile_errors(wpath: Path) -> None:
    result = runner.invoke(app, ["-w", str(wpath), "customers", "profile", "no-such-customer"])
    assert result.exit_code != 0 and "not in the warehouse" in str(result.exception)
    denied = sorted(no_consent_external(wpath))[0]
    result = runner.invoke(app, ["-w", str(wpath), "customers", "profile", denied])
    assert result.exit_code != 0 and "consent" in str(result.exception)
    result = runner.invoke(app, ["-w", str(wpath), "customers", "segments", "--min-k", "5", "--max-k", "3"])
    assert result.exit_code != 0 and "min-k" in str(result.exception)


def test_analyses_as_of_an_earlier_date_leave_what_is_served(demo_warehouse_path: Path, tmp_path: Path) -> None:
    """`rfm|segments|churn|cohorts --as-of` before the last purchase look back: their rows go to eval_* reports;
    the served tables (read by the profile, the API and the report) and the promoted models stay as they were."""
    from tests.served_state import served_state

    path = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    for command in ("rfm", "segments", "churn", "cohorts"):
        run_json(path, command)  # what is served: as of the latest data
    run_json(path, "rules", "--apply")
    before = served_state(path)
    assert {"customer_rfm", "customer_segments", "customer_churn", "cohort_retention", "customer_rules",
            "customer_rule_tags", "model:churn", "model:customer_segments"} <= set(before)
    rfm = run_json(path, "rfm", "--as-of", "2011-09-01")
    assert rfm["as_of"].startswith("2011-09-01") and rfm["evaluation"] and rfm["table"] == "eval_customer_rfm"
    for command in ("segments", "churn", "cohorts"):
        run_json(path, command, "--as-of", "2011-09-01")
    run_json(path, "rules", "--as-of", "2011-09-01", "--apply")  # tags are campaign audiences: never a past one
    assert served_state(path) == before
    with Warehouse(path, read_only=True) as wh:
        for table in ("customer_rfm", "customer_segments", "customer_churn", "cohort_retention", "customer_rules",
                      "customer_rule_tags"):
            assert str(wh.table(f"eval_{table}")["as_of"].max().date()) == "2011-09-01" if "as_of" in \
                wh.columns(f"eval_{table}") else wh.row_count(f"eval_{table}") > 0, table
    assert not run_json(path, "rfm")["evaluation"]  # the default is the served run
