"""Behaviour analytics over the warehouse's ``events``: ordered funnels, retention cohorts,
top paths after an event, sessions and live counters (docs/behaviour.md).

Each analysis is one function taking a :class:`~shoplens.store.warehouse.Warehouse` and
returning a typed result; the CLI (``shoplens events ...``), the REST API
(``/api/v1/events/...``) and the dashboard call these same functions. They only read, so
they work on a warehouse opened read-only.
"""

from shoplens.behaviour.funnels import FunnelResult, funnel
from shoplens.behaviour.live import live_counters
from shoplens.behaviour.paths import PathsResult, top_paths
from shoplens.behaviour.retention import RetentionResult, retention
from shoplens.behaviour.sessions import SessionsResult, sessions

__all__ = ["FunnelResult", "PathsResult", "RetentionResult", "SessionsResult", "funnel", "live_counters", "retention",
           "sessions", "top_paths"]
