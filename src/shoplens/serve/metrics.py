"""Prometheus metrics: request rate, latency, errors, model versions and data freshness.

Request figures are counted by the server middleware; model versions and data
freshness are read from the warehouse at scrape time.

>>> m = Metrics(lambda: None)
>>> m.observe("GET", "/api/v1/health", 200, 0.002)
>>> b"shoplens_http_requests_total" in m.render()
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from shoplens.store.warehouse import utcnow

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
# receive -> visible in the warehouse (the fold's commit), per collected event
VISIBLE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


class _WarehouseCollector:
    def __init__(self, open_wh: Callable[[], AbstractContextManager[Any] | None]) -> None:
        self.open_wh = open_wh

    def collect(self) -> Iterator[GaugeMetricFamily]:
        versions = GaugeMetricFamily("shoplens_model_version", "promoted version of each model", labels=["model"])
        age = GaugeMetricFamily("shoplens_data_age_seconds", "seconds since each table or model was computed",
                                labels=["name", "kind"])
        cm = self.open_wh()
        if cm is not None:
            with cm as wh:
                if wh.has_table("_models"):
                    for name, version in wh.con.execute(
                        "SELECT name, version FROM _models WHERE status = 'promoted'").fetchall():
                        versions.add_metric([name], float(version))
                now = utcnow()
                for name, kind, at in wh.con.execute("SELECT name, kind, computed_at FROM _computed").fetchall():
                    age.add_metric([name, kind or ""], (now - at).total_seconds())
        yield versions
        yield age


class Metrics:
    """The metrics of one app."""

    def __init__(self, open_wh: Callable[[], AbstractContextManager[Any] | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("shoplens_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.errors = Counter("shoplens_http_errors", "HTTP responses with status >= 500", ["route"],
                              registry=self.registry)
        self.latency = Histogram("shoplens_http_request_duration_seconds", "request latency", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.events = Counter("shoplens_events_folded", "collected events folded into the warehouse",
                              registry=self.registry)
        self.visible = Histogram("shoplens_event_visible_seconds", "seconds from receiving an event to its fold's commit",
                                 buckets=VISIBLE_BUCKETS, registry=self.registry)
        self.registry.register(_WarehouseCollector(open_wh))  # type: ignore[arg-type]

    def observe_fold(self, result: Any) -> None:
        """A fold callback (:class:`shoplens.stream.collector.FoldResult`): events folded, and how long each waited."""
        self.events.inc(len(result.visible_after))
        for seconds in result.visible_after:
            self.visible.observe(seconds)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 500:
            self.errors.labels(route).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
