"""The event stream folded on Spark: a Structured Streaming job (``shoplens --engine spark events stream``).

The job reads an :class:`~shoplens.stream.source.EventSource` (files handed over from the
collector's durable log, or Segment / RudderStack calls) as a stream and, for every micro-batch
(``foreachBatch``), runs the collector's own fold, :meth:`Collector.fold_records
<shoplens.stream.collector.Collector.fold_records>`, on the Spark warehouse: identity links,
products, orders and events go through :func:`shoplens.ingest.ingest`, which on Spark validates,
de-duplicates and writes the Parquet tables (and the DuckDB copy the warehouse keeps of them); the
changes the fold makes in place (stitching moves an identified visitor's rows to the customer, a
refund re-statuses an order) are made on that copy and carried to the Parquet tables by
:func:`shoplens.store.storage.sync`. Nothing is computed twice: the aggregates (events, stitched
identities, orders and lines from ``Order Completed``, the rows funnels read) are those of the
DuckDB path, which ``tests/spark/test_stream_spark.py`` checks on the same events.

Exactly once: the checkpoint folder records the files each micro-batch read and the batches that
finished. A restart with the same checkpoint reads only files it has not read; a batch cut short
before it was recorded as finished is read again after a restart, and the fold skips the message ids
the warehouse already holds (orders by their id), so nothing is counted twice.

Scale: the lines of one micro-batch are parsed in the driver (``max_files`` per batch bounds them);
validation, de-duplication against the stored tables and the writes run on Spark. Lookups the fold
makes (known products, orders, message ids) read the DuckDB copy.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoplens.errors import ConfigError, ShoplensError
from shoplens.store.files import private_dir
from shoplens.store.warehouse import Warehouse, utcnow
from shoplens.stream.collector import Collector, FoldResult, Rejected
from shoplens.stream.source import EventSource, records_of


@dataclass
class StreamResult:
    """What a run of the job did: micro-batches, lines read, lines rejected, and the folds' counts."""

    batches: int = 0
    lines: int = 0
    rejected: list[Rejected] = field(default_factory=list)  # index: the line's number within its batch
    folded: FoldResult = field(default_factory=FoldResult)
    synced: list[str] = field(default_factory=list)  # tables whose in-place changes were copied to Parquet

    def to_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "lines": self.lines, "rejected": len(self.rejected),
                "reasons": sorted({r.reason for r in self.rejected})[:10], "folded": self.folded.to_dict(),
                "synced": sorted(set(self.synced))}


def default_checkpoint(wh: Warehouse, source: EventSource) -> Path:
    """Where the job keeps its checkpoint for ``source`` unless told: beside the warehouse, one folder
    per warehouse file and source (``event-stream/<warehouse name>/<source hash>``)."""
    key = hashlib.sha1(source.describe().encode("utf-8")).hexdigest()[:12]
    return wh.home / "event-stream" / wh.path.stem / key


def _check_warehouse(wh: Warehouse) -> None:
    from shoplens.store.storage import read_state

    if wh.engine_name != "spark":
        raise ConfigError("`events stream` runs on Spark: add --engine spark (on DuckDB, `shoplens serve` "
                          "folds the events itself, and `shoplens events send` backfills a file)")
    state = read_state(wh)
    if state.canonical == "spark" and state.copy is None:
        raise ConfigError(f"{wh.path}: this Spark warehouse keeps no DuckDB copy of its tables, which the fold "
                          "reads and stitches; ingest once without --no-mirror (or `shoplens migrate --to duckdb` "
                          "and back) before streaming into it")


def run_stream(wh: Warehouse, settings: Any, source: EventSource, *, checkpoint: str | Path | None = None,
               follow: bool = False, interval: float = 1.0, timeout: float | None = None,
               on_batch: Callable[[int, StreamResult], None] | None = None) -> StreamResult:
    """Fold ``source`` into the Spark warehouse ``wh`` with Structured Streaming (see the module doc).

    ``follow=False``: every file there now, in micro-batches, then stop (``availableNow``);
    ``follow=True``: a micro-batch every ``interval`` seconds until ``timeout`` seconds pass (``None``:
    until interrupted). ``on_batch(batch_id, result so far)`` runs after each micro-batch.
    """
    from shoplens.store.storage import sync

    _check_warehouse(wh)
    spark = wh.engine.spark
    collector = Collector(wh, settings, fold_only=True)
    result = StreamResult()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def fold_batch(frame: Any, batch_id: int) -> None:
        try:
            lines = [row[0] for row in frame.select("value").collect()]
            records, rejected = records_of(lines, source.format, collector, utcnow())
            with lock:
                folded = collector.fold_records(wh, records) if records else FoldResult()
                if folded.stitched_rows or folded.refunds or folded.guests_merged:
                    result.synced += sync(wh).to_parquet  # the fold's in-place changes, to the Parquet tables
                result.batches += 1
                result.lines += len(lines)
                result.rejected += rejected
                result.folded.add(folded)
            if on_batch is not None:
                on_batch(batch_id, result)
        except BaseException as exc:  # Spark wraps it; keep the original for the caller
            errors.append(exc)
            raise

    folder = Path(checkpoint) if checkpoint is not None else default_checkpoint(wh, source)
    private_dir(folder.parent)  # owner-only, like every folder shoplens makes beside the warehouse
    writer = (source.read_stream(spark).writeStream.queryName(f"shoplens-events-{wh.path.stem}")
              .foreachBatch(fold_batch).option("checkpointLocation", str(folder.absolute())))
    writer = writer.trigger(processingTime=f"{interval} seconds") if follow else writer.trigger(availableNow=True)
    query = writer.start()
    try:
        if follow:
            query.awaitTermination(timeout)
        else:
            query.awaitTermination()
    except Exception as exc:
        if errors and isinstance(errors[0], ShoplensError):
            raise errors[0] from None
        raise ShoplensError(f"the event stream stopped: {str(errors[0] if errors else exc).splitlines()[0]}") from exc
    finally:
        if query.isActive:
            query.stop()
        collector.close()
    if errors:
        raise errors[0]
    return result
