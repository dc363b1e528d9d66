"""The consumer side of the Spark job without Spark: the log handed over whole, lines read back as
the fold's records (log or calls), and ``events send --hand-over`` (tests/spark/test_stream_spark.py
runs the job itself)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.stream.log import EventLog
from shoplens.stream.source import EventSource, FolderSource, records_of


def test_hand_over_moves_closed_segments_whole_under_new_names(shop, tmp_path: Path):
    wh, _settings, collector = shop
    collector.collect([{"type": "page", "userId": "7", "messageId": "m1"}])
    first = collector.log.hand_over(tmp_path / "spool")
    collector.collect([{"type": "page", "userId": "7", "messageId": "m2"}])
    second = collector.log.hand_over(tmp_path / "spool")
    assert collector.log.segments() == [] and collector.pending == 0
    assert len(first) == len(second) == 1 and first[0].name != second[0].name
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == sorted([first[0].name, second[0].name])
    lines = first[0].read_text().splitlines() + second[0].read_text().splitlines()
    records, rejected = records_of(lines, "log", collector, datetime(2030, 1, 1))
    assert [r["m"] for r in records] == ["m1", "m2"] and not rejected
    assert all(r["r"] < "2030" for r in records)  # the log's receive time is kept, not the reader's


def test_a_restarted_log_never_reuses_a_handed_over_name(tmp_path: Path):
    names = set()
    for _ in range(2):  # a restarted writer numbers its segments from 1 again
        log = EventLog(tmp_path / "log")
        log.append([{"k": "page", "m": "x"}])
        names |= {p.name for p in log.hand_over(tmp_path / "spool")}
        log.close()
    assert len(names) == 2


def test_a_torn_log_line_is_rejected_and_calls_are_checked(shop):
    _wh, _settings, collector = shop
    good = json.dumps([{"k": "page", "m": "m1", "u": "7", "t": "page", "o": "2024-05-01T10:00:00", "r": "2024-05-01T10:00:01"}])
    records, rejected = records_of([good, good[:20]], "log", collector, datetime(2024, 5, 1))
    assert [r["m"] for r in records] == ["m1"] and [r.index for r in rejected] == [1]
    future = {"type": "page", "userId": "7", "timestamp": "2024-05-09T00:00:00Z"}
    records, rejected = records_of([json.dumps(future)], "calls", collector, datetime(2024, 5, 1))
    assert not records and "in the future" in rejected[0].reason  # the collector's own check


def test_folder_source_is_an_event_source():
    assert isinstance(FolderSource("x"), EventSource)


def test_send_hand_over_writes_the_log_to_a_folder_and_folds_nothing(shop, tmp_path: Path):
    wh, settings, collector = shop
    collector.close()
    wh.close()
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps({"type": "page", "userId": "7", "messageId": f"m{i}"}) for i in range(3)) + "\n")
    spool = tmp_path / "spool"
    run = CliRunner().invoke(app, ["-w", str(settings.warehouse), "events", "send", str(events), "--hand-over", str(spool)])
    assert run.exit_code == 0, run.output
    assert "3 event(s) accepted" in run.output and "Handed over to" in run.output
    lines = [line for p in spool.iterdir() for line in p.read_text().splitlines()]
    from shoplens.store.warehouse import Warehouse

    with Warehouse(settings.warehouse) as again:
        assert again.row_count("events") == 0
        records, _ = records_of(lines, "log", collector, datetime(2030, 1, 1))
    assert sorted(r["m"] for r in records) == ["m0", "m1", "m2"]
