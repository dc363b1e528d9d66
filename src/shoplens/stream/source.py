"""Where a streaming fold reads events: the consumer side of ``shoplens --engine spark events stream``.

An :class:`EventSource` gives Spark Structured Streaming a streaming DataFrame with one string
column ``value``, one line (or message) per row, in one of two formats:

- ``log``: lines of the collector's durable event log (:mod:`shoplens.stream.log`): events
  already checked, de-duplicated and stamped with their receive time by ``shoplens serve`` or
  ``shoplens events send``, handed over whole with :meth:`~shoplens.stream.log.EventLog.hand_over`;
- ``calls``: one Segment / RudderStack call per line, as a storefront sends it (what an
  ``events send`` file holds, and what a message of a Kafka topic fed by a Segment-style pipeline
  holds); each is checked by the job like the collector checks it
  (:meth:`~shoplens.stream.collector.Collector.check_call`).

:class:`FolderSource` (files appearing in a folder, Spark's file source) is the implementation
shipped and tested. A shop with Kafka implements the same two members over Spark's Kafka source
(docs/events.md, "Spark and Kafka"); that needs the ``spark-sql-kafka`` connector on Spark's class
path and was not tested here.

>>> FolderSource("/data/spool").describe()
'folder /data/spool (log, *.jsonl)'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from shoplens.errors import UserInputError
from shoplens.stream.log import records_of_line

if TYPE_CHECKING:  # pyspark is an optional extra
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession

    from shoplens.stream.collector import Collector, Rejected

FORMATS = ("log", "calls")


@runtime_checkable
class EventSource(Protocol):
    """What the Spark job needs from a source of events."""

    format: str  # "log" or "calls" (see the module doc)

    def read_stream(self, spark: SparkSession) -> SparkFrame:
        """A streaming DataFrame with a string column ``value``: one line or message per row."""

    def describe(self) -> str:
        """One line naming the source (shown by the CLI)."""


@dataclass
class FolderSource:
    """Files appearing in ``folder`` (Spark's file source; ``.gz`` files are read uncompressed).

    A file must appear whole (Spark reads each file once, when it first lists it): move it in with a
    rename, as :meth:`~shoplens.stream.log.EventLog.hand_over` does; names starting with ``.`` or
    ``_`` are skipped. ``max_files``: files per micro-batch (bounds what one batch holds in the
    driver); ``pattern``: the file names read.
    """

    folder: str | Path
    format: str = "log"
    max_files: int = 100
    pattern: str = "*.jsonl"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise UserInputError(f"--format {self.format!r}: use one of {', '.join(FORMATS)}")
        if self.max_files < 1:
            raise UserInputError(f"--max-files {self.max_files}: at least 1 file per micro-batch")

    def read_stream(self, spark: SparkSession) -> SparkFrame:
        folder = Path(self.folder)
        if not folder.is_dir():
            raise UserInputError(f"{folder}: no such folder (the folder the events arrive in; "
                                 "create it, or point --from at it)")
        return (spark.readStream.format("text").option("pathGlobFilter", self.pattern)
                .option("maxFilesPerTrigger", self.max_files).load(str(folder.absolute())))

    def describe(self) -> str:
        return f"folder {self.folder} ({self.format}, {self.pattern})"


def records_of(lines: Iterable[str], fmt: str, collector: Collector,
               received_at: datetime) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """The log records of one micro-batch's ``lines`` (``fmt``: ``log`` or ``calls``) and the lines
    rejected (index in ``lines``, reason). ``calls`` are checked as the collector checks them, with
    ``received_at`` as their receive time; a ``log`` line that is not JSON (the torn last line of a
    writer killed mid-write: nothing was acknowledged for it) is rejected.

    >>> import pathlib, tempfile
    >>> from shoplens.config import Settings
    >>> from shoplens.store.warehouse import Warehouse
    >>> from shoplens.stream.collector import Collector
    >>> s = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", secret="k8Jq2vN4wX7pL0zR5tY9mB3cF6hD1sGa")
    >>> with Warehouse(s.warehouse) as wh:
    ...     c = Collector(wh, s, fold_only=True)
    ...     records, rejected = records_of(['{"type": "page", "userId": "7", "messageId": "m1"}', '{"type": "track"',
    ...                                     '{"type": "track", "userId": "7"}'], "calls", c, datetime(2024, 5, 1))
    >>> [(r["k"], r["m"], r["r"]) for r in records]
    [('page', 'm1', '2024-05-01T00:00:00')]
    >>> [(r.index, r.reason.split(" (")[0]) for r in rejected]
    [(1, 'line 2: not JSON'), (2, 'track needs `event`')]
    """
    from shoplens.stream.collector import Rejected

    records: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    stamp = received_at.isoformat()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            if fmt == "log":
                records += records_of_line(line)
                continue
            payload = json.loads(line)
        except ValueError as exc:
            rejected.append(Rejected(i, f"line {i + 1}: not JSON ({exc})"))
            continue
        event, why = collector.check_call(payload, received_at=received_at)
        if event is None:
            rejected.append(Rejected(i, why or "invalid event"))
            continue
        record = event.to_record(received=False)
        record["r"] = stamp
        records.append(record)
    return records, rejected
