"""The event stream on Spark (``shoplens --engine spark events stream``): the Structured Streaming
job folds the collector's durable log into a Spark warehouse with the same aggregates as the
DuckDB fold of the same events, and a restart or a replayed micro-batch counts nothing twice."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shoplens.behaviour.funnels import funnel
from shoplens.config import Settings
from shoplens.errors import ConfigError
from shoplens.privacy.ids import to_external
from shoplens.store.storage import in_sync
from shoplens.store.warehouse import Warehouse
from shoplens.stream.collector import Collector
from shoplens.stream.source import FolderSource
from shoplens.stream.spark_job import run_stream

SECRET = "spark-stream-test-secret-0123456789"

FIRST = [  # two anonymous visitors and a known customer's order
    {"type": "track", "event": "Product Viewed", "anonymousId": "d-1", "messageId": "e1", "timestamp": "2024-05-01T10:00:00Z",
     "properties": {"product_id": "p1", "name": "Mug", "price": 4.5, "category": "kitchen"}},
    {"type": "track", "event": "Product Added", "anonymousId": "d-1", "messageId": "e2", "timestamp": "2024-05-01T10:02:00Z",
     "properties": {"product_id": "p1"}},
    {"type": "page", "anonymousId": "d-2", "messageId": "e3", "timestamp": "2024-05-01T10:03:00Z", "name": "Home"},
    {"type": "track", "event": "Product Viewed", "userId": "u2", "messageId": "e4", "timestamp": "2024-05-01T11:00:00Z",
     "properties": {"product_id": "p2"}},
    {"type": "track", "event": "Order Completed", "userId": "u2", "messageId": "e5", "timestamp": "2024-05-01T11:05:00Z",
     "properties": {"order_id": "o-1", "total": 9.0, "currency": "EUR",
                    "products": [{"product_id": "p2", "quantity": 1, "price": 9.0}]}},
]
SECOND = [  # the visitor identifies (earlier history moves to u1), keeps browsing anonymously and orders
    {"type": "identify", "userId": "u1", "anonymousId": "d-1", "messageId": "e6", "timestamp": "2024-05-01T10:04:00Z"},
    {"type": "track", "event": "Product Viewed", "anonymousId": "d-1", "messageId": "e7", "timestamp": "2024-05-01T10:05:00Z",
     "properties": {"product_id": "p2"}},
    {"type": "track", "event": "Order Completed", "userId": "u1", "messageId": "e8", "timestamp": "2024-05-01T10:10:00Z",
     "properties": {"order_id": "o-2", "revenue": 13.5,
                    "products": [{"product_id": "p1", "quantity": 3, "price": 4.5}]}},
    {"type": "track", "event": "Order Refunded", "userId": "u2", "messageId": "e9", "timestamp": "2024-05-02T09:00:00Z",
     "properties": {"order_id": "o-1"}},
]
STEPS = ["Product Viewed", "Product Added", "Order Completed"]


def _aggregates(wh: Warehouse, read: str) -> dict[str, list]:
    """What the two folds must agree on, read with ``read`` (``duckdb``: the DuckDB tables; ``spark``:
    the Spark warehouse's Parquet tables, through Spark); customer ids as the shop's ids."""
    def query(sql: str) -> pd.DataFrame:
        return wh.query(sql) if read == "duckdb" else wh.engine.query(sql)

    def rows(frame: pd.DataFrame, ids: tuple[str, ...] = ("customer_id",)) -> list:
        for col in ids:
            frame[col] = to_external(wh, frame[col].tolist())
        frame = frame.astype(object).where(frame.notna(), None)
        return sorted(map(tuple, frame.values.tolist()), key=repr)

    return {
        "events": rows(query("SELECT customer_id, event_type, event_name, product_id, CAST(occurred_at AS VARCHAR) AS t, "
                             "message_id FROM events")),
        "orders": rows(query("SELECT order_id, customer_id, status, total_amount, currency FROM orders")),
        "order_items": rows(query("SELECT order_id, line_number, product_id, quantity, unit_price FROM order_items"), ()),
        "products": rows(query("SELECT product_id, name, category, price FROM products"), ()),
        "links": rows(wh.query("SELECT anonymous_id, customer_id, via, message_id FROM _identity_links"),
                      ("anonymous_id", "customer_id")),
        "funnel": [(s["event"], s["users"]) for s in funnel(wh, STEPS, window="1d").steps],
    }


def _fold_counts(result) -> dict[str, int]:
    return {"events": result.events.loaded, "orders": result.orders.loaded, "order_items": result.order_items.loaded,
            "products": result.products.loaded, "identities": result.identities,
            "stitched_rows": result.stitched_rows, "refunds": result.refunds}


def test_stream_on_spark_folds_like_duckdb_and_counts_a_replay_once(spark, tmp_path: Path):
    # the DuckDB path: the collector folds each request's events
    duck = Settings(warehouse=tmp_path / "duck" / "w.duckdb", secret=SECRET)
    with Warehouse(duck.warehouse) as wh:
        collector = Collector(wh, duck)
        folds = []
        for calls in (FIRST, SECOND):
            assert collector.collect(calls).accepted == len(calls)
            folds.append(collector.fold(wh))
        collector.close()
        expected = _aggregates(wh, "duckdb")
    duck_counts = _fold_counts(folds[0])
    for other in folds[1:]:
        for k, v in _fold_counts(other).items():
            duck_counts[k] += v

    # the Spark path: the same collector writes its durable log and hands each segment over to the job
    settings = Settings(warehouse=tmp_path / "spark" / "w.duckdb", secret=SECRET, engine="spark")
    spool = tmp_path / "spool"
    checkpoint = tmp_path / "checkpoint"
    with Warehouse(settings.warehouse, engine="spark", spark_master="local[2]") as wh:
        collector = Collector(wh, settings)
        for calls in (FIRST, SECOND):
            assert collector.collect(calls).accepted == len(calls)
            assert len(collector.log.hand_over(spool)) == 1
        collector.close()
        source = FolderSource(spool, max_files=1)  # one segment per micro-batch: stitching spans batches
        seen: list[int] = []
        result = run_stream(wh, settings, source, checkpoint=checkpoint, on_batch=lambda b, _: seen.append(b))
        assert seen == [0, 1] and result.batches == 2 and not result.rejected
        assert _fold_counts(result.folded) == duck_counts
        assert result.synced == ["events"]  # stitching moved rows in the DuckDB copy: carried to Parquet
        assert in_sync(wh)  # the Parquet tables and the DuckDB copy hold the same rows
        assert _aggregates(wh, "spark") == expected
        assert _aggregates(wh, "duckdb") == expected

        # the aggregates are right, not only alike
        events = expected["events"]
        assert len(events) == 8  # every track and page call (the refund too); the identify adds a link, no row
        assert sorted(e[5] for e in events if e[0] == "u1") == ["e1", "e2", "e7", "e8"]  # before and after the identify
        assert [(o[0], o[1], o[2]) for o in expected["orders"]] == [("o-1", "u2", "refunded"), ("o-2", "u1", "completed")]
        assert expected["funnel"] == [("Product Viewed", 2), ("Product Added", 1), ("Order Completed", 1)]

        # a restart with the same checkpoint reads nothing again
        again = run_stream(wh, settings, source, checkpoint=checkpoint)
        assert again.batches == 0

        # a micro-batch cut short before Spark recorded it as finished is replayed: nothing counted twice
        for name in ("1", ".1.crc"):  # as if the job was killed after the fold, before Spark wrote the record
            (checkpoint / "commits" / name).unlink(missing_ok=True)
        replay = run_stream(wh, settings, source, checkpoint=checkpoint)
        assert replay.batches == 1 and replay.folded.folded == len(SECOND) and replay.folded.skipped == len(SECOND)
        assert _fold_counts(replay.folded) == dict.fromkeys(duck_counts, 0)
        assert _aggregates(wh, "spark") == expected


def test_stream_cli_of_calls_checks_each_line_and_skips_resent_ids(spark, tmp_path: Path):
    """``shoplens --engine spark events stream --format calls`` (one Segment call per line, what a
    Kafka topic holds): each line is checked like the collector checks it, a bad line is rejected
    alone, a re-sent message id is stored once, and a second run reads no file twice."""
    from typer.testing import CliRunner

    from shoplens.cli import app

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    lines = [json.dumps(c) for c in FIRST[:4]] + ["{not json", json.dumps({"type": "track", "userId": "u9"}),
                                                  json.dumps(FIRST[0])]
    (inbox / "calls-1.jsonl").write_text("\n".join(lines) + "\n")
    (inbox / "_ignored.jsonl").write_text(json.dumps(FIRST[4]) + "\n")  # Spark skips names starting with "_"
    path = tmp_path / "w.duckdb"
    args = ["-w", str(path), "--engine", "spark", "events", "stream", "--from", str(inbox), "--format", "calls", "--json"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    out = json.loads(run.stdout)
    assert (out["batches"], out["lines"], out["rejected"]) == (1, 7, 2)
    assert any(r.startswith("track needs `event`") for r in out["reasons"])
    assert (out["folded"]["folded"], out["folded"]["skipped"], out["folded"]["events"]["loaded"]) == (5, 1, 4)
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and json.loads(again.stdout)["batches"] == 0
    with Warehouse(path, engine="spark", spark_master="local[2]") as wh:
        stored = wh.engine.query("SELECT message_id, event_type FROM events ORDER BY message_id")
    assert stored.values.tolist() == [["e1", "view"], ["e2", "cart"], ["e3", "page"], ["e4", "view"]]


def test_stream_needs_spark_and_a_folder(tmp_path: Path):
    from shoplens.errors import UserInputError
    from tests.ingest.helpers import run_cli

    settings = Settings(warehouse=tmp_path / "w.duckdb", secret=SECRET)
    with Warehouse(settings.warehouse) as wh, pytest.raises(ConfigError, match="--engine spark"):
        run_stream(wh, settings, FolderSource(tmp_path))
    with pytest.raises(UserInputError, match="--format 'kafka'"):
        FolderSource(tmp_path, format="kafka")
    proc = run_cli("-w", str(tmp_path / "w.duckdb"), "events", "stream", "--from", str(tmp_path))
    assert proc.returncode == 2 and "add --engine spark" in proc.stderr and "Traceback" not in proc.stderr
