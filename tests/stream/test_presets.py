"""Event presets and the `shoplens events send` command."""

from __future__ import annotations

import io
import json

import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.errors import UserInputError
from shoplens.stream.presets import read_calls, taobao_userbehavior

from tests.stream.conftest import SECRET


def test_taobao_rows_become_spec_calls():
    rows = io.StringIO("user_id,item_id,category_id,behavior_type,timestamp\n"
                       "5,11,3,pv,1511544070\n5,11,3,cart,1511544080\n5,11,3,fav,1511544085\n5,11,3,buy,1511544090\n"
                       "5,11,3,pv\n")
    calls = list(taobao_userbehavior(rows))
    assert [c.get("event") for c in calls[:4]] == ["Product Viewed", "Product Added", "Product Added to Wishlist",
                                                   "Order Completed"]
    assert all(c["userId"] == "5" and c["properties"] == {"product_id": "11", "category": "3"} for c in calls[:4])
    assert calls[4] == {"__invalid__": "line 6: expected 5 columns (user, item, category, behavior, timestamp)"}


def test_unknown_preset_and_missing_file_are_one_line_errors(tmp_path):
    (tmp_path / "x.csv").write_text("1,2,3,pv,1\n")
    with pytest.raises(UserInputError, match="unknown event preset 'shopify'"):
        list(read_calls(tmp_path / "x.csv", "shopify"))
    with pytest.raises(UserInputError, match="no such file"):
        list(read_calls(tmp_path / "nope.jsonl"))


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"SHOPLENS_SECRET": SECRET})


def test_events_send_a_jsonl_backfill_twice(tmp_path):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps({"type": "track", "event": "Product Viewed", "anonymousId": "a1", "messageId": "m1",
                         "properties": {"product_id": "p1"}, "timestamp": "2024-05-01T10:00:00Z"}),
             "{not json",
             json.dumps({"type": "identify", "userId": "c1", "anonymousId": "a1", "messageId": "m2"}),
             json.dumps({"type": "track", "userId": "c1"})]
    path.write_text("\n".join(lines) + "\n")
    warehouse = str(tmp_path / "w.duckdb")
    first = invoke("-w", warehouse, "events", "send", str(path), "--json")
    assert first.exit_code == 0, first.output
    answer = json.loads(first.output)
    assert (answer["accepted"], answer["duplicates"]) == (2, 0)
    assert [r["index"] for r in answer["rejected"]] == [1, 3]
    assert answer["rejected"][0]["reason"].startswith("line 2: not JSON")
    assert answer["folded"]["events"]["loaded"] == 1 and answer["folded"]["identities"] == 1
    again = invoke("-w", warehouse, "events", "send", str(path))
    assert again.exit_code == 0, again.output
    assert "0 event(s) accepted, 2 duplicate(s), 2 rejected." in again.output


def test_events_send_the_taobao_preset(tmp_path):
    path = tmp_path / "ub.csv"
    path.write_text("1,2268318,2520377,pv,1511544070\n1,2268318,2520377,buy,1511544090\n")
    out = invoke("-w", str(tmp_path / "w.duckdb"), "events", "send", "--preset", "taobao-userbehavior", str(path))
    assert out.exit_code == 0, out.output
    assert "2 event(s) accepted, 0 duplicate(s), 0 rejected." in out.output
