"""The customer-360 profile: one row per customer combining behaviour, signals,
RFM and behavioural segments, lifetime value, churn risk and a next best action,
each score with its reason in words.

The profile is a join of the ``customer_*`` result tables (computed when
missing) and the feature table, so a new signal column from
:mod:`shoplens.customers.features` appears here without changes.

A next best action that contacts the customer with an offer or a campaign (marked
``marketing`` below) is proposed only to customers with marketing consent
(``marketing_allowed``, from :func:`shoplens.privacy.consent.consent_filter_sql`); the
others get the next action that needs no marketing consent.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> profile = build_profile(wh)  # computes the segments, CLV and churn risk it needs
>>> len(profile), profile.loc[0, ["segment", "risk_band", "next_best_action"]].tolist()
(1123, ['At risk', 'low', 'win-back offer'])
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from shoplens.customers.clv import ACTIVITY_DAYS, P_ALIVE_FALLBACK, P_ALIVE_MODEL
from shoplens.customers.data import has_table, last_order_date, parse_date
from shoplens.customers.features import FeatureCache, customer_features
from shoplens.privacy.consent import Default, consent_filter_sql
from shoplens.store.warehouse import EVALUATION_PREFIX, Warehouse, serves

# (action, condition, reason template); first match wins. Conditions are SQL over the joined profile.
# Actions in MARKETING_ACTIONS contact the customer with an offer or a campaign.
NEXT_BEST_ACTIONS: list[tuple[str, str, str]] = [
    ("welcome offer for a first purchase", "orders IS NULL", "'registered but never bought'"),
    ("personal recommendations", "orders IS NULL",
     "'registered but never bought; no marketing consent, so no offer'"),
    ("personal win-back call", "risk_band = 'high' AND clv_rank >= 0.8",
     "'valuable (12-month CLV ' || printf('%.0f', clv) || ', top 20%) and at high churn risk (' || printf('%.0f', churn_risk * 100) || '%)'"),
    ("service follow-up on the last negative review", "last_review_sentiment = 'negative' AND recency_days <= 180",
     "'last review was negative; a follow-up prevents churn and a public complaint'"),
    ("low-cost reactivation email", "risk_band = 'high'",
     "'high churn risk (' || printf('%.0f', churn_risk * 100) || '%) but modest value: keep the cost low'"),
    ("onboarding: second-order incentive", "segment IN ('New', 'Promising')",
     "'only ' || orders || ' order(s) so far: the second order is the biggest step to loyalty'"),
    ("loyalty reward and review request", "segment IN ('Champions', 'Loyal') AND risk_band = 'low'",
     "'a ' || segment || ' customer with low churn risk: reward, ask for a review, upsell'"),
    ("win-back offer", "segment IN ('At risk', 'Can''t lose', 'About to sleep')",
     "segment || ': ' || recency_days || ' days since the last order'"),
    ("personal recommendations", "TRUE",
     "CASE WHEN marketing_allowed THEN 'regular customer' ELSE 'no marketing consent, so no offer' END"
     " || ': recommend products from ' || coalesce(top_category, 'their favourite category')"),
]
MARKETING_ACTIONS = frozenset({"welcome offer for a first purchase", "personal win-back call",
                               "low-cost reactivation email", "onboarding: second-order incentive",
                               "loyalty reward and review request", "win-back offer"})


def _action_condition(action: str, condition: str) -> str:
    return f"({condition}) AND marketing_allowed" if action in MARKETING_ACTIONS else condition


# Columns of optional signals (name -> SQL type), NULL when the shop lacks the source.
OPTIONAL_COLUMNS = {"last_review_sentiment": "VARCHAR", "top_category": "VARCHAR", "reviews": "DOUBLE",
                    "support_contacts": "DOUBLE", "price_index": "DOUBLE"}


def _ensure(wh: Warehouse, as_of: date | None, cache: FeatureCache, *, past: bool = False) -> None:
    """Compute the result tables the profile joins when they are missing; for a ``past`` profile
    (as of a date before the latest data) always, as of that date: they go to the ``eval_*``
    reports the past profile joins, and what is served stays."""
    from shoplens.customers.churn import fit_churn
    from shoplens.customers.clv import fit_clv
    from shoplens.customers.rfm import compute_rfm
    from shoplens.customers.segments import build_segments

    if past or not has_table(wh, "customer_rfm"):
        compute_rfm(wh, as_of=as_of)
    if past or not has_table(wh, "customer_segments"):
        build_segments(wh, as_of=as_of, cache=cache)
    if past or not has_table(wh, "customer_clv"):
        fit_clv(wh, calibration_end=(as_of - pd.Timedelta(days=1)) if as_of else None, holdout=False)
    if past or not has_table(wh, "customer_churn"):
        fit_churn(wh, as_of=as_of, cache=cache)


def _profile_query(wh: Warehouse, as_of: str | date | None, refresh: bool,
                   cache: FeatureCache | None) -> tuple[str, date, pd.DataFrame]:
    """(SQL of the profile over the ``_features`` frame, as-of date, the features frame to register as ``_features``),
    after computing the result tables it joins when they are missing."""
    latest = last_order_date(wh)
    end = parse_date(as_of, "--as-of") or latest
    past = not serves(end, latest)
    if refresh and not past:
        for t in ("customer_rfm", "customer_segments", "customer_clv", "customer_churn"):
            wh.con.execute(f'DROP TABLE IF EXISTS "{t}"')
    cache = cache if cache is not None else FeatureCache()  # this call's steps share one set of features
    _ensure(wh, end, cache, past=past)
    prefix = EVALUATION_PREFIX if past else ""  # a past profile joins the results as of its own date
    features = customer_features(wh, end, cache=cache)
    # Signals a shop may lack (no reviews, no categories): NULL columns keep the action rules valid.
    missing = ", ".join(f"CAST(NULL AS {OPTIONAL_COLUMNS[c]}) AS {c}" for c in OPTIONAL_COLUMNS if c not in features)
    cases = " ".join(f"WHEN {_action_condition(a, cond)} THEN '{a}'" for a, cond, _ in NEXT_BEST_ACTIONS)
    reasons = " ".join(f"WHEN {_action_condition(a, cond)} THEN {reason}" for a, cond, reason in NEXT_BEST_ACTIONS)
    marketing = consent_filter_sql("campaign", column="ids.customer_id")
    # customer_clv written before p_alive could fall back (see clv.fit_clv) has no basis column
    basis = "v.p_alive_basis" if "p_alive_basis" in wh.columns(f"{prefix}customer_clv") else f"'{P_ALIVE_MODEL}'"
    # One statement from the joined results to the profile: a million customers' rows (with their
    # text reasons) reach pandas once, not once per step.
    sql = f"""
            WITH ids AS (SELECT customer_id FROM _features UNION SELECT customer_id FROM customers),
            joined AS (
                SELECT ids.customer_id, c.country, c.language, f.* EXCLUDE (customer_id),
                       r.segment, r.segment_zh, r.rfm_code, r.r_score, r.f_score, r.m_score,
                       s.segment_name AS behaviour_segment,
                       v.clv, v.p_alive, {basis} AS p_alive_basis, v.expected_purchases, v.expected_spend,
                       percent_rank() OVER (ORDER BY v.clv) AS clv_rank,
                       ch.churn_risk, ch.risk_band, ch.reasons AS churn_reasons,
                       {marketing} AS marketing_allowed
                FROM ids LEFT JOIN customers c USING (customer_id) LEFT JOIN _features f USING (customer_id)
                LEFT JOIN {prefix}customer_rfm r USING (customer_id) LEFT JOIN {prefix}customer_segments s USING (customer_id)
                LEFT JOIN {prefix}customer_clv v USING (customer_id) LEFT JOIN {prefix}customer_churn ch USING (customer_id)),
            _profile AS (SELECT *{", " + missing if missing else ""} FROM joined)
            SELECT *,
                CASE WHEN orders IS NULL THEN 'no purchase yet'
                     ELSE 'R' || r_score || ' F' || f_score || ' M' || m_score || ': last order '
                          || CASE WHEN recency_days = 0 THEN 'today' ELSE recency_days
                             || CASE WHEN recency_days = 1 THEN ' day ago' ELSE ' days ago' END END
                          || ', ' || orders || CASE WHEN orders = 1 THEN ' order, ' ELSE ' orders, ' END
                          || printf('%.0f', net_revenue) || ' net spend' END AS segment_reason,
                CASE WHEN clv IS NULL THEN NULL
                     ELSE 'expects ' || printf('%.1f', expected_purchases) || ' purchases in 12 months at about '
                          || printf('%.0f', expected_spend) || ' each'
                          || coalesce('; ' || printf('%.0f', p_alive * 100) || CASE WHEN p_alive_basis = '{P_ALIVE_FALLBACK}'
                                      THEN '% likely to buy within {ACTIVITY_DAYS} days' ELSE '% likely still active' END, '')
                     END AS clv_reason,
                CASE WHEN price_index IS NULL THEN NULL WHEN price_index < 0.9 THEN 'bargain hunter'
                     WHEN price_index > 1.1 THEN 'pays premium prices' ELSE 'pays typical prices' END AS price_sensitivity,
                CASE {cases} END AS next_best_action,
                CASE {reasons} END AS action_reason,
                TIMESTAMP '{end.isoformat()}' AS as_of
            FROM _profile ORDER BY customer_id"""
    return sql, end, features


def profile_table(wh: Warehouse, as_of: str | date | None) -> str:
    """The table a profile as of ``as_of`` goes to: ``customer_profile`` (served) as of the latest data,
    ``eval_customer_profile`` as of an earlier date (a look back is never served)."""
    latest = last_order_date(wh)
    return "customer_profile" if serves(parse_date(as_of, "--as-of") or latest, latest) \
        else EVALUATION_PREFIX + "customer_profile"


def write_profile(wh: Warehouse, *, as_of: str | date | None = None, refresh: bool = False,
                  cache: FeatureCache | None = None) -> int:
    """Compute the profile (as :func:`build_profile`) into ``customer_profile`` (see :func:`profile_table`)
    without reading it back; returns its number of rows. For callers that show a few rows (the demo, the
    scheduled refresh): a million profiles with their text reasons in pandas cost about 1 GB."""
    table = profile_table(wh, as_of)
    sql, end, features = _profile_query(wh, as_of, refresh, cache)
    wh.con.register("_features", features)
    try:
        # written by DuckDB straight from the query (a pandas copy of a million rows of text
        # reasons would be handed back to DuckDB otherwise)
        with wh.transaction() as con:
            con.execute(f'CREATE OR REPLACE TABLE {table} AS {sql}')
            rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
            wh.mark_computed(table, "customer" if table == "customer_profile" else "evaluation", rows, {"as_of": end})
    finally:
        wh.con.unregister("_features")
    return rows


def build_profile(wh: Warehouse, *, as_of: str | date | None = None, refresh: bool = False,
                  write: bool = True, cache: FeatureCache | None = None) -> pd.DataFrame:
    """One row per customer with every score and its reason; writes ``customer_profile``.

    ``refresh`` recomputes RFM, segments, CLV and churn first; otherwise existing results are reused.
    ``cache`` (:class:`~shoplens.customers.features.FeatureCache`) shares the customer features with other steps of the run.
    """
    if write:
        write_profile(wh, as_of=as_of, refresh=refresh, cache=cache)
        return wh.query(f"SELECT * FROM {profile_table(wh, as_of)} ORDER BY customer_id")
    sql, _, features = _profile_query(wh, as_of, refresh, cache)
    wh.con.register("_features", features)
    try:
        return wh.query(sql)
    finally:
        wh.con.unregister("_features")


PROFILE_CARD = ["customer_id", "country", "tenure_days", "orders", "aov", "net_revenue", "top_category", "price_sensitivity",
                "reviews", "last_review_sentiment", "support_contacts", "segment", "segment_zh", "segment_reason",
                "behaviour_segment", "clv", "clv_reason", "churn_risk", "churn_reasons", "next_best_action", "action_reason"]


def profile_card(profile: pd.DataFrame) -> pd.DataFrame:
    """The readable subset of profile columns (those present), for CLI and report."""
    extra = [c for c in ("review_sentiment_score", "last_negative_aspect", "top_support_intent") if c in profile]
    return profile[[c for c in PROFILE_CARD if c in profile] + extra]


SCORE_TABLES = ("customer_segments", "customer_rfm", "customer_clv", "customer_churn")


def _score_row(wh: Warehouse, table: str, customer: str, tables: set[str] | None = None) -> dict | None:
    """The customer's row of ``table``, None without one; ``tables``: the warehouse's tables, when known."""
    from shoplens.jsonsafe import records

    if not (table in tables if tables is not None else wh.has_table(table)):
        return None
    rows = records(wh.query(f'SELECT * EXCLUDE (customer_id) FROM "{table}" WHERE customer_id = ? LIMIT 1',
                            [customer]))
    return rows[0] if rows else None


def purchase_summary(wh: Warehouse, customer: str) -> dict:
    """Orders, net revenue (as defined in :mod:`shoplens.metrics`), first and last purchase and the
    currency of one customer (warehouse id), JSON-ready."""
    from shoplens.jsonsafe import clean, records
    from shoplens.metrics import customer_value_sql
    from shoplens.store.warehouse import first_row

    row = records(wh.con.execute(
        f"""SELECT orders, round(net_revenue, 2) AS net_revenue, first_order_at, last_order_at
            FROM ({customer_value_sql(customer='$customer')}) v""", {"customer": customer}).df())
    summary = row[0] if row else {"orders": 0, "net_revenue": 0.0, "first_order_at": None, "last_order_at": None}
    currency = first_row(wh.con.execute("SELECT min(currency) FROM orders WHERE customer_id = ?", [customer]))
    return clean({**summary, "currency": currency[0] if currency else None})


def customer_360(wh: Warehouse, customer_id: str, *, consent_default: Default = None,
                 internal_id: str | None = None) -> dict:
    """One customer (the shop's id) as the API shows them, JSON-ready: the masked profile, the customer's
    attributes (typed, by name: :mod:`shoplens.customers.attributes`), the purchase
    summary (:func:`purchase_summary`), net revenue by month and, only when the customer's consent
    allows personalisation, the segment, RFM, CLV and churn rows with when each was computed
    (otherwise a ``note``). NotFoundError for an id the warehouse does not know. ``internal_id``: the
    customer's warehouse id when the caller has mapped it already.

    >>> customer_360(demo_warehouse(), "12348")["purchases"]
    {'orders': 4, 'net_revenue': 1797.24, 'first_order_at': '2010-12-16T19:09:00', 'last_order_at': '2011-09-25T12:13:00', 'currency': 'GBP'}
    """
    from shoplens.errors import NotFoundError
    from shoplens.jsonsafe import clean, records
    from shoplens.metrics import revenue_orders_sql
    from shoplens.privacy.consent import _allowed_internal
    from shoplens.privacy.ids import to_internal
    from shoplens.privacy.operators import mask_value
    from shoplens.schema import TABLES

    internal = to_internal(wh, [customer_id])[0] if internal_id is None else internal_id
    found = wh.query("SELECT * FROM customers WHERE customer_id = ?", [internal])
    if found.empty:
        raise NotFoundError(f"no customer {customer_id!r} in the warehouse")
    base = records(found)[0]
    for column in (c.name for c in TABLES["customers"].columns if c.pii):
        if column in base:
            base[column] = None if base[column] is None else mask_value(str(base[column]))
    base["customer_id"] = customer_id
    from shoplens.store.shop import in_local_time, read_shop

    orders = in_local_time(revenue_orders_sql(customer="$customer"), ["ordered_at", "amount"], read_shop(wh).timezone)
    by_month = wh.con.execute(  # months in the shop's time zone
        f"""SELECT strftime(date_trunc('month', ordered_at), '%Y-%m') AS month, round(sum(amount), 2) AS revenue
            FROM ({orders}) m GROUP BY 1 ORDER BY 1""", {"customer": internal}).df()
    from shoplens.customers.attributes import customer_attributes

    profile: dict = {"customer_id": customer_id, "profile": base, "attributes": customer_attributes(wh, internal),
                     "purchases": purchase_summary(wh, internal), "orders_by_month": records(by_month)}
    personalised = bool(_allowed_internal(wh, [internal], "profile", default=consent_default))
    profile["personalization_allowed"] = personalised
    if personalised:
        tables = set(wh.tables())  # one catalogue read and one of _computed, not one per score table
        profile["segment"] = _score_row(wh, "customer_segments", internal, tables)
        if profile["segment"] and profile["segment"].get("segment_name"):
            from shoplens.customers.segments import segment_name_zh

            profile["segment"]["segment_name_zh"] = segment_name_zh(profile["segment"]["segment_name"])
        profile["rfm"] = _score_row(wh, "customer_rfm", internal, tables)
        profile["clv"] = _score_row(wh, "customer_clv", internal, tables)
        profile["churn"] = _score_row(wh, "customer_churn", internal, tables)
        computed = dict(wh.con.execute("SELECT name, max(computed_at) FROM _computed WHERE name IN (SELECT unnest(?)) "
                                       "GROUP BY name", [list(SCORE_TABLES)]).fetchall()) if "_computed" in tables else {}
        at = {t: computed.get(t) for t in SCORE_TABLES}
        profile["computed_at"] = {t: v.isoformat() if v else None for t, v in at.items()}
    else:
        profile["note"] = "this customer has not consented to personalisation: scores are not shown"
    return clean(profile)
