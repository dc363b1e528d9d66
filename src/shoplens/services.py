"""Application services: what the CLI, the REST API, the demo and the benches do, written once.

Each function is one thing a user asks of shoplens (open the shop's warehouse, load files,
show a customer, recommend, retrain) expressed over the capability packages. The interfaces
stay thin: they parse their input, call one service and format the answer. This layer sits
above the capabilities (ingest, privacy, store, the models, insights, monitor) and below the
interfaces (``cli``, ``serve``, ``demo``); no capability imports it.

* :func:`open_warehouse` is the one place a :class:`~shoplens.store.warehouse.Warehouse` is
  built from :class:`~shoplens.config.Settings` (engine, memory limit, threads, Spark URLs).
* :func:`ingest_files` loads files with the shop's privacy policy from those settings on every
  write (``privacy="off"`` is the logged opt-out); :func:`ingest_demo_shop` loads the bundled shop.
* :func:`customer_profile`, :func:`customer_profiles`, :func:`customer_360` and :func:`recommend`
  answer with the shop's own customer ids, consent checked.
* :func:`refresh_results`, :func:`write_report` and :func:`check_alerts` are the scheduled jobs of
  ``shoplens serve`` (and ``shoplens alerts check``).
* :func:`trainers` maps each retrainable model to its training function (references, not
  names); :func:`retrain_models` hands them to :func:`shoplens.monitor.retrain.retrain`.

>>> import pathlib, tempfile
>>> from shoplens.config import Settings
>>> from shoplens.privacy.ids import to_internal
>>> settings = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb",
...                     secret="doctest-secret-0123456789abcdefghijklmnop")
>>> with open_warehouse(settings) as wh:
...     results = ingest_demo_shop(settings, wh)
...     shop_ids_stored = wh.con.execute("SELECT count(*) FROM orders WHERE customer_id = '17850'").fetchone()[0]
...     pseudonyms = wh.con.execute("SELECT count(*) FROM orders WHERE customer_id = ?",
...                                 to_internal(wh, ["17850"])).fetchone()[0]
>>> [r.table for r in results]
['customers', 'order_items', 'reviews', 'support_messages']
>>> shop_ids_stored, pseudonyms > 0  # the privacy policy applied on the way in: pseudonyms only
(0, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shoplens.config import Settings
from shoplens.store.warehouse import Warehouse

if TYPE_CHECKING:  # imported where used: the CLI starts without loading every capability
    import pandas as pd
    from rich.console import Console

    from shoplens.ingest import IngestResult
    from shoplens.ingest.loader import Progress
    from shoplens.recs.base import RecFilters, Recommender

Trainer = Callable[[Warehouse], object]


def open_warehouse(settings: Settings, *, read_only: bool = False, engine: str | None = None,
                   check_storage: bool = True) -> Warehouse:
    """The shop's warehouse as ``settings`` describe it (file, engine, memory limit, threads, Spark).

    ``engine`` overrides ``settings.engine`` (the API server always reads through DuckDB);
    ``check_storage=False`` opens a warehouse only to look at it (see :class:`Warehouse`).

    >>> import pathlib, tempfile
    >>> s = Settings(warehouse=pathlib.Path(tempfile.mkdtemp()) / "w.duckdb", memory_limit="512MB")
    >>> with open_warehouse(s) as wh:
    ...     wh.engine_name, wh.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    ('duckdb', '488.2 MiB')
    """
    return Warehouse(settings.warehouse, read_only=read_only, memory_limit=settings.memory_limit,
                     threads=settings.threads, engine=engine or settings.engine, spark_master=settings.spark_master,
                     spark_remote=settings.spark_remote, check_storage=check_storage)


def ingest_files(
    settings: Settings,
    wh: Warehouse,
    files: Sequence[str | Path],
    *,
    table: str | None = None,
    preset: str | None = None,
    mapping: str | Path | None = None,
    strict: bool = False,
    encoding: str | None = None,
    privacy: Literal["on", "off"] = "on",
    progress: Progress | None = None,
    mirror: bool = True,
) -> IngestResult:
    """Load ``files`` into ``wh`` under the shop's settings: the privacy policy of ``settings``
    (pseudonyms with the shop secret, masking) applies before anything is written, and
    timestamps later than ``settings.max_future_days`` are quarantined. ``privacy="off"`` writes
    personal data as it came (refused on a pseudonymised warehouse; recorded and announced).
    The other arguments are those of :func:`shoplens.ingest.ingest`.

    >>> import pathlib, tempfile
    >>> from shoplens.config import Settings
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "orders.csv").write_text("order_id,customer_id,ordered_at,total_amount\\nA1,c1,2011-01-02,12.5\\n")
    >>> settings = Settings(warehouse=folder / "w.duckdb", secret="doctest-secret-0123456789abcdefghijklmnop")
    >>> with open_warehouse(settings) as wh:
    ...     result = ingest_files(settings, wh, [folder / "orders.csv"], table="orders")
    ...     stored = wh.query("SELECT customer_id FROM orders")["customer_id"].tolist()
    >>> result.loaded, stored != ["c1"]  # stored under a pseudonym, never the shop's id
    (1, True)
    """
    from shoplens.ingest import ingest
    from shoplens.privacy.keys import KEY_FILE_NAME

    key_file = wh.home / KEY_FILE_NAME
    had_key = key_file.exists()
    try:
        return ingest(wh, files, table=table, preset=preset, mapping=mapping, strict=strict, encoding=encoding,
                      max_future_days=settings.max_future_days, progress=progress, mirror=mirror,
                      settings=settings, privacy=privacy)
    except BaseException:
        if not had_key and key_file.exists():
            _forget_unused_key(wh, key_file)
        raise


def _forget_unused_key(wh: Warehouse, key_file: Path) -> None:
    """After a failed first ingest: remove the key file this ingest created, and the fingerprint it
    recorded, when nothing was written with the key (no rows in any shop table or the vault), so a
    failed first try leaves no ``shoplens.key`` behind and the next try starts clean."""
    from shoplens.schema import TABLES

    used = [t for t in (*TABLES, "_vault") if wh.has_table(t) and wh.row_count(t) > 0]
    if used:
        return
    if wh.has_table("_privacy_state"):
        wh.con.execute("DELETE FROM _privacy_state WHERE name = 'key_fingerprint'")
    key_file.unlink()


def demo_jobs(data_dir: Path | None = None) -> list[tuple[str | None, str | None, list[Path]]]:
    """(table, preset, files) of the bundled demo shop in load order (parents first), the files present.

    >>> [(t, p, [f.name for f in fs]) for t, p, fs in demo_jobs()][1]
    (None, 'online-retail', ['online_retail_sample.csv.gz'])
    """
    from shoplens.datasets import DEMO_FILES, demo_data_dir

    folder = data_dir or demo_data_dir()
    return [(table, preset, [folder / name]) for table, preset, name in DEMO_FILES if (folder / name).exists()]


def ingest_demo_shop(settings: Settings, wh: Warehouse, *, mirror: bool = True) -> list[IngestResult]:
    """Load the bundled demo shop into ``wh`` (every file, privacy policy applied); one result per file."""
    return [ingest_files(settings, wh, files, table=table, preset=preset, mirror=mirror)
            for table, preset, files in demo_jobs()]


def customer_profiles(wh: Warehouse, *, as_of: str | None = None, refresh: bool = False) -> pd.DataFrame:
    """The customer-360 profiles of the customers who allow it, most valuable first, with shop ids.

    ``refresh`` recomputes RFM, segments, CLV and churn first (see
    :func:`shoplens.customers.profile.build_profile`).
    """
    from shoplens.customers.output import exposable
    from shoplens.customers.profile import build_profile

    profile = build_profile(wh, as_of=as_of, refresh=refresh)
    return exposable(wh, profile.sort_values("clv", ascending=False, na_position="last"))


def customer_profile(wh: Warehouse, customer_id: str, *, as_of: str | None = None,
                     refresh: bool = False) -> pd.DataFrame:
    """One customer's customer-360 profile (one row) under the shop's id ``customer_id``, with their
    customer attributes (typed, by name) in the column ``attributes``.

    Raises :class:`~shoplens.errors.NotFoundError` for an id that is not a customer, and
    :class:`~shoplens.errors.UserInputError` (naming the reason) when the customer does not
    allow profiling.
    """
    from shoplens.customers.profile import build_profile
    from shoplens.errors import NotFoundError, UserInputError
    from shoplens.privacy.consent import _check_internal
    from shoplens.privacy.ids import to_internal

    profile = build_profile(wh, as_of=as_of, refresh=refresh)
    internal = to_internal(wh, [customer_id])[0]
    row = profile[profile["customer_id"].astype(str) == internal]
    if row.empty:
        raise NotFoundError(f"customer {customer_id!r} is not in the warehouse (check the id, or ingest their orders)")
    consent = _check_internal(wh, [internal], "profile")
    if internal not in consent:
        raise UserInputError(f"customer {customer_id!r}: {consent.reason(internal)}; no profile is shown")
    from shoplens.customers.attributes import customer_attributes

    return row.assign(customer_id=customer_id, attributes=[customer_attributes(wh, internal)])


def customer_360(wh: Warehouse, customer_id: str, *, consent_default: Any = None,
                 privacy_state: dict[str, str] | None = None) -> dict[str, Any]:
    """The customer 360 the API shows (:func:`shoplens.customers.profile.customer_360`) with, when the
    customer allows personalisation, their live behaviour counters under ``activity`` (events, views,
    basket adds, last seen, recently viewed, in the basket now: :func:`shoplens.recs.live.activity`).

    ``privacy_state``: the warehouse's privacy state when the caller holds it (a server reads it once).

    >>> wh = demo_warehouse()
    >>> customer_360(wh, "12348")["purchases"]["orders"]
    4
    >>> customer_360(wh, "12348")["activity"]  # the bundled shop loads no behaviour events
    {'events': 0, 'views': 0, 'carts': 0, 'last_seen': None, 'recently_viewed': [], 'in_cart': []}
    """
    from shoplens.customers.profile import customer_360 as profile_of
    from shoplens.privacy.ids import to_internal
    from shoplens.recs.live import activity

    internal = to_internal(wh, [customer_id], state=privacy_state)[0]  # once: this runs on API requests
    profile = profile_of(wh, customer_id, consent_default=consent_default, internal_id=internal)
    if profile.get("personalization_allowed"):  # the same consent rule as the scores beside it
        profile["activity"] = activity(wh, internal)
    return profile


def recommend(wh: Warehouse, customer_ids: Sequence[str], *, k: int = 10, filters: RecFilters | None = None,
              model: Recommender | None = None, consent_default: Any = None, live: bool = False) -> pd.DataFrame:
    """Top-``k`` products per customer with a reason each, from the promoted recommender unless
    ``model`` is given (shop ids in and out; customers without personalisation consent and
    unknown ids get the popular list); ``live`` also uses each one's latest behaviour events.
    See :func:`shoplens.recs.service.recommend`."""
    from shoplens.recs.service import recommend as recommend_for

    return recommend_for(wh, customer_ids, k=k, filters=filters, model=model, consent_default=consent_default,
                         live=live)


def trainers() -> dict[str, Trainer]:
    """Model name -> the capability function that trains it on all current data and registers it.

    One function may register several models (CLV fits three); retraining runs it once.

    >>> from shoplens.recs.service import train
    >>> trainers()["recs"] is train
    True
    """
    from shoplens.customers.churn import fit_churn
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.segments import build_segments
    from shoplens.recs.service import train

    return {
        "recs": train,
        "churn": fit_churn,
        "customer_segments": build_segments,
        "clv_bgnbd": fit_clv,
        "clv_pareto_nbd": fit_clv,
        "clv_gamma_gamma": fit_clv,
    }


def retrain_models(wh: Warehouse, *, if_stale: bool = False, max_age_days: int = 30,
                   console: Console | None = None,
                   using: Mapping[str, Trainer] | None = None) -> list[dict[str, Any]]:
    """Retrain the registered models (all, or with ``if_stale`` the stale or drifted ones) with
    :func:`trainers` (or ``using``), recording each decision; see :func:`shoplens.monitor.retrain.retrain`."""
    from shoplens.monitor.retrain import retrain

    return retrain(wh, trainers() if using is None else using, if_stale=if_stale, max_age_days=max_age_days,
                   console=console)



def refresh_results(wh: Warehouse) -> list[dict[str, Any]]:
    """Recompute the results that follow the data without retraining a model: the RFM scores, the
    drift checks, when it was built before, the customer profile (from the served models' results), and
    the rewards of campaign windows closed since (:func:`shoplens.campaigns.report.post_rewards`).
    Returns what was refreshed, with when (the scheduler's ``refresh`` job).

    >>> [r["result"] for r in refresh_results(demo_warehouse())]  # no profile built yet: RFM and drift
    ['customer_rfm', 'monitor_drift']
    """
    from shoplens.customers.profile import write_profile
    from shoplens.customers.rfm import compute_rfm
    from shoplens.monitor.drift import DRIFT_TABLE, check_drift

    if not wh.has_table("orders") or not wh.row_count("orders"):
        return []
    done = ["customer_rfm"]
    compute_rfm(wh)
    try:
        check_drift(wh)
        done.append(DRIFT_TABLE)
    except Exception as exc:  # too little history for a reference window: the other results still refresh
        from shoplens.errors import InsufficientDataError

        if not isinstance(exc, InsufficientDataError):
            raise
    if wh.has_table("customer_profile"):
        write_profile(wh)  # nothing is shown here: the table is what the job refreshes
        done.append("customer_profile")
    if wh.has_table("campaigns"):  # campaign windows closed since: their rewards into the decision log
        from shoplens.campaigns.campaign import list_campaigns
        from shoplens.campaigns.report import post_rewards

        posted = sum(post_rewards(wh, str(name))["posted"] for name in list_campaigns(wh)["name"])
        wh.mark_computed("campaign_rewards", "table", rows=posted)
        done.append("campaign_rewards")
    return [{"result": name, "computed_at": wh.computed_at(name)} for name in done]


def write_report(settings: Settings, wh: Warehouse, *, lang: Literal["en", "zh"] = "en",
                 path: str | Path | None = None) -> Path:
    """Write the HTML report (``shoplens report``) to ``path``, the ``[schedule] report_path`` or
    ``report.html`` beside the warehouse; ``wh`` open for writing (the file is recorded)."""
    from shoplens.insights.shop_report import build_shop_report, write_shop_report

    out = Path(path or settings.schedule.report_path or wh.home / "report.html")
    return write_shop_report(wh, out, build_shop_report(wh, lang=lang))


def check_alerts(settings: Settings, wh: Warehouse, *, deliver: bool = True,
                 **delivery: Any) -> dict[str, Any]:
    """Evaluate the alert rules now, store the new alerts and deliver every undelivered one to the
    ``[alerts] webhook_url`` (``shoplens alerts check``, the scheduler's ``alerts`` job).

    Returns ``{"new": [alert...], "quiet": {rule: why}, "delivered": n, "failed": n, "webhook": bool}``.
    A failed delivery is recorded and tried again at the next check; it never raises.
    ``delivery`` passes ``sleep``/``transport`` to :func:`shoplens.monitor.webhook.deliver` (tests).
    """
    from shoplens.monitor import alerts as rules
    from shoplens.monitor.webhook import deliver as post

    cfg = settings.alerts
    found, quiet = rules.evaluate(wh, cfg)
    new = rules.record(wh, found)
    delivered = failed = 0
    if deliver:
        for alert in rules.undelivered(wh):
            if cfg.webhook_url is None:
                rules.mark_delivery(wh, alert["alert_id"], "no webhook")
                continue
            result = post(cfg.webhook_url, {"source": "shoplens", **alert}, timeout_seconds=cfg.timeout_seconds,
                          retries=cfg.retries, backoff_seconds=cfg.backoff_seconds, **delivery)
            rules.mark_delivery(wh, alert["alert_id"], "delivered" if result.ok else "failed",
                                attempts=result.attempts, error=result.error)
            delivered, failed = delivered + result.ok, failed + (not result.ok)
    return {"new": [a.to_dict() for a in new], "quiet": quiet, "delivered": delivered, "failed": failed,
            "webhook": cfg.webhook_url is not None}
