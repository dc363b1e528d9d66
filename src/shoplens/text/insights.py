"""Questions answered from the text result tables (set-based DuckDB SQL).

- :func:`sentiment_trend`: sentiment per product or category per month;
- :func:`top_negative_aspects`: the most complained-about aspects per product, with quotes;
- :func:`emerging_complaints`: aspects whose negative share jumped versus the
  previous period, with a two-proportion z-test;
- :func:`intent_mix`: support intents over time;
- :func:`top_entities`: the most mentioned products, brands, order numbers, sizes, colours...;
- :func:`review_topics`: the stored review topics with size, negative share and example quotes.

Run ``shoplens text analyze`` (or :func:`shoplens.text.analyze.analyze_warehouse`) first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from scipy.stats import norm

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.warehouse import Warehouse
from shoplens.text.analyze import (ASPECTS_TABLE, ENTITIES_TABLE, MESSAGES_TABLE, REVIEW_TOPICS_TABLE,
                                   REVIEWS_TABLE, TOPICS_TABLE)
from shoplens.text.entities import ENTITY_TYPES

PERIODS = ("month", "quarter", "week")


def _need(wh: Warehouse, table: str) -> None:
    if not wh.has_table(table):
        raise InsufficientDataError(f"no {table} table yet; run `shoplens text analyze` first")


def _period(period: str) -> str:
    if period not in PERIODS:
        raise UserInputError(f"--period {period!r} is not supported; choose one of: {', '.join(PERIODS)}")
    return period


def sentiment_trend(wh: Warehouse, by: str = "category", *, period: str = "month",
                    product_id: str | None = None) -> pd.DataFrame:
    """Reviews, positive/negative share and mean P(positive) per ``by`` ('product', 'category' or 'all') per period.

    >>> from shoplens.text.analyze import analyze_warehouse
    >>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
    >>> _ = analyze_warehouse(wh)  # what `shoplens text analyze` does
    >>> trend = sentiment_trend(wh, by="category")
    >>> trend.columns.tolist()
    ['period', 'key', 'reviews', 'positive_share', 'negative_share', 'mean_score']
    >>> str(trend["period"].min().date())  # monthly periods from the first review
    '2010-12-01'
    """
    _need(wh, REVIEWS_TABLE)
    keys = {"product": "r.product_id", "category": "coalesce(p.category, 'unknown')", "all": "'all'"}
    if by not in keys:
        raise UserInputError(f"--by {by!r} is not supported; choose one of: {', '.join(keys)}")
    where, params = ("WHERE r.product_id = ?", [product_id]) if product_id else ("", [])
    return wh.query(
        f"""SELECT date_trunc('{_period(period)}', r.created_at)::DATE AS period, {keys[by]} AS key,
                   count(*) AS reviews,
                   avg(CASE WHEN r.sentiment = 'positive' THEN 1 ELSE 0 END) AS positive_share,
                   avg(CASE WHEN r.sentiment = 'negative' THEN 1 ELSE 0 END) AS negative_share,
                   avg(r.sentiment_score) AS mean_score
            FROM {REVIEWS_TABLE} r LEFT JOIN products p USING (product_id)
            {where} GROUP BY ALL HAVING period IS NOT NULL ORDER BY period, reviews DESC, key""", params)


def top_negative_aspects(wh: Warehouse, *, product_id: str | None = None, limit: int = 10,
                         quotes: int = 2, scorers: Mapping[str, Callable[[list[str]], np.ndarray]] | None = None
                         ) -> pd.DataFrame:
    """Per product and aspect: negative mentions, share negative, example quotes (most recent first).

    The counts are the stored mentions'; a quote is shown only when its own words read negative
    (:func:`shoplens.text.quotes.complaint_quote`: the most negative part of the evidence that names
    the aspect, its sentence not positive, cut at word boundaries), so a row may show fewer quotes.
    ``scorers``: P(positive) per language (default: the shipped sentiment models' clause reading)."""
    from shoplens.text.quotes import complaint_quotes

    _need(wh, ASPECTS_TABLE)
    where, params = ("AND a.product_id = ?", [product_id]) if product_id else ("", [])
    texts = "r.text" if wh.has_table("reviews") else "NULL"
    join = "LEFT JOIN reviews r USING (review_id)" if wh.has_table("reviews") else ""
    language = "t.language" if wh.has_table(REVIEWS_TABLE) else "NULL"
    join += f" LEFT JOIN {REVIEWS_TABLE} t USING (review_id)" if wh.has_table(REVIEWS_TABLE) else ""
    frame = wh.query(
        f"""WITH counts AS (
                SELECT a.product_id, a.aspect, count(*) AS mentions,
                       count(*) FILTER (WHERE a.polarity = 'negative') AS negative,
                       list({{'evidence': a.evidence, 'text': {texts}, 'language': {language}}}
                            ORDER BY a.created_at DESC, a.review_id) FILTER (WHERE a.polarity = 'negative') AS neg_quotes
                FROM {ASPECTS_TABLE} a {join} WHERE TRUE {where} GROUP BY ALL)
            SELECT c.product_id, p.name AS product, c.aspect, c.negative, c.mentions,
                   c.negative / c.mentions AS negative_share, list_slice(c.neg_quotes, 1, {max(int(quotes), 0) * 6}) AS quotes
            FROM counts c LEFT JOIN products p USING (product_id)
            WHERE c.negative > 0 ORDER BY c.negative DESC, negative_share DESC, c.product_id, c.aspect
            LIMIT {int(limit)}""", params)
    if not len(frame) or quotes <= 0:
        frame["quotes"] = [[] for _ in range(len(frame))]
        return frame
    if scorers is None:
        from shoplens.text.analyze import sentiment_scorers

        scorers = sentiment_scorers()
    from shoplens.text.aspects import AspectExtractor

    extractor = AspectExtractor()

    def names_aspect(part: str, aspect: str, lang: str) -> bool:
        return any(m["aspect"] == aspect for m in extractor.mentions(part, lang))

    frame["quotes"] = [complaint_quotes([{**m, "aspect": aspect} for m in (q if q is not None else [])], int(quotes),
                                        scorers, names_aspect) for q, aspect in zip(frame["quotes"], frame["aspect"])]
    return frame


def emerging_complaints(wh: Warehouse, *, period: str = "month", alpha: float = 0.05,
                        min_mentions: int = 5, at: str | None = None) -> pd.DataFrame:
    """Aspects whose negative share rose in the latest period (or ``at``) versus the one before.

    One-sided two-proportion z-test of H0 "same negative share"; ``significant``
    when p < ``alpha`` and both periods have ``min_mentions`` mentions.
    """
    _need(wh, ASPECTS_TABLE)
    p = _period(period)
    counts = wh.query(
        f"""SELECT date_trunc('{p}', created_at)::DATE AS period, aspect, count(*) AS mentions,
                   count(*) FILTER (WHERE polarity = 'negative') AS negative
            FROM {ASPECTS_TABLE} WHERE created_at IS NOT NULL GROUP BY ALL""")
    if counts.empty:
        raise InsufficientDataError("no aspect mentions with dates to compare")
    periods = sorted(counts["period"].unique())
    current = pd.Timestamp(at).to_period(p[0].upper() if p != "week" else "W").start_time.date() if at else periods[-1]
    if pd.Timestamp(current) not in {pd.Timestamp(x) for x in periods}:
        raise UserInputError(f"no aspect mentions in the {p} of {current}; periods run {periods[0]} .. {periods[-1]}")
    before = [x for x in periods if pd.Timestamp(x) < pd.Timestamp(current)]
    if not before:
        raise InsufficientDataError(f"{current} is the first {p}; nothing to compare with")
    prev = before[-1]
    cur = counts[pd.to_datetime(counts["period"]) == pd.Timestamp(current)].set_index("aspect")
    old = counts[pd.to_datetime(counts["period"]) == pd.Timestamp(prev)].set_index("aspect")
    out = cur[["mentions", "negative"]].join(old[["mentions", "negative"]], rsuffix="_previous", how="outer").fillna(0)
    n1, x1, n0, x0 = out["mentions"], out["negative"], out["mentions_previous"], out["negative_previous"]
    s1, s0 = x1 / n1.where(n1 > 0), x0 / n0.where(n0 > 0)
    pooled = (x1 + x0) / (n1 + n0)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1.where(n1 > 0) + 1 / n0.where(n0 > 0)))
    z = (s1 - s0) / se.where(se > 0)
    out = out.assign(period=pd.Timestamp(current).date(), previous_period=pd.Timestamp(prev).date(),
                     negative_share=s1, negative_share_previous=s0, change=s1 - s0, z=z, p_value=norm.sf(z))
    out["significant"] = (out["p_value"] < alpha) & (n1 >= min_mentions) & (n0 >= min_mentions) & (out["change"] > 0)
    cols = ["period", "previous_period", "mentions", "negative", "negative_share", "mentions_previous",
            "negative_previous", "negative_share_previous", "change", "z", "p_value", "significant"]
    return out.reset_index()[["aspect"] + cols].sort_values(["significant", "change"], ascending=False,
                                                            na_position="last").reset_index(drop=True)


def intent_mix(wh: Warehouse, *, period: str = "month") -> pd.DataFrame:
    """Customer messages per intent per period with the share of the period."""
    _need(wh, MESSAGES_TABLE)
    return wh.query(
        f"""WITH counts AS (
                SELECT date_trunc('{_period(period)}', created_at)::DATE AS period, intent, count(*) AS messages
                FROM {MESSAGES_TABLE} WHERE created_at IS NOT NULL GROUP BY ALL)
            SELECT period, intent, messages, messages / sum(messages) OVER (PARTITION BY period) AS share
            FROM counts ORDER BY period, messages DESC, intent""")


def top_entities(wh: Warehouse, *, type: str | None = None, source: str | None = None,
                 limit: int = 20) -> pd.DataFrame:
    """Most mentioned entity values (case-folded) per type: mentions and distinct reviews/messages."""
    _need(wh, ENTITIES_TABLE)
    where, params = ["TRUE"], []
    if type is not None:
        if type not in ENTITY_TYPES:
            raise UserInputError(f"--type {type!r} is not supported; choose one of: {', '.join(ENTITY_TYPES)}")
        where.append("type = ?")
        params.append(type)
    if source is not None:
        if source not in ("review", "message"):
            raise UserInputError(f"--source {source!r} is not supported; choose review or message")
        where.append("source = ?")
        params.append(source)
    return wh.query(
        f"""SELECT type, lower(value) AS value, count(*) AS mentions, count(DISTINCT source || ':' || id) AS texts,
                   count(*) FILTER (WHERE source = 'review') AS in_reviews,
                   count(*) FILTER (WHERE source = 'message') AS in_messages
            FROM {ENTITIES_TABLE} WHERE {' AND '.join(where)} GROUP BY ALL
            ORDER BY mentions DESC, type, value LIMIT {int(limit)}""", params)


def review_topics(wh: Warehouse, *, language: str | None = None, quotes: int = 2) -> pd.DataFrame:
    """Stored review topics: language, topic, name, terms, reviews, share, negative_share, example quotes."""
    _need(wh, TOPICS_TABLE)
    where, params = ("WHERE t.language = ?", [language]) if language else ("", [])
    frame = wh.query(
        f"""WITH sizes AS (
                SELECT a.language, a.topic, count(*) AS n,
                       avg(CASE WHEN r.sentiment = 'negative' THEN 1 ELSE 0 END) AS negative_share
                FROM {REVIEW_TOPICS_TABLE} a JOIN {REVIEWS_TABLE} r USING (review_id) GROUP BY ALL),
            totals AS (SELECT language, sum(n) AS total FROM sizes GROUP BY ALL)
            SELECT t.language, t.topic, t.name, t.terms, coalesce(s.n, 0) AS reviews,
                   coalesce(s.n, 0) / tt.total AS share, s.negative_share, t.example_review_ids
            FROM {TOPICS_TABLE} t LEFT JOIN sizes s USING (language, topic) LEFT JOIN totals tt USING (language)
            {where} ORDER BY t.language, reviews DESC, t.topic""", params)
    ids = sorted({i for xs in frame["example_review_ids"] for i in (xs if xs is not None else [])})
    texts = {}
    if ids:
        got = wh.query("SELECT review_id, text FROM reviews WHERE review_id IN (SELECT unnest(?))", [ids])
        texts = dict(zip(got["review_id"], got["text"]))
    frame["quotes"] = [[str(texts[i])[:120] for i in (xs if xs is not None else []) if texts.get(i)][:quotes]
                       for xs in frame["example_review_ids"]]
    return frame.drop(columns=["example_review_ids"])
