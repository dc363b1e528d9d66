"""The durable event log: accepted events on disk before the collector answers.

An append-only folder of JSON-lines segments beside the warehouse
(``<warehouse folder>/event-log/<warehouse name>/``, 0700, files 0600). :meth:`EventLog.append`
writes a whole request's events as one line (a JSON list: one encode per request and one decode
per request when folded, not one per event) and ``fsync``\\ s the segment (and, for a new segment, its
folder) before returning, so an event acknowledged with 200 survives a ``kill -9`` of the
server. The fold (:mod:`shoplens.stream.fold`) :meth:`~EventLog.rotate`\\ s to a new segment,
writes the closed ones into the warehouse and only then :meth:`~EventLog.remove`\\ s them:
a crash in between folds them again, and the fold skips message ids the warehouse already
holds. The log holds the checked events (ids as sent; never traits or context) only until
they are folded, usually for less than a second.

Hand-written rather than a queue library: what is needed is an fsync before the answer and a
delete after the warehouse commit, a few lines over plain files, in one process.

>>> import tempfile, pathlib
>>> log = EventLog(pathlib.Path(tempfile.mkdtemp()) / "log")
>>> log.append([{"k": "track", "p": {"event": "Product Viewed"}}])
>>> log.append([{"k": "page"}, {"k": "track"}], common={"r": "2024-05-01T10:00:00"})
>>> segments = log.rotate()
>>> [(r["k"], r.get("r")) for r in log.read(segments)]
[('track', None), ('page', '2024-05-01T10:00:00'), ('track', '2024-05-01T10:00:00')]
>>> log.remove(segments); log.rotate()
[]
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shoplens.store.files import FILE_MODE, private_dir

SEGMENT_GLOB = "segment-*.jsonl"


def log_folder(warehouse_path: Path) -> Path:
    """Where the event log of the warehouse file ``warehouse_path`` lives (one log per warehouse file)."""
    return warehouse_path.parent / "event-log" / warehouse_path.stem


def records_of_line(line: bytes | str) -> list[dict[str, Any]]:
    """The records of one log line (see :meth:`EventLog.read`); also what a reader of the log
    files other than this class uses (the Spark job, :mod:`shoplens.stream.spark_job`).

    >>> records_of_line('{"common": {"r": "2024-05-01T10:00:00"}, "records": [{"k": "page"}]}')
    [{'r': '2024-05-01T10:00:00', 'k': 'page'}]
    """
    parsed = json.loads(line)
    if isinstance(parsed, list):
        return parsed
    if "records" in parsed and "common" in parsed:
        common = parsed["common"]
        return [{**common, **record} for record in parsed["records"]]
    return [parsed]


class EventLog:
    """Append-only segments in ``folder`` (see the module doc). Thread-safe."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = private_dir(folder)
        self._lock = threading.Lock()
        numbers = [self._number(p) for p in self.folder.glob(SEGMENT_GLOB)]
        self._next = max(numbers, default=0) + 1
        self._current: Path | None = None
        self._fh: Any = None
        self.pending = sum(1 for _ in self.read(self.segments()))

    @staticmethod
    def _number(path: Path) -> int:
        return int(path.stem.split("-")[1])

    def segments(self) -> list[Path]:
        """Every segment on disk, oldest first."""
        return sorted(self.folder.glob(SEGMENT_GLOB), key=self._number)

    def append(self, records: list[dict[str, Any]], common: dict[str, Any] | None = None) -> None:
        """Write ``records`` and fsync: when this returns they are on disk. ``common``: fields every
        record of this call shares (the receive time), written once and given back to each by :meth:`read`."""
        if not records:
            return
        line: Any = {"common": common, "records": records} if common else records
        data = json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self._fh is None:
                self._open_segment()
            self._fh.write(data.encode("utf-8"))
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.pending += len(records)

    def _open_segment(self) -> None:
        self._current = self.folder / f"segment-{self._next:012d}.jsonl"
        self._next += 1
        fd = os.open(self._current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        self._fh = os.fdopen(fd, "ab")
        dir_fd = os.open(self.folder, os.O_RDONLY)  # the new file's name is durable too
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def rotate(self) -> list[Path]:
        """Close the segment being written; returns every closed segment (to fold), oldest first."""
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
            self.pending = 0
            return self.segments()

    def read(self, segments: list[Path]) -> Iterator[dict[str, Any]]:
        """The records of ``segments`` in order (a torn last line of a killed writer is skipped).
        A line is one request's records (a JSON list, or ``{"common": {...}, "records": [...]}``)
        or, as older logs wrote it, one record."""
        for path in segments:
            with open(path, "rb") as fh:
                for line in fh:
                    if not line.endswith(b"\n"):
                        continue
                    yield from records_of_line(line)

    def hand_over(self, folder: str | Path) -> list[Path]:
        """Close the segment being written and move every closed segment into ``folder``, for a
        reader that watches a folder (the Spark job, :mod:`shoplens.stream.spark_job`), instead of
        folding it here. Each file appears there whole, under a name never used before
        (``events-<ns>-<random>.jsonl``: a file source remembers the names it has read), by a rename
        on the same file system or a copy to a hidden name renamed when complete; returns the new paths.

        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> log = EventLog(root / "log")
        >>> log.append([{"k": "page", "m": "m1"}])
        >>> moved = log.hand_over(root / "spool")
        >>> [list(log.read(moved)), log.segments()]
        [[{'k': 'page', 'm': 'm1'}], []]
        """
        target = private_dir(folder)
        moved = []
        for path in self.rotate():
            name = f"events-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
            try:
                os.replace(path, target / name)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                hidden = target / f".{name}.part"  # readers of a folder skip names starting with "."
                shutil.copyfile(path, hidden)
                with open(hidden, "rb+") as fh:
                    os.fsync(fh.fileno())
                os.replace(hidden, target / name)
                path.unlink()
            moved.append(target / name)
        dir_fd = os.open(target, os.O_RDONLY)  # the new names are durable before the log forgets them
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return moved

    def remove(self, segments: list[Path]) -> None:
        """Delete folded segments."""
        for path in segments:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None
