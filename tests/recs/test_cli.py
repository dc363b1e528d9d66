"""`shoplens recs ...`: the acceptance CLI contract, consent and shop ids at the boundary, user errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.errors import UserInputError
from shoplens.privacy.ids import to_external
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse

runner = CliRunner()


@pytest.fixture(scope="module")
def wpath(demo_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo warehouse with a hybrid recommender trained up to 2011-11-01."""
    path = tmp_path_factory.mktemp("recs-cli") / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, path)
    result = runner.invoke(app, ["-w", str(path), "recs", "train", "--until", "2011-11-01", "--json"])
    assert result.exit_code == 0, result.output
    return path


def invoke(wpath: Path, *args: str) -> object:
    return runner.invoke(app, ["-w", str(wpath), "recs", *args])


def shop_ids(wpath: Path, consent: bool, n: int) -> list[str]:
    with Warehouse(wpath, read_only=True) as wh:
        ids = wh.query("SELECT o.customer_id FROM orders o JOIN customers c USING (customer_id) "
                       "WHERE c.consent_personalization = ? GROUP BY 1 ORDER BY count(*) DESC LIMIT ?",
                       [consent, n])["customer_id"].tolist()
        return to_external(wh, ids)


def test_train_json_and_registry(wpath: Path) -> None:
    with Warehouse(wpath, read_only=True) as wh:
        models = ModelRegistry(wh).list("recs")
    assert models["status"].tolist() == ["promoted"]
    assert models["kind"].iloc[0] == "recs.hybrid"
    assert str(models["data_end"].iloc[0]).startswith("2011-11-01")
    result = invoke(wpath, "train", "--model", "buy_again", "--until", "2011-06-01", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "buy_again" and out["version"] == 2 and out["until"].startswith("2011-06-01")
    assert str(out["data_end"]).startswith("2011-06-01")
    assert {"customers", "products", "interactions", "train_seconds"} <= set(out)
    with Warehouse(wpath) as wh:  # put the hybrid back for the other tests
        ModelRegistry(wh).promote("recs", 1)


def test_recommend_writes_the_contract_csv(wpath: Path, tmp_path: Path) -> None:
    personal = shop_ids(wpath, True, 3)
    refused = shop_ids(wpath, False, 1)
    users = tmp_path / "users.txt"
    users.write_text("\n".join(personal + refused + ["never-seen"]) + "\n")
    out = tmp_path / "out.csv"
    result = invoke(wpath, "recommend", "--users-file", str(users), "--k", "5", "--output", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # the refusing customer and the unknown one got lists that did not use their history
    assert summary["rows"] == 25 and summary["not_personalised"] == 2
    frame = pd.read_csv(out, dtype={"customer_id": str, "product_id": str})
    assert list(frame.columns) == ["customer_id", "rank", "product_id", "name", "score", "reason", "personalised"]
    with Warehouse(wpath, read_only=True) as wh:  # the product's own name beside its id
        names = wh.query("SELECT product_id, name FROM products").set_index("product_id")["name"]
    assert frame["name"].tolist() == frame["product_id"].map(names).tolist() and frame["name"].notna().all()
    assert frame["score"].between(0, 1).all()  # one scale: probabilities and shares, never popularity counts
    assert frame.groupby("customer_id")["personalised"].all().to_dict() == {
        **{c: True for c in personal}, refused[0]: False, "never-seen": False}
    assert frame["customer_id"].drop_duplicates().tolist() == personal + refused + ["never-seen"]  # shop ids, in order
    assert frame.groupby("customer_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    no_consent = frame[frame["customer_id"] == refused[0]]
    assert no_consent["reason"].eq("popular now (not personalised)").all()
    unknown = frame[frame["customer_id"] == "never-seen"]
    assert no_consent["product_id"].tolist() == unknown["product_id"].tolist()  # the same non-personal list
    assert unknown["reason"].eq("popular now (not personalised)").all()  # an unknown id is a cold start
    mine = frame[frame["customer_id"].isin(personal)]
    assert mine["reason"].str.startswith(("you bought it", "because you ", "customers with similar")).mean() > 0.8
    # the popular list scores a product by the share of customers who took it, for consented and not alike
    assert no_consent["score"].tolist() == unknown["score"].tolist() and no_consent["score"].iloc[0] < 1


def test_recommend_one_customer_prints_the_same_list_as_the_file(wpath: Path, tmp_path: Path) -> None:
    personal = shop_ids(wpath, True, 1)[0]
    refused = shop_ids(wpath, False, 1)[0]
    users = tmp_path / "users.txt"
    users.write_text(personal + "\n")
    out = tmp_path / "out.csv"
    assert invoke(wpath, "recommend", "--users-file", str(users), "--k", "5", "--output", str(out)).exit_code == 0
    from_file = pd.read_csv(out, dtype={"customer_id": str, "product_id": str})
    one = invoke(wpath, "recommend", personal, "--k", "5", "--json")
    assert one.exit_code == 0, one.output
    body = json.loads(one.stdout)
    assert body["customer"] == personal and body["personalised"] is True
    assert [r["product_id"] for r in body["recommendations"]] == from_file["product_id"].tolist()
    assert [r["rank"] for r in body["recommendations"]] == [1, 2, 3, 4, 5]
    assert all(r["name"] for r in body["recommendations"])  # readable: the product's name beside its id
    table = invoke(wpath, "recommend", refused, "--k", "3")
    assert table.exit_code == 0 and f"Recommendations for customer {refused}" in table.stdout
    assert "The popular list" in table.stdout
    assert json.loads(invoke(wpath, "recommend", refused, "--k", "3", "--json").stdout)["personalised"] is False
    odd = invoke(wpath, "recommend", "[b]new", "--k", "2")  # an id is text, never Rich markup
    assert odd.exit_code == 0 and "Recommendations for customer [b]new" in odd.stdout


def test_recommend_csv_cannot_run_spreadsheet_formulas(wpath: Path, tmp_path: Path) -> None:
    """Regression (#16 item 14): ids starting with =, +, -, @ were written as they came."""
    users = tmp_path / "users.txt"
    evil = ["=HYPERLINK(\"http://x\")", "+1+1", "@SUM(A1)", "-2+3"]
    users.write_text("\n".join(evil) + "\n")
    out = tmp_path / "out.csv"
    result = invoke(wpath, "recommend", "--users-file", str(users), "--k", "2", "--output", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype={"customer_id": str, "product_id": str})
    assert frame["customer_id"].drop_duplicates().tolist() == ["'" + e for e in evil]
    assert pd.api.types.is_numeric_dtype(frame["score"]) and pd.api.types.is_numeric_dtype(frame["rank"])


def test_recommend_exclude_purchased_and_csv_input(wpath: Path, tmp_path: Path) -> None:
    personal = shop_ids(wpath, True, 2)
    users = tmp_path / "users.csv"
    pd.DataFrame({"customer_id": personal, "note": ["x", "y"]}).to_csv(users, index=False)
    out = tmp_path / "out.csv"
    result = invoke(wpath, "recommend", "--users-file", str(users), "--k", "10", "--output", str(out),
                    "--exclude-purchased")
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str)
    assert len(frame) == 20
    assert not frame["reason"].str.startswith("you bought it").any()
    with Warehouse(wpath, read_only=True) as wh:
        from shoplens.privacy.ids import to_internal

        internal = dict(zip(to_internal(wh, personal), personal))
        bought = wh.query("SELECT DISTINCT o.customer_id, oi.product_id FROM orders o JOIN order_items oi USING (order_id) "
                          "WHERE oi.quantity > 0 AND o.ordered_at < '2011-11-01' AND o.customer_id IN (SELECT unnest(?))",
                          [list(internal)])  # what the model (trained up to 2011-11-01) knows was bought
    bought["customer_id"] = bought["customer_id"].map(internal)
    assert frame.merge(bought, on=["customer_id", "product_id"]).empty


def test_batch_score_writes_the_table(wpath: Path) -> None:
    result = invoke(wpath, "score", "--k", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    with Warehouse(wpath, read_only=True) as wh:
        table = wh.query("SELECT * FROM recommendations")
        customers = wh.query("SELECT count(DISTINCT customer_id) AS n FROM orders WHERE customer_id IS NOT NULL")["n"][0]
    assert rows == len(table) == 3 * customers
    assert {"customer_id", "rank", "product_id", "score", "reason", "model_version"} <= set(table.columns)


def test_evaluate_json_shape(wpath: Path) -> None:
    result = invoke(wpath, "evaluate", "--cutoff", "2011-11-01", "--k", "10",
                    "--models", "popularity,buy_again_baseline", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["k"] == 10 and out["cutoff"].startswith("2011-11-01") and out["protocol"] == "temporal"
    assert out["best"] == "buy_again_baseline"
    assert [m["model"] for m in out["models"]] == ["buy_again_baseline", "popularity"]
    for m in out["models"]:
        assert {"ndcg", "recall", "map", "hit_rate", "coverage", "novelty", "ndcg_repeat", "ndcg_new"} <= set(m)
        assert 0 <= m["ndcg"] <= 1
    last = invoke(wpath, "evaluate", "--protocol", "last-basket", "--models", "popularity", "--json")
    assert last.exit_code == 0, last.output
    assert json.loads(last.stdout)["protocol"] == "last-basket"


def test_similar_and_rules(wpath: Path) -> None:
    result = invoke(wpath, "similar", "--product", "22423", "--k", "4", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["similar"]) == 4 and out["bought_together"]
    positional = invoke(wpath, "similar", "22423", "--k", "4", "--json")  # like `customers profile ID`
    assert positional.exit_code == 0 and json.loads(positional.stdout) == out
    assert "give one PRODUCT" in str(invoke(wpath, "similar").exception)
    assert out["bought_together"][0]["confidence"] > 0
    rules = invoke(wpath, "rules", "--min-support", "0.01", "--min-baskets", "10", "--limit", "5", "--json")
    assert rules.exit_code == 0, rules.output
    data = json.loads(rules.stdout)
    assert data["count"] >= len(data["rules"]) > 0
    assert {"antecedent", "consequent", "support", "confidence", "lift", "baskets"} <= set(data["rules"][0])
    with Warehouse(wpath, read_only=True) as wh:
        assert wh.row_count("association_rules") == data["count"]
    one = invoke(wpath, "rules", "--min-baskets", "10", "--product", data["rules"][0]["antecedent"], "--json")
    assert all(data["rules"][0]["antecedent"] in r["antecedent"] for r in json.loads(one.stdout)["rules"])


def test_category_rules_and_why_none_pass(wpath: Path) -> None:
    rules = invoke(wpath, "rules", "--level", "category", "--json")
    assert rules.exit_code == 0, rules.output
    data = json.loads(rules.stdout)
    with Warehouse(wpath, read_only=True) as wh:
        categories = set(wh.query("SELECT DISTINCT coalesce(category, 'uncategorised') AS c FROM products")["c"])
        assert wh.row_count("association_rules_category") == data["count"] > 0
        served = wh.row_count("association_rules") if wh.has_table("association_rules") else None
    assert data["level"] == "category" and data["reason"] is None
    assert {r["antecedent"] for r in data["rules"]} | {r["consequent"] for r in data["rules"]} <= categories
    none = invoke(wpath, "rules", "--level", "category", "--min-lift", "50", "--json")
    assert json.loads(none.stdout)["count"] == 0
    assert "below --min-lift 50" in json.loads(none.stdout)["reason"]
    table = invoke(wpath, "rules", "--level", "category", "--min-baskets", "100000")
    assert "No rule passes the thresholds: no category is in 100,000 orders" in " ".join(table.stdout.split())
    with Warehouse(wpath, read_only=True) as wh:  # the served product rules are left as they were
        assert wh.row_count("association_rules_category") == 0
        assert (wh.row_count("association_rules") if wh.has_table("association_rules") else None) == served


@pytest.mark.parametrize("args, message", [
    (["train", "--until", "yesterday-ish"], "--until"),
    (["train", "--model", "magic"], "unknown model"),
    (["train", "--until", "1999-01-01"], "no orders or events"),
    (["recommend", "--users-file", "/nonexistent/users.txt", "--output", "o.csv"], "file not found"),
    (["recommend", "--users-file", __file__, "--output", "o.csv", "--k", "0"], "--k"),
    (["recommend"], "give one CUSTOMER id, or --users-file"),
    (["recommend", "12348", "--users-file", __file__, "--output", "o.csv"], "give one CUSTOMER id, or --users-file"),
    (["recommend", "--users-file", __file__], "--users-file needs --output"),
    (["evaluate", "--k", "10"], "--cutoff"),
    (["evaluate", "--cutoff", "2030-01-01"], "cutoff"),
    (["evaluate", "--cutoff", "2011-11-01", "--models", "nope"], "unknown model"),
    (["similar", "--product", "NO-SUCH-PRODUCT"], "unknown to this model"),
    (["rules", "--min-support", "2"], "min_support"),
])
def test_user_errors_are_user_input_errors(wpath: Path, args: list[str], message: str) -> None:
    result = invoke(wpath, *args)
    assert isinstance(result.exception, UserInputError), result.exception
    assert message in str(result.exception)


def test_user_error_exits_2_with_one_line_and_no_traceback(wpath: Path) -> None:
    env = {**os.environ, "SHOPLENS_SECRET": "test-secret-key-for-the-demo-suite-0123456789"}
    result = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "-w", str(wpath),
                             "recs", "similar", "--product", "NO-SUCH-PRODUCT"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 2, result.stderr
    assert "unknown to this model" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_recommend_needs_a_trained_model(demo_warehouse_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, path)
    users = tmp_path / "u.txt"
    users.write_text("17850\n")
    result = runner.invoke(app, ["-w", str(path), "recs", "recommend", "--users-file", str(users),
                                 "--output", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "shoplens recs train" in str(result.exception)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    result = runner.invoke(app, ["-w", str(path), "recs", "recommend", "--users-file", str(empty),
                                 "--output", str(tmp_path / "o.csv")])
    assert "no customer ids" in str(result.exception)


def test_erasure_reaches_the_recommender(wpath: Path, tmp_path: Path) -> None:
    from shoplens.privacy.erasure import erase
    from shoplens.privacy.ids import to_internal
    from shoplens.recs.service import load_model

    path = tmp_path / "w.duckdb"
    shutil.copy(wpath, path)
    shutil.copytree(wpath.parent / "models", tmp_path / "models")
    with Warehouse(path) as wh:
        wh.con.execute("UPDATE _models SET path = replace(path, ?, ?)", [str(wpath.parent), str(tmp_path)])
    customer = shop_ids(path, True, 1)[0]
    with Warehouse(path) as wh:
        internal = to_internal(wh, [customer])[0]
        assert internal in set(load_model(wh)[1].customers_)
        report = erase(wh, customer)
        assert report.total > 0
        _, model = load_model(wh)
    assert internal not in set(model.customers_)
    assert internal not in set(model.generators_["als"].customers_)


def test_update_folds_in_newer_orders(wpath: Path, tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    shutil.copy(wpath, path)
    shutil.copytree(wpath.parent / "models", tmp_path / "models")
    with Warehouse(path) as wh:
        wh.con.execute("UPDATE _models SET path = replace(path, ?, ?)", [str(wpath.parent), str(tmp_path)])
        newer = wh.query("SELECT count(DISTINCT customer_id) AS n FROM orders WHERE ordered_at >= '2011-11-01' "
                         "AND customer_id IS NOT NULL")["n"][0]
        before = ModelRegistry(wh).promoted_version("recs")
    result = runner.invoke(app, ["-w", str(path), "recs", "update", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["version"] > before and out["interactions"] > 0
    with Warehouse(path, read_only=True) as wh:
        assert ModelRegistry(wh).promoted_version("recs") == out["version"]
    assert 0 < out["customers_updated"] <= newer
    again = json.loads(runner.invoke(app, ["-w", str(path), "recs", "update", "--json"]).stdout)
    assert again["interactions"] == 0  # nothing newer than the folded-in data


def test_a_copied_warehouse_folder_serves_from_any_working_directory(demo_warehouse_path: Path, tmp_path: Path) -> None:
    """Model files are recorded relative to the warehouse folder: train with a relative --warehouse
    (as the demo does), copy the folder elsewhere, delete the original, recommend from another cwd."""
    env = {**os.environ, "SHOPLENS_SECRET": "test-secret-key-for-the-demo-suite-0123456789"}
    cli = [sys.executable, "-c", "from shoplens.cli import main; main()"]
    first = tmp_path / "first"
    (first / ".shoplens").mkdir(parents=True)
    shutil.copy(demo_warehouse_path, first / ".shoplens" / "warehouse.duckdb")
    trained = subprocess.run([*cli, "-w", ".shoplens/warehouse.duckdb", "recs", "train", "--model", "buy_again",
                              "--until", "2011-11-01", "--json"], cwd=first, capture_output=True, text=True,
                             timeout=600, env=env)
    assert trained.returncode == 0, trained.stderr
    moved = tmp_path / "elsewhere" / "shop"
    shutil.copytree(first / ".shoplens", moved / ".shoplens")
    shutil.rmtree(first)
    with Warehouse(moved / ".shoplens" / "warehouse.duckdb", read_only=True) as wh:
        assert wh.query("SELECT path FROM _models")["path"].tolist() == ["models/recs/1.pkl"]
    other = tmp_path / "somewhere-else"
    other.mkdir()
    (other / "users.txt").write_text("17850\n")
    result = subprocess.run([*cli, "-w", str(moved / ".shoplens" / "warehouse.duckdb"), "recs", "recommend",
                             "--users-file", "users.txt", "--k", "3", "--output", "out.csv", "--json"],
                            cwd=other, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == 3
    assert pd.read_csv(other / "out.csv", dtype=str)["customer_id"].tolist() == ["17850"] * 3


def test_evaluate_leaves_served_tables_and_models(wpath: Path) -> None:
    from tests.served_state import served_state

    assert invoke(wpath, "score", "--k", "3").exit_code == 0
    before = served_state(wpath)
    assert "model:recs" in before and "recommendations" in before
    result = invoke(wpath, "evaluate", "--cutoff", "2011-11-01", "--models", "popularity,buy_again", "--k", "5", "--json")
    assert result.exit_code == 0, result.output
    assert served_state(wpath) == before


def test_recommend_live_uses_the_latest_events_of_a_visitor(wpath: Path, tmp_path: Path) -> None:
    from shoplens.privacy.ids import to_internal
    from tests.serve.serve_helpers import copy_with_models

    path = tmp_path / "live" / "warehouse.duckdb"
    copy_with_models(wpath, path)
    before = json.loads(invoke(path, "recommend", "visitor-9", "--k", "3", "--live", "--json").stdout)
    assert before["personalised"] is False
    with Warehouse(path) as wh:
        wh.con.execute("INSERT INTO events (customer_id, session_id, event_type, product_id, occurred_at) "
                       "VALUES (?, 's1', 'view', '85123A', TIMESTAMP '2030-01-01 10:00')",
                       to_internal(wh, ["visitor-9"]))
    result = invoke(path, "recommend", "visitor-9", "--k", "3", "--live", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["customer"] == "visitor-9" and out["personalised"] is True
    assert {r["reason"] for r in out["recommendations"]} == {
        "because you viewed CREAM HANGING HEART T-LIGHT HOLDER (85123A)"}
    batch = json.loads(invoke(path, "recommend", "visitor-9", "--k", "3", "--json").stdout)
    assert batch["personalised"] is False  # without --live: the served model alone
