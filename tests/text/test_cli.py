"""The `shoplens text ...` contract: file commands, training, warehouse commands and user errors (exit 2)."""

import json
import sys

import pandas as pd
import pytest

from shoplens.cli import main


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["shoplens", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture()
def reviews_csv(tmp_path):
    path = tmp_path / "reviews.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "body": ["物流很快，质量很好", "Terrible fabric, it ripped after one wash", "我要取消订单"],
                  }).to_csv(path, index=False)
    return path


def test_sentiment_file(monkeypatch, capsys, tmp_path, reviews_csv):
    out = tmp_path / "out" / "scored.csv"
    code, _, err = run(monkeypatch, capsys, "text", "sentiment", str(reviews_csv), "--column", "body", "--output", str(out))
    assert code == 0, err
    scored = pd.read_csv(out)
    assert list(scored.columns) == ["id", "body", "sentiment", "sentiment_score"]
    assert scored["sentiment"].tolist()[:2] == ["positive", "negative"]
    assert scored["sentiment_score"].between(0, 1).all()


def test_intent_and_aspects_files(monkeypatch, capsys, tmp_path, reviews_csv):
    out = tmp_path / "intents.csv"
    assert run(monkeypatch, capsys, "text", "intent", str(reviews_csv), "--column", "body", "--output", str(out))[0] == 0
    intents = pd.read_csv(out)
    assert list(intents.columns) == ["id", "body", "intent", "intent_score"] and intents["intent"][2] == "cancel_order"
    out = tmp_path / "aspects.jsonl"
    assert run(monkeypatch, capsys, "text", "aspects", str(reviews_csv), "--column", "body", "--output", str(out))[0] == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and rows[0]["id"] == "a"
    assert {a["aspect"] for a in rows[0]["aspects"]} == {"logistics", "quality"}
    assert all(set(a) == {"aspect", "polarity", "evidence"} for r in rows for a in r["aspects"])


@pytest.mark.parametrize("args,message", [
    (["--column", "text"], "no column 'text'"),
    (["--column", "body", "--lang", "fr"], "--lang 'fr'"),
])
def test_user_errors_exit_2(monkeypatch, capsys, tmp_path, reviews_csv, args, message):
    code, _, err = run(monkeypatch, capsys, "text", "sentiment", str(reviews_csv), *args, "--output", str(tmp_path / "o.csv"))
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_and_non_utf8_files_exit_2(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "text", "intent", str(tmp_path / "nope.csv"), "--column", "t", "--output", "o.csv")
    assert code == 2 and "file not found" in err
    bad = tmp_path / "gbk.csv"
    bad.write_bytes("text\n质量很好\n".encode("gbk"))
    code, _, err = run(monkeypatch, capsys, "text", "aspects", str(bad), "--column", "text", "--output", str(tmp_path / "o.jsonl"))
    assert code == 2 and "UTF-8" in err


def test_train_sentiment_from_star_ratings(monkeypatch, capsys, tmp_path):
    good = ["love it, great quality", "perfect fit and lovely colour", "beautiful, would buy again", "so soft and comfy"]
    bad = ["awful, fell apart", "cheap fabric, returned", "terrible fit, very disappointed", "ripped after one wash"]
    mid = ["it is ok", "fine, nothing special", "average quality", "decent but plain"]
    frame = pd.DataFrame({"review": (good + bad + mid) * 5, "stars": ([5] * 4 + [1] * 4 + [3] * 4) * 5})
    data = tmp_path / "mine.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "mine.pkl"
    code, out, err = run(monkeypatch, capsys, "text", "train", "sentiment", "--data", str(data), "--text-column", "review",
                         "--rating-column", "stars", "--output", str(model), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rows"] == 60 and report["classes"] == ["negative", "neutral", "positive"]
    assert report["language"] == "en"  # English reviews: the word n-gram recipe
    assert report["holdout_accuracy"] is not None
    scored = tmp_path / "scored.csv"
    assert run(monkeypatch, capsys, "text", "sentiment", str(data), "--column", "review", "--output", str(scored),
               "--model", str(model))[0] == 0
    assert (pd.read_csv(scored)["sentiment"] == pd.Series(["positive"] * 4 + ["negative"] * 4 + ["neutral"] * 4).repeat(1).tolist() * 5).mean() > 0.9
    code, _, err = run(monkeypatch, capsys, "text", "train", "sentiment", "--data", str(data), "--text-column", "review",
                       "--output", str(model))
    assert code == 2 and "--label-column or --rating-column" in err


def test_warehouse_commands(monkeypatch, capsys, analyzed_path):
    code, out, err = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "analyze", "--json")
    assert code == 0, err
    assert json.loads(out) == {"text_reviews": 0, "text_review_aspects": 0, "text_messages": 0, "text_entities": 0}
    code, out, err = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "analyze")
    assert code == 0, err
    assert "nothing new to score" in out and "rows added" not in out  # a sentence, not a table of zeros
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "entities", "--type", "order_id", "--json")
    ents = json.loads(out)
    assert code == 0 and ents and {e["type"] for e in ents} == {"order_id"} and ents[0]["in_messages"] > 0
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "topics", "--language", "en", "--json")
    topics = json.loads(out)
    assert code == 0 and len(topics) == 8 and {t["language"] for t in topics} == {"en"}
    assert all(t["quotes"] and t["name"] for t in topics)
    code, _, err = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "entities", "--type", "shoe")
    assert code == 2 and "--type" in err
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "complaints", "--limit", "3", "--json")
    top = json.loads(out)
    assert code == 0 and len(top) == 3 and top[0]["quotes"]
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "intents", "--json")
    assert code == 0 and {"period", "intent", "messages", "share"} <= set(json.loads(out)[0])
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "trend", "--by", "all", "--json")
    assert code == 0 and json.loads(out)[0]["key"] == "all"
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "emerging", "--period", "quarter", "--json")
    assert code == 0 and "p_value" in json.loads(out)[0]
    code, _, err = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "trend", "--period", "decade")
    assert code == 2 and "--period" in err


def test_insight_before_analyze_exit_2(monkeypatch, capsys, demo_warehouse_path):
    code, _, err = run(monkeypatch, capsys, "-w", str(demo_warehouse_path), "text", "complaints")
    assert code == 2 and "shoplens text analyze" in err


def test_train_sentiment_adapt_to_a_file_a_table_and_errors(monkeypatch, capsys, tmp_path, demo_warehouse_path):
    """`--adapt-to` reads unlabelled texts from a CSV or a warehouse table; unknown ones exit 2."""
    import shutil

    from shoplens.text.sentiment import SentimentModel

    pos = ["great quality love it", "love the colour", "perfect fit great", "excellent and soft", "great value love"]
    neg = ["terrible quality", "awful fit returned", "bad colour hate it", "poor and scratchy", "terrible value bad"]
    data = tmp_path / "labelled.csv"
    pd.DataFrame({"body": (pos + neg) * 4, "label": ([1] * 5 + [0] * 5) * 4}).to_csv(data, index=False)
    target = tmp_path / "shop.csv"
    pd.DataFrame({"review": ["terrible rider late", "awful rider", "rider great love it"] * 5}).to_csv(target, index=False)
    out = tmp_path / "m.pkl"
    train = ["text", "train", "sentiment", "--data", str(data), "--text-column", "body", "--label-column", "label",
             "-o", str(out), "--json"]
    code, stdout, err = run(monkeypatch, capsys, *train, "--adapt-to", str(target), "--adapt-column", "review")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["adapted_to"] == 15 and set(report["target_class_share"]) == {"negative", "positive"}
    assert SentimentModel.load(out).adapted_on_ == 15
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse_path, wh)
    code, stdout, err = run(monkeypatch, capsys, "-w", str(wh), *train, "--adapt-to", "reviews")
    assert code == 0, err
    assert json.loads(stdout)["adapted_to"] > 1000  # the demo shop's own reviews
    for bad, message in (("no such thing!", "no such file"), ("no_such_table", "no such file or warehouse table")):
        code, _, err = run(monkeypatch, capsys, "-w", str(wh), *train, "--adapt-to", bad)
        assert code == 2 and message in err and "Traceback" not in err
    code, _, err = run(monkeypatch, capsys, "-w", str(wh), *train, "--adapt-to", "reviews", "--adapt-column", "nope")
    assert code == 2 and "no column 'nope'" in err


def test_analyze_on_a_warehouse_without_texts_says_what_to_load(monkeypatch, capsys, tmp_path):
    from shoplens.store.warehouse import Warehouse

    path = tmp_path / "w.duckdb"
    with Warehouse(path):
        pass
    code, out, err = run(monkeypatch, capsys, "-w", str(path), "text", "analyze")
    assert code == 0, err
    assert "no reviews or support messages loaded yet" in out and "shoplens ingest reviews" in out
    assert "nothing new to score" not in out


def test_complaints_of_the_demo_say_their_product_links_are_assigned(monkeypatch, capsys, analyzed_path):
    """Quotes shown beside products: the demo's links are said to be assigned; quotes print as text."""
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "complaints", "--limit", "3")
    assert code == 0, err
    assert "Demo shop: the review texts are real" in out and "SOURCE.md" in out
    assert "['" not in out and " | " in out  # a cell of several quotes, not a Python list
    code, out, _ = run(monkeypatch, capsys, "-w", str(analyzed_path), "text", "complaints", "--limit", "3", "--json")
    assert code == 0 and "Demo shop" not in out and json.loads(out)
