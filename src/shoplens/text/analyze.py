"""Score texts (files or the warehouse) with the shipped models.

Python API used by the CLI, the demo and later the REST API:

- :func:`score_sentiment`, :func:`score_intent`, :func:`extract_aspects`,
  :func:`analyze_reviews` (language, sentiment, aspects, entities);
- :func:`analyze_warehouse` scores new reviews and customer support messages
  into ``text_reviews``, ``text_review_aspects``, ``text_messages`` and
  ``text_entities`` (incrementally: rows already scored are kept, rows whose
  source is gone are dropped, so erasure reaches the results) and refits the
  review topics (``text_topics``, ``text_review_topics``, :func:`refit_topics`)
  when reviews changed; :func:`forget_customers` erases a customer's results.

>>> score_sentiment(["质量很好，物流也快", "terrible quality, returned it"])[["language", "sentiment"]].values.tolist()
[['zh', 'positive'], ['en', 'negative']]
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shoplens import __version__
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.privacy.consent import consent_filter_sql
from shoplens.store.warehouse import Warehouse, utcnow
from shoplens.text.aspects import AspectExtractor, default_extractor
from shoplens.text.entities import EntityExtractor
from shoplens.text.models import load_model
from shoplens.text.normalize import detect_languages
from shoplens.text.topics import discover_topics

LANG_CHOICES = ("auto", "zh", "en")
REVIEWS_TABLE = "text_reviews"
ASPECTS_TABLE = "text_review_aspects"
MESSAGES_TABLE = "text_messages"
ENTITIES_TABLE = "text_entities"
TOPICS_TABLE = "text_topics"
REVIEW_TOPICS_TABLE = "text_review_topics"


def languages_for(texts: Sequence[object], lang: str = "auto") -> list[str]:
    """Detected language per text, or ``lang`` for all when it is not 'auto'."""
    if lang not in LANG_CHOICES:
        raise UserInputError(f"--lang {lang!r} is not supported; choose one of: {', '.join(LANG_CHOICES)}")
    if lang != "auto":
        return [lang] * len(texts)
    return detect_languages(texts)


def _texts(texts: Sequence[object]) -> list[str]:
    return ["" if t is None or (isinstance(t, float) and t != t) else str(t) for t in texts]


def _model_for(language: str) -> str:
    return "zh_sentiment" if language == "zh" else "en_sentiment"  # Latin 'other' is read by the English model


def score_sentiment(texts: Sequence[object], lang: str = "auto", *,
                    models: dict[str, Any] | None = None) -> pd.DataFrame:
    """language, sentiment (positive/negative/neutral) and sentiment_score (P(positive)) per text."""
    texts = _texts(texts)
    langs = languages_for(texts, lang)
    sentiment = np.full(len(texts), "neutral", dtype=object)
    score = np.full(len(texts), np.nan)
    groups: dict[str, list[int]] = {}
    for i, (t, l) in enumerate(zip(texts, langs)):
        if t.strip():
            groups.setdefault(_model_for(l), []).append(i)
    for name, idx in groups.items():
        model = (models or {}).get(name) or load_model(name)
        labels, p = model.predict([texts[i] for i in idx])
        sentiment[idx] = labels
        score[idx] = p
    return pd.DataFrame({"language": langs, "sentiment": sentiment, "sentiment_score": score})


def sentiment_scorers(models: dict[str, Any] | None = None) -> dict[str, Callable[[list[str]], np.ndarray]]:
    """Clause scorers (P(positive)) per language, for aspect polarity."""
    get = lambda n: (models or {}).get(n) or load_model(n)  # noqa: E731
    scorer = lambda m: getattr(m, "clause_positive_proba", m.positive_proba)  # noqa: E731 (models before issue #20: text reading)
    return {"zh": scorer(get("zh_sentiment")), "en": scorer(get("en_sentiment"))}


def extract_aspects(texts: Sequence[object], lang: str = "auto", *, languages: Sequence[str] | None = None,
                    extractor: AspectExtractor | None = None) -> list[list[dict[str, str]]]:
    """[{aspect, polarity, evidence}] per text."""
    texts = _texts(texts)
    langs = list(languages) if languages is not None else languages_for(texts, lang)
    return (extractor or default_extractor()).extract(texts, langs, sentiment_scorers())


def score_intent(texts: Sequence[object], *, model: Any = None) -> pd.DataFrame:
    """intent (27 Bitext intents or 'other') and intent_score (confidence) per text."""
    texts = _texts(texts)
    intent, score = (model or load_model("intent")).predict(texts)
    empty = np.array([not t.strip() for t in texts], dtype=bool)
    intent[empty] = "other"
    return pd.DataFrame({"intent": intent, "intent_score": np.where(empty, np.nan, score)})


PARALLEL_MIN = 2000  # texts; smaller calls stay in this process (forking costs ~10-50 ms)


def default_workers() -> int:
    """Processes for large batches: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _fork_map(fn: Callable[[Any], Any], parts: list[Any]) -> list[Any]:
    """``[fn(p) for p in parts]`` with every part but the last in a forked child.

    The children inherit the loaded models and the inputs (nothing is pickled on the
    way in); results come back through pipes. Falls back to one process where
    ``fork`` is unavailable.
    """
    if len(parts) < 2 or "fork" not in mp.get_all_start_methods():
        return [fn(p) for p in parts]
    ctx = mp.get_context("fork")
    children = []
    for part in parts[:-1]:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, part, send), daemon=True)
        proc.start()
        send.close()
        children.append((proc, recv))
    last = fn(parts[-1])
    results = []
    for proc, recv in children:
        try:
            ok, value = recv.recv()
        except EOFError:
            ok, value = False, "worker process died"
        proc.join()
        recv.close()
        if not ok:
            raise RuntimeError(f"text analysis worker failed: {value}")
        results.append(value)
    return results + [last]


def _child(fn: Callable[[Any], Any], part: Any, send: Any) -> None:
    try:
        send.send((True, fn(part)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
        send.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        send.close()


def analyze_reviews(texts: Sequence[object], lang: str = "auto", *,
                    entities: EntityExtractor | None = None, aspects: AspectExtractor | None = None,
                    models: dict[str, Any] | None = None, workers: int | None = None,
                    parallel_min: int = PARALLEL_MIN, languages: Sequence[object] | None = None) -> pd.DataFrame:
    """The full review pipeline: language, sentiment, aspects and entities per text.

    One sentiment-model call per language scores the reviews and all their distinct
    aspect clauses together. Batches of at least ``parallel_min`` texts are split over
    ``workers`` processes (default: the usable CPUs); smaller ones run here.
    ``languages``: a known language per text ('zh'/'en'; anything else is detected).

    >>> out = analyze_reviews(["物流很快，但是衣服偏小", "Love the color, size M fits perfectly"])
    >>> out["language"].tolist(), [[a["aspect"] for a in x] for x in out["aspects"]]
    (['zh', 'en'], [['logistics', 'size_fit'], ['appearance', 'size_fit']])
    >>> [(e["type"], e["text"]) for e in out["entities"][1]]
    [('size', 'size M')]
    """
    texts = _texts(texts)
    languages_for([], lang)  # validates lang
    given = [g if g in ("zh", "en") else None for g in languages] if languages is not None else [None] * len(texts)
    if len(given) != len(texts):
        raise UserInputError(f"{len(given)} languages for {len(texts)} texts")
    n = default_workers() if workers is None else max(1, int(workers))
    if n > 1 and len(texts) >= parallel_min:
        step = -(-len(texts) // n)
        parts = [(texts[i:i + step], given[i:i + step]) for i in range(0, len(texts), step)]
        fn = functools.partial(_analyze_part, lang=lang, entities=entities, aspects=aspects, models=models)
        return pd.concat(_fork_map(fn, parts), ignore_index=True)
    return _analyze_part((texts, given), lang=lang, entities=entities, aspects=aspects, models=models)


def _analyze_part(part: tuple[list[str], list[str | None]], *, lang: str, entities: EntityExtractor | None,
                  aspects: AspectExtractor | None, models: dict[str, Any] | None) -> pd.DataFrame:
    texts, given = part
    langs = [g or d for g, d in zip(given, languages_for(texts, lang))]
    ex = aspects or default_extractor()
    mentions = ex.mentions_batch(texts, langs)
    sentiment = np.full(len(texts), "neutral", dtype=object)
    score = np.full(len(texts), np.nan)
    reviews: dict[str, list[int]] = {}
    clauses: dict[str, dict[str, int]] = {}
    for i, (t, l, found) in enumerate(zip(texts, langs, mentions)):
        name = _model_for(l)
        if t.strip():
            reviews.setdefault(name, []).append(i)
        unique = clauses.setdefault(name, {})
        for m in found:
            unique.setdefault(m["evidence"], len(unique))
    clause_p: dict[str, np.ndarray] = {}
    for name in set(reviews) | {k for k, v in clauses.items() if v}:
        model = (models or {}).get(name) or load_model(name)
        idx = reviews.get(name, [])
        evidence = list(clauses.get(name, {}))
        if getattr(model, "clause_weight", 0.0) and evidence:  # aspect clauses read with the clause model too
            labels, p = (model.predict([texts[i] for i in idx]) if idx
                         else (np.empty(0, dtype=object), np.empty(0)))
            clause_p[name] = model.clause_positive_proba(evidence)
        else:
            labels, p = model.predict([texts[i] for i in idx] + evidence)
            clause_p[name] = p[len(idx):]
        sentiment[idx] = labels[:len(idx)]
        score[idx] = p[:len(idx)]
    out = pd.DataFrame({"language": langs, "sentiment": sentiment, "sentiment_score": score})
    learned = ex.polarity_model is not None  # English mentions: the polarity model reads clause and review
    out["aspects"] = [ex.with_polarity(found, clauses[_model_for(l)], clause_p[_model_for(l)],
                                       text=t if learned and _model_for(l) == "en_sentiment" else None,
                                       text_p=float(p) if learned and _model_for(l) == "en_sentiment" else None)
                      if found else [] for found, l, t, p in zip(mentions, langs, texts, score)]
    ent = entities or EntityExtractor()
    out["entities"] = ent.extract_many(texts)
    return out


# -- warehouse ------------------------------------------------------------------------------
def _append(wh: Warehouse, name: str, frame: pd.DataFrame, key: str) -> None:
    """Insert new rows, drop rows whose source row is gone, record freshness (one transaction)."""
    with wh.transaction() as con:
        con.register("_new_rows", frame)
        con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT * FROM _new_rows LIMIT 0')
        con.execute(f'INSERT INTO "{name}" SELECT * FROM _new_rows')
        con.unregister("_new_rows")
        source = "reviews" if key == "review_id" else "support_messages"
        con.execute(f'DELETE FROM "{name}" WHERE {key} NOT IN (SELECT {key} FROM {source})')
        rows = con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]
        wh.mark_computed(name, "text", rows, {"added": len(frame), "shoplens": __version__})


def _new_rows(wh: Warehouse, source: str, key: str, target: str, where: str = "TRUE") -> pd.DataFrame:
    # Customers without personalisation consent keep their reviews in the
    # aggregate results, but are not linked to them (no per-customer profile).
    consent = consent_filter_sql("personalization", "s.customer_id")
    done = f"AND s.{key} NOT IN (SELECT {key} FROM \"{target}\")" if wh.has_table(target) else ""
    return wh.query(
        f"SELECT s.*, CASE WHEN s.customer_id IS NOT NULL AND {consent} THEN s.customer_id END AS linked_customer_id "
        f"FROM {source} s WHERE {where} {done} ORDER BY s.{key}"
    )


def _gazetteer(wh: Warehouse) -> EntityExtractor:
    """Entity extractor with the shop's product names and brands."""
    if not wh.has_table("products"):
        return EntityExtractor()
    cols = set(wh.columns("products"))
    names = wh.query("SELECT DISTINCT name FROM products WHERE name IS NOT NULL")["name"] if "name" in cols else []
    brands = wh.query("SELECT DISTINCT brand FROM products WHERE brand IS NOT NULL")["brand"] if "brand" in cols else []
    return EntityExtractor.from_products(list(names), list(brands))


def _entity_rows(source: str, ids: Sequence[object], customers: Sequence[object], found: Sequence[list[dict]],
                 title_lengths: Sequence[int] | None = None) -> list[dict[str, object]]:
    """Rows of text_entities; review offsets are mapped back to the title or the text field."""
    rows = []
    for k, (i, c, ents) in enumerate(zip(ids, customers, found)):
        cut = title_lengths[k] if title_lengths is not None else -1
        for e in ents:
            start, end, field = int(e["start"]), int(e["end"]), "text"  # type: ignore[call-overload]
            if cut >= 0:
                if end <= cut:
                    field = "title"
                elif start > cut:
                    start, end = start - cut - 1, end - cut - 1
                else:
                    continue  # spans the title/text boundary
            rows.append({"source": source, "id": i, "customer_id": c, "field": field, "type": e["type"],
                         "value": e["text"], "start": start, "end": end})
    return rows


def analyze_warehouse(wh: Warehouse, *, batch_size: int = 20000, topics: int | None = 8,
                      workers: int | None = None,
                      progress: Callable[[str, int, int], None] | None = None) -> dict[str, int]:
    """Score new reviews and customer messages; returns rows added per result table.

    Writes ``text_reviews``, ``text_review_aspects``, ``text_messages``,
    ``text_entities`` (products/brands from the products table, order numbers,
    amounts, dates, sizes, colours; offsets into the review's ``title`` or ``text``
    or the message's ``text``) and, when reviews were added or removed, refits the
    review topics per language into ``text_topics`` and ``text_review_topics``
    (``topics=None`` skips them).
    """
    now = utcnow()
    had_entities = wh.has_table(ENTITIES_TABLE)
    if not had_entities and wh.has_table(REVIEWS_TABLE):
        _backfill_entities(wh)
    gazetteer = _gazetteer(wh)
    reviews = _new_rows(wh, "reviews", "review_id", REVIEWS_TABLE)
    review_rows, aspect_rows, entity_rows = [], [], []
    for start in range(0, len(reviews), batch_size):
        part = reviews.iloc[start:start + batch_size]
        titles = part["title"].fillna("").astype(str).str.strip()
        bodies = part["text"].fillna("").astype(str)
        texts = [f"{t}\n{b}" if t else b for t, b in zip(titles, bodies)]
        cut = [len(t) if t else -1 for t in titles]
        out = analyze_reviews(texts, entities=gazetteer, workers=workers, languages=part["language"].tolist())
        review_rows.append(pd.DataFrame({
            "review_id": part["review_id"].values, "customer_id": part["linked_customer_id"].values,
            "product_id": part["product_id"].values, "order_id": part["order_id"].values,
            "created_at": part["created_at"].values, "language": out["language"].values,
            "sentiment": out["sentiment"].values, "sentiment_score": out["sentiment_score"].values,
            "rating": part["rating"].values, "aspects": [len(a) for a in out["aspects"]], "analyzed_at": now,
        }))
        for rid, cid, pid, created, found in zip(part["review_id"], part["linked_customer_id"], part["product_id"],
                                                 part["created_at"], out["aspects"]):
            for a in found:
                aspect_rows.append({"review_id": rid, "customer_id": cid, "product_id": pid, "created_at": created, **a})
        entity_rows += _entity_rows("review", part["review_id"].tolist(), part["linked_customer_id"].tolist(),
                                    out["entities"].tolist(), cut)
        if progress:
            progress("reviews", min(start + batch_size, len(reviews)), len(reviews))
    messages = _new_rows(wh, "support_messages", "message_id", MESSAGES_TABLE, "s.sender = 'customer'")
    message_rows = []
    for start in range(0, len(messages), batch_size):
        part = messages.iloc[start:start + batch_size]
        texts = part["text"].fillna("").astype(str).tolist()
        sent = score_sentiment(texts)
        intent = score_intent(texts)
        message_rows.append(pd.DataFrame({
            "message_id": part["message_id"].values, "conversation_id": part["conversation_id"].values,
            "customer_id": part["linked_customer_id"].values, "created_at": part["created_at"].values,
            "language": sent["language"].values, "intent": intent["intent"].values,
            "intent_score": intent["intent_score"].values, "sentiment": sent["sentiment"].values,
            "sentiment_score": sent["sentiment_score"].values, "analyzed_at": now,
        }))
        entity_rows += _entity_rows("message", part["message_id"].tolist(), part["linked_customer_id"].tolist(),
                                    gazetteer.extract_many(texts))
        if progress:
            progress("messages", min(start + batch_size, len(messages)), len(messages))
    review_frame = pd.concat(review_rows) if review_rows else _empty_reviews()
    aspect_frame = pd.DataFrame(aspect_rows, columns=_ASPECT_COLUMNS)
    aspect_frame["created_at"] = pd.to_datetime(aspect_frame["created_at"])
    message_frame = pd.concat(message_rows) if message_rows else _empty_messages()
    entity_frame = _entity_frame(entity_rows)
    before = wh.row_count(REVIEWS_TABLE) if wh.has_table(REVIEWS_TABLE) else 0
    _append(wh, REVIEWS_TABLE, review_frame, "review_id")
    _append(wh, ASPECTS_TABLE, aspect_frame, "review_id")
    _append(wh, MESSAGES_TABLE, message_frame, "message_id")
    _append_entities(wh, entity_frame)
    added = {REVIEWS_TABLE: len(review_frame), ASPECTS_TABLE: len(aspect_frame), MESSAGES_TABLE: len(message_frame),
             ENTITIES_TABLE: len(entity_frame)}
    changed = len(review_frame) > 0 or wh.row_count(REVIEWS_TABLE) != before + len(review_frame)
    if topics and (changed or not wh.has_table(TOPICS_TABLE)):
        added[TOPICS_TABLE] = refit_topics(wh, n_topics=topics)
    return added


_ENTITY_COLUMNS = ["source", "id", "customer_id", "field", "type", "value", "start", "end"]


def _entity_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=_ENTITY_COLUMNS)
    for c in ("source", "id", "customer_id", "field", "type", "value"):
        frame[c] = frame[c].astype(object)
    return frame.astype({"start": "int64", "end": "int64"})


def _backfill_entities(wh: Warehouse) -> None:
    """Entities of reviews and messages analysed before text_entities existed (older warehouses)."""
    gazetteer = _gazetteer(wh)
    rows: list[dict[str, object]] = []
    r = wh.query(f"SELECT s.review_id, t.customer_id, s.title, s.text FROM reviews s JOIN {REVIEWS_TABLE} t USING (review_id)")
    titles = r["title"].fillna("").astype(str).str.strip()
    texts = [f"{t}\n{b}" if t else b for t, b in zip(titles, r["text"].fillna("").astype(str))]
    rows += _entity_rows("review", r["review_id"].tolist(), r["customer_id"].tolist(), gazetteer.extract_many(texts),
                         [len(t) if t else -1 for t in titles])
    if wh.has_table(MESSAGES_TABLE):
        m = wh.query(f"SELECT s.message_id, t.customer_id, s.text FROM support_messages s JOIN {MESSAGES_TABLE} t "
                     "USING (message_id)")
        rows += _entity_rows("message", m["message_id"].tolist(), m["customer_id"].tolist(),
                             gazetteer.extract_many(m["text"].fillna("").astype(str).tolist()))
    _append_entities(wh, _entity_frame(rows))


def _append_entities(wh: Warehouse, frame: pd.DataFrame) -> None:
    with wh.transaction() as con:
        con.register("_new_rows", frame)
        con.execute(f'CREATE TABLE IF NOT EXISTS "{ENTITIES_TABLE}" AS SELECT * FROM _new_rows LIMIT 0')
        con.execute(f'INSERT INTO "{ENTITIES_TABLE}" SELECT * FROM _new_rows')
        con.unregister("_new_rows")
        con.execute(f"""DELETE FROM "{ENTITIES_TABLE}" WHERE
            (source = 'review' AND id NOT IN (SELECT review_id FROM reviews))
            OR (source = 'message' AND id NOT IN (SELECT message_id FROM support_messages))""")
        rows = con.execute(f'SELECT count(*) FROM "{ENTITIES_TABLE}"').fetchall()[0][0]
        wh.mark_computed(ENTITIES_TABLE, "text", rows, {"added": len(frame), "shoplens": __version__})


def refit_topics(wh: Warehouse, *, n_topics: int = 8, seed: int = 0) -> int:
    """Refit the review topics per language (NMF on TF-IDF) into text_topics and text_review_topics.

    Languages with too few reviews for ``n_topics`` get fewer topics (at least 2, 25
    reviews per topic) or none. Returns the number of topics stored.
    """
    if not wh.has_table(REVIEWS_TABLE):
        raise InsufficientDataError(f"no {REVIEWS_TABLE} table yet; run `shoplens text analyze` first")
    reviews = wh.query(f"""SELECT t.review_id, t.customer_id, t.product_id, t.language, t.sentiment,
                                 coalesce(s.title || '. ', '') || coalesce(s.text, '') AS text
                          FROM {REVIEWS_TABLE} t JOIN reviews s USING (review_id) ORDER BY t.review_id""")
    now = utcnow()
    topic_rows, assigned = [], []
    for language, part in reviews.groupby("language", sort=True):
        k = min(n_topics, len(part) // 25)
        if k < 2:
            continue
        try:
            frame, assignment = discover_topics(part["text"].tolist(), k, seed=seed, ids=part["review_id"].tolist())
        except InsufficientDataError:
            continue
        for row in frame.to_dict("records"):
            topic_rows.append({"language": language, "topic": int(row["topic"]), "name": row["name"],
                               "terms": row["terms"], "reviews": int(row["reviews"]),
                               "example_review_ids": list(row["example_ids"]), "computed_at": now})
        assigned.append(pd.DataFrame({"review_id": part["review_id"].values, "customer_id": part["customer_id"].values,
                                      "product_id": part["product_id"].values, "language": language,
                                      "topic": assignment}).query("topic >= 0"))
    topics_frame = pd.DataFrame(topic_rows, columns=["language", "topic", "name", "terms", "reviews",
                                                      "example_review_ids", "computed_at"])
    review_topics = (pd.concat(assigned, ignore_index=True) if assigned else
                     pd.DataFrame({"review_id": pd.Series(dtype=str), "customer_id": pd.Series(dtype=str),
                                   "product_id": pd.Series(dtype=str), "language": pd.Series(dtype=str),
                                   "topic": pd.Series(dtype="int64")}))
    with wh.transaction() as con:
        for name, frame in ((TOPICS_TABLE, topics_frame), (REVIEW_TOPICS_TABLE, review_topics)):
            con.register("_frame", frame)
            con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _frame')
            con.unregister("_frame")
            wh.mark_computed(name, "text", len(frame), {"n_topics": n_topics, "shoplens": __version__})
    return len(topics_frame)


_ASPECT_COLUMNS = ["review_id", "customer_id", "product_id", "created_at", "aspect", "polarity", "evidence"]


def _empty_reviews() -> pd.DataFrame:
    return pd.DataFrame({
        "review_id": pd.Series(dtype=str), "customer_id": pd.Series(dtype=str), "product_id": pd.Series(dtype=str),
        "order_id": pd.Series(dtype=str), "created_at": pd.Series(dtype="datetime64[us]"),
        "language": pd.Series(dtype=str), "sentiment": pd.Series(dtype=str), "sentiment_score": pd.Series(dtype=float),
        "rating": pd.Series(dtype="Int32"), "aspects": pd.Series(dtype="int64"), "analyzed_at": pd.Series(dtype="datetime64[us]"),
    })


def _empty_messages() -> pd.DataFrame:
    return pd.DataFrame({
        "message_id": pd.Series(dtype=str), "conversation_id": pd.Series(dtype=str), "customer_id": pd.Series(dtype=str),
        "created_at": pd.Series(dtype="datetime64[us]"), "language": pd.Series(dtype=str), "intent": pd.Series(dtype=str),
        "intent_score": pd.Series(dtype=float), "sentiment": pd.Series(dtype=str),
        "sentiment_score": pd.Series(dtype=float), "analyzed_at": pd.Series(dtype="datetime64[us]"),
    })


def forget_customers(wh: Warehouse, customer_ids: set[str]) -> int:
    """Erasure: delete every text result linked to these (warehouse) customer ids; returns rows deleted.

    Their reviews also leave the example ids of ``text_topics``.
    """
    ids = sorted(str(c) for c in customer_ids)
    deleted = 0
    if ids and wh.has_table(TOPICS_TABLE) and wh.has_table(REVIEW_TOPICS_TABLE):
        theirs = [r for (r,) in wh.con.execute(
            f'SELECT review_id FROM "{REVIEW_TOPICS_TABLE}" WHERE customer_id IN (SELECT unnest(?))', [ids]).fetchall()]
        if theirs:
            wh.con.execute(f'UPDATE "{TOPICS_TABLE}" SET example_review_ids = '
                           "list_filter(example_review_ids, lambda x: NOT list_contains(?::VARCHAR[], x))", [theirs])
    for table in (REVIEWS_TABLE, ASPECTS_TABLE, MESSAGES_TABLE, ENTITIES_TABLE, REVIEW_TOPICS_TABLE):
        if ids and wh.has_table(table):
            before = wh.row_count(table)
            wh.con.execute(f'DELETE FROM "{table}" WHERE customer_id IN (SELECT unnest(?))', [ids])
            deleted += before - wh.row_count(table)
    return deleted
