"""Webhook delivery against a local receiver: the JSON arrives, retries back off, failures are
results (never exceptions), and a failed alert is delivered at the next check."""

from __future__ import annotations

import httpx

from shoplens.config import AlertSettings, Settings
from shoplens.monitor import alerts as rules
from shoplens.monitor.webhook import deliver
from shoplens.services import check_alerts

from tests.monitor.receiver import Receiver, closed_port_url


def test_an_alert_arrives_as_json():
    with Receiver([200]) as r:
        result = deliver(r.url, {"kind": "drift", "evidence": {"psi": 0.4}})
    assert result.ok and result.attempts == 1 and result.status_code == 200
    assert r.received == [{"kind": "drift", "evidence": {"psi": 0.4}}]
    assert r.headers[0]["content-type"] == "application/json" and r.headers[0]["user-agent"].startswith("shoplens/")


def test_server_errors_are_retried_with_growing_waits():
    waits: list[float] = []
    with Receiver([503, 429, 200]) as r:
        result = deliver(r.url, {"n": 1}, retries=3, backoff_seconds=2, sleep=waits.append)
    assert result.ok and result.attempts == 3 and len(r.received) == 3
    assert waits == [2, 4]


def test_a_receiver_that_keeps_failing_gives_a_failed_result():
    waits: list[float] = []
    with Receiver([500]) as r:
        result = deliver(r.url, {"n": 1}, retries=2, backoff_seconds=1, sleep=waits.append)
    assert not result.ok and result.attempts == 3 and result.status_code == 500 and result.error == "HTTP 500"
    assert waits == [1, 2]


def test_a_refusal_is_final():
    with Receiver([400]) as r:
        result = deliver(r.url, {"n": 1}, retries=3, sleep=lambda s: None)
    assert not result.ok and result.attempts == 1 and result.error == "HTTP 400"


def test_nobody_listening_and_timeouts_do_not_raise():
    refused = deliver(closed_port_url(), {"n": 1}, retries=1, sleep=lambda s: None)
    assert not refused.ok and refused.attempts == 2 and "ConnectError" in refused.error

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    timed_out = deliver("http://hooks.invalid/x", {"n": 1}, retries=2, sleep=lambda s: None,
                        transport=httpx.MockTransport(slow))
    assert not timed_out.ok and timed_out.attempts == 3 and "ReadTimeout" in timed_out.error
    assert not deliver("not a url", {"n": 1}, retries=0).ok


def _kpi_drop(wh) -> None:
    wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                   "AND hash(order_id) % 5 <> 0")


def test_check_delivers_new_alerts_and_retries_failed_ones_at_the_next_check(demo_wh):
    _kpi_drop(demo_wh)
    down = Settings(warehouse=demo_wh.path, alerts=AlertSettings(webhook_url=closed_port_url(), retries=1))
    first = check_alerts(down, demo_wh, sleep=lambda s: None)
    assert first["new"] and first["failed"] == len(first["new"]) and first["delivered"] == 0
    assert set(rules.list_alerts(demo_wh)["delivery"]) == {"failed"}
    with Receiver([200]) as r:
        up = Settings(warehouse=demo_wh.path, alerts=AlertSettings(webhook_url=r.url))
        second = check_alerts(up, demo_wh)
    assert second["new"] == [] and second["delivered"] == len(first["new"])
    assert sorted(a["key"] for a in r.received) == sorted(a["key"] for a in first["new"])
    sent = r.received[0]
    assert sent["source"] == "shoplens" and sent["kind"] == "kpi_drop" and sent["evidence"]["usual_range"]
    assert sent["computed_at"]
    stored = rules.list_alerts(demo_wh)
    assert set(stored["delivery"]) == {"delivered"} and (stored["attempts"] == 3).all()
