"""Request dependencies: values the hot path keeps until the server changes data."""

from __future__ import annotations

from types import SimpleNamespace

from shoplens.serve.cache import ResponseCache
from shoplens.serve.deps import until_data_changes


def test_a_kept_value_is_read_again_after_every_change_of_data():
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(responses=ResponseCache(), cache={})))
    reads = []

    def read() -> int:
        reads.append(1)
        return len(reads)

    assert until_data_changes(request, "x", read) == 1
    assert until_data_changes(request, "x", read) == 1 and len(reads) == 1  # no second read
    assert until_data_changes(request, "y", read) == 2  # another key, another value
    request.app.state.responses.clear()  # ingest, erasure, promotion, a scheduled job
    assert until_data_changes(request, "x", read) == 3
    request.app.state.responses.invalidate_customers(["c1"])  # a fold of behaviour events
    assert until_data_changes(request, "x", read) == 4
    off = ResponseCache(enabled=False)  # the response cache turned off still counts the changes
    request.app.state.responses = off
    until_data_changes(request, "x", read)
    off.clear()
    assert until_data_changes(request, "x", read) == 6


def test_a_value_computed_while_data_changed_is_not_kept():
    responses = ResponseCache()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(responses=responses, cache={})))

    def read_during_a_write() -> str:
        responses.clear()  # a write finished while the value was being read
        return "maybe stale"

    assert until_data_changes(request, "x", read_during_a_write) == "maybe stale"
    assert until_data_changes(request, "x", lambda: "fresh") == "fresh"
