"""The recommendation functions the CLI, the REST API and the demo call (logic lives here once).

- :func:`train` fits a model on the warehouse up to a date and registers it as ``recs``;
- :func:`recommend` answers for the shop's own customer ids (consent respected);
- :func:`score_all` writes every customer's list into the ``recommendations`` table;
- :func:`update` folds interactions newer than the model into it without a full retrain;
- :func:`evaluate` runs the temporal protocol over several models;
- :func:`mine_rules` finds association rules (FP-growth) and writes them to ``association_rules``.

Customers who refused personalisation are left out of training and get the
non-personalised list (popular items), never a profile-based one.

>>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
>>> trained = train(wh, until="2011-11-01", model="item_knn")  # "auto" trains the hybrid
>>> trained["model"], trained["version"], trained["customers"]
('item_knn', 1, 932)
>>> recommend(wh, ["17850"], k=2)[["customer_id", "rank", "product_id"]].values.tolist()
[['17850', 1, '22803'], ['17850', 2, '21071']]
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from shoplens.errors import InputFileError, InsufficientDataError, NotFoundError, UserInputError
from shoplens.privacy.consent import Default, _allowed_internal
from shoplens.privacy.ids import to_external, to_internal
from shoplens.recs.base import OUTPUT_COLUMNS, Recommender, RecFilters
from shoplens.recs.evaluate import evaluate_models, leave_last_basket_out, temporal_split
from shoplens.recs.hybrid import Hybrid
from shoplens.recs.interactions import load_catalogue, load_interactions, load_segments, window
from shoplens.recs.live import LiveOptions, recommend_live
from shoplens.recs.models import ALS, BPR, EASE, BuyAgain, ContentBased, ItemKNN, Popularity
from shoplens.store.registry import ModelRegistry
from shoplens.store.warehouse import Warehouse, first_row, utcnow

MODEL_NAME = "recs"
ANONYMOUS = "\x00anonymous"  # never a real id: gets the non-personalised list
NOT_PERSONALISED = "popular now (not personalised)"  # the reason given to customers without consent


def model_factories() -> dict[str, Callable[[], Recommender]]:
    """Every model ``--model`` / ``--models`` accepts, with its default settings."""
    return {
        "hybrid": Hybrid,
        "buy_again": BuyAgain,
        "buy_again_baseline": lambda: BuyAgain(half_life_days=None, cycle_weight=0.0),
        "popularity": lambda: Popularity(per_segment=False),
        "segment_popularity": Popularity,
        "trending": lambda: Popularity(recent_days=30, per_segment=False),
        "item_knn": ItemKNN,
        "item_knn_bm25": lambda: ItemKNN(similarity="bm25"),
        "ease": EASE,
        "als": ALS,
        "bpr": BPR,
        "content": ContentBased,
    }


def make_model(name: str) -> Recommender:
    factories = model_factories()
    if name not in factories:
        raise UserInputError(f"unknown model {name!r}; choose auto or one of: {', '.join(factories)}")
    return factories[name]()


def on_engine(model: Recommender, wh: Warehouse) -> Recommender:
    """On a Spark warehouse, ALS (alone or inside the hybrid) learns its factors with MLlib."""
    if getattr(wh, "engine_name", "duckdb") == "spark":
        if hasattr(model, "als_backend"):
            model.als_backend = "spark"  # type: ignore[attr-defined]
        elif hasattr(model, "backend"):
            model.backend = "spark"  # type: ignore[attr-defined]
    return model


def parse_date(value: str | None, option: str) -> pd.Timestamp | None:
    """A user-given date, or a clear error naming the option."""
    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except (ValueError, TypeError):
        raise UserInputError(f"{option}: {value!r} is not a date (use YYYY-MM-DD)") from None


@contextmanager
def quiet() -> Iterator[None]:
    """implicit warns about BLAS threads and input formats it converts itself; not the user's business."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="implicit")
        warnings.filterwarnings("ignore", message=".*OpenBLAS.*")
        yield


def train(wh: Warehouse, *, until: str | None = None, model: str = "auto",
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fit on orders (and events, reviews) before ``until`` and register the model as ``recs``.

    ``auto`` trains the hybrid and falls back to buy-again when the data cannot
    support a validation window.
    """
    until_ts = parse_date(until, "--until")
    say = progress or (lambda _msg: None)
    say("loading interactions")
    interactions = load_interactions(wh, until=until_ts, consented_only=True)
    if interactions.empty:
        raise InsufficientDataError(
            "no orders or events to learn from" + (f" before {until_ts:%Y-%m-%d}" if until_ts is not None else "")
            + " (load them with `shoplens ingest` first)")
    catalogue, segments = load_catalogue(wh), load_segments(wh)
    chosen = "hybrid" if model == "auto" else model
    fitted = on_engine(make_model(chosen), wh)
    note = ""
    t0 = time.perf_counter()
    say(f"training {chosen}")
    with quiet():
        try:
            fitted.fit(interactions, catalogue=catalogue, segments=segments)
        except InsufficientDataError as exc:
            if model != "auto":
                raise
            note = f"hybrid not possible ({exc}); trained buy_again instead"
            chosen, fitted = "buy_again", make_model("buy_again")
            fitted.fit(interactions, catalogue=catalogue, segments=segments)
    seconds = time.perf_counter() - t0
    start = interactions["occurred_at"].min()
    # exclusive end, so `recs update` folds in exactly what came after
    end = until_ts if until_ts is not None else interactions["occurred_at"].max() + pd.Timedelta(microseconds=1)
    metrics: dict[str, Any] = {"train_seconds": round(seconds, 2)}
    for attr in ("candidate_recall_", "training_rows_"):
        if hasattr(fitted, attr):
            metrics[attr.rstrip("_")] = getattr(fitted, attr)
    version = ModelRegistry(wh).register(MODEL_NAME, fitted, kind=f"recs.{chosen}", metrics=metrics,
                                         data_window=(start, end), note=note)
    return {
        "model": chosen, "name": MODEL_NAME, "version": version,
        "until": None if until_ts is None else until_ts.isoformat(),
        "data_start": start, "data_end": end,
        "customers": int(len(fitted.customers_)), "products": int(len(fitted.products_)),
        "interactions": int(len(interactions)), "train_seconds": round(seconds, 2), "note": note,
    }


def load_model(wh: Warehouse) -> tuple[int, Recommender]:
    """(version, model) of the promoted recommender, or a clear error."""
    reg = ModelRegistry(wh)
    if not wh.has_table("_models"):
        raise NotFoundError("no recommender is trained yet: run `shoplens recs train` first")
    try:
        version = reg.promoted_version(MODEL_NAME)
    except NotFoundError:
        raise NotFoundError("no recommender is trained yet: run `shoplens recs train` first") from None
    with quiet():
        return version, reg.load(MODEL_NAME, version)


def recommend(wh: Warehouse, customer_ids: Sequence[str], *, k: int = 10, filters: RecFilters | None = None,
              model: Recommender | None = None, consent_default: Default = None, live: bool = False,
              live_options: LiveOptions | None = None, internal_ids: Sequence[str | None] | None = None
              ) -> pd.DataFrame:
    """Top-``k`` per customer (shop ids in and out): customer_id, rank, product_id, score, reason.

    Customers without personalisation consent, and ids that are not customers (cold
    start), get the non-personalised popular list with the reason ``NOT_PERSONALISED``.
    ``consent_default`` (the policy's answer for never-asked customers, a bool or one
    per purpose) is read from the settings when not given; a server passes the value
    it resolved once at start-up. ``live``: also use each allowed customer's or visitor's
    latest behaviour events (:mod:`shoplens.recs.live`); a visitor known only from their
    events is never-asked, so the consent default decides, as for any such customer.
    ``internal_ids``: :func:`~shoplens.privacy.ids.to_internal` of ``customer_ids`` when the caller
    has mapped them already (the server does, once per request).
    """
    if model is None:
        _, model = load_model(wh)
    shop_ids = [str(c) for c in customer_ids]
    internal = to_internal(wh, shop_ids) if internal_ids is None else list(internal_ids)
    if len(internal) != len(shop_ids):
        raise ValueError("internal_ids must map customer_ids one to one")
    consented = set(_allowed_internal(wh, internal, "recommendation", default=consent_default))
    personal = [c for c in dict.fromkeys(internal) if c in consented]
    frames = []
    if personal:
        frames.append(recommend_live(wh, model, personal, k=k, filters=filters, options=live_options) if live
                      else model.recommend(personal, k=k, filters=filters))
    refused = [c for c in dict.fromkeys(internal) if c not in consented]
    if refused:
        plain = RecFilters(**{**(filters or RecFilters()).__dict__, "exclude_purchased": False})
        anon = model.recommend([ANONYMOUS], k=k, filters=plain)
        anon["reason"] = NOT_PERSONALISED
        for cid in refused:
            frames.append(anon.assign(customer_id=cid))
    if not frames:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    if len(set(internal)) == 1:  # one customer (an API request): no merge, no sort across customers
        one = frames[0] if frames[0]["rank"].is_monotonic_increasing else frames[0].sort_values("rank", kind="stable")
        return one.assign(customer_id=shop_ids[-1])[OUTPUT_COLUMNS].reset_index(drop=True)
    out = pd.concat(frames, ignore_index=True)
    back = dict(zip(internal, shop_ids))  # answer with the ids as given (pseudonyms need not reverse)
    order = {c: i for i, c in enumerate(dict.fromkeys(internal))}
    out = out.assign(_o=out["customer_id"].map(order)).sort_values(["_o", "rank"], kind="stable").drop(columns="_o")
    out["customer_id"] = out["customer_id"].map(back)
    return out[OUTPUT_COLUMNS].reset_index(drop=True)


def read_customer_ids(path: Path) -> list[str]:
    """Customer ids from a file: one per line, or a CSV with a ``customer_id`` column."""
    if not path.is_file():
        raise InputFileError(str(path), "file not found", hint="pass a file with one customer id per line")
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputFileError(str(path), "no customer ids in the file",
                             hint="one id per line, or a CSV with a customer_id column")
    header = [c.strip().strip('"') for c in lines[0].split(",")]
    if "customer_id" in header:
        import io

        frame = pd.read_csv(io.StringIO(text), dtype=str)
        ids = frame["customer_id"].dropna().str.strip()
        ids = ids[ids != ""].tolist()
        if not ids:
            raise InputFileError(str(path), "the customer_id column is empty", column="customer_id")
        return ids
    if len(header) > 1:
        raise InputFileError(str(path), "looks like a CSV but has no customer_id column", line=1,
                             hint="name the column customer_id, or give one id per line")
    return lines


def score_all(wh: Warehouse, *, k: int = 10, model: Recommender | None = None, version: int | None = None) -> int:
    """Write every customer's top-``k`` into the ``recommendations`` table; returns rows written."""
    if model is None:
        version, model = load_model(wh)
    customers = wh.query("SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL "
                         "UNION SELECT DISTINCT customer_id FROM events")["customer_id"].astype(str).tolist()
    # answered through the shop's ids like any caller (one consent rule); an id the vault cannot
    # reveal (an erased customer's leftover) is not scored
    pairs = [(c, e) for c, e in zip(customers, to_external(wh, customers)) if e is not None]
    frame = recommend(wh, [e for _, e in pairs], k=k, model=model)
    frame["customer_id"] = frame["customer_id"].map({e: c for c, e in pairs})  # the warehouse keeps its own ids
    frame = frame.assign(model=MODEL_NAME, model_version=version, computed_at=utcnow())
    wh.write_table("recommendations", frame, kind="recommendations", info={"k": k, "model_version": version})
    return int(len(frame))


def update(wh: Warehouse) -> dict[str, Any]:
    """Fold interactions newer than the promoted model into it and register the result."""
    version, model = load_model(wh)
    row = first_row(wh.con.execute("SELECT data_start, data_end, kind FROM _models WHERE name = ? AND version = ?",
                         [MODEL_NAME, version]))
    start, kind = (row[0], row[2]) if row else (None, "recs")
    # data_end is exclusive: training used rows before --until, fold-ins record the next instant
    since = pd.Timestamp(row[1]) if row and row[1] is not None else model.now_ + pd.Timedelta(microseconds=1)
    fresh = window(load_interactions(wh, consented_only=True), start=since)
    if fresh.empty:
        return {"version": version, "customers_updated": 0, "interactions": 0, "note": "nothing new since the model"}
    with quiet():
        updated = model.fold_in(fresh)
    end = fresh["occurred_at"].max() + pd.Timedelta(microseconds=1)
    new_version = ModelRegistry(wh).register(MODEL_NAME, model, kind=kind, data_window=(start, end),
                                             note=f"fold-in of {len(fresh)} interactions onto v{version}")
    return {"version": new_version, "customers_updated": updated, "interactions": int(len(fresh))}


def evaluate(wh: Warehouse, *, cutoff: str | None, k: int = 10, models: Sequence[str] | None = None,
             protocol: str = "temporal", progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Metrics of each model under the temporal protocol (or leave-last-basket-out), best first."""
    if k < 1:
        raise UserInputError(f"--k must be at least 1 (got {k})")
    names = list(models) if models else [m for m in model_factories() if m not in ("item_knn_bm25",)]
    factories = model_factories()
    unknown = [m for m in names if m not in factories]
    if unknown:
        raise UserInputError(f"unknown model(s) {', '.join(unknown)}; choose from: {', '.join(factories)}")
    interactions = load_interactions(wh)
    if interactions.empty:
        raise InsufficientDataError("no orders or events to evaluate on (load them with `shoplens ingest` first)")
    if protocol == "temporal":
        cutoff_ts = parse_date(cutoff, "--cutoff")
        if cutoff_ts is None:
            raise UserInputError("--cutoff DATE is needed for the temporal protocol")
        train_rows, truth = temporal_split(interactions, cutoff_ts)
    elif protocol == "last-basket":
        cutoff_ts = None
        train_rows, truth = leave_last_basket_out(interactions)
    else:
        raise UserInputError(f"--protocol must be temporal or last-basket, not {protocol!r}")
    with quiet():
        table = evaluate_models({n: factories[n]() for n in names}, train_rows, truth, k,
                                catalogue=load_catalogue(wh), segments=load_segments(wh), progress=progress)
    records = table.to_dict("records")
    best = next((r["model"] for r in records if pd.notna(r.get("ndcg"))), None)
    return {"protocol": protocol, "cutoff": None if cutoff_ts is None else cutoff_ts.isoformat(), "k": k,
            "customers": int(truth["customer_id"].nunique()), "test_pairs": int(len(truth)),
            "train_interactions": int(len(train_rows)), "best": best, "models": records}


def mine_rules(wh: Warehouse, *, min_support: float = 0.01, min_baskets: int = 20, min_confidence: float = 0.2,
               min_lift: float = 1.0, max_len: int = 2, since: str | None = None, level: str = "product") -> pd.DataFrame:
    """FP-growth association rules over completed orders, written to ``association_rules`` (products, the
    rules recommendations serve) or ``association_rules_category`` (``level="category"``: which categories
    are bought together). An empty result has ``attrs["reason"]``: why no rule passes."""
    from shoplens.recs.rules import LEVELS, association_rules_from_baskets, load_baskets, no_rule_reason

    if max_len < 2:
        raise UserInputError("--max-len must be at least 2 (a rule needs two products)")
    if level not in LEVELS:
        raise UserInputError(f"--level {level!r}: choose product or category")
    thresholds = {"min_support": min_support, "min_baskets": min_baskets, "min_confidence": min_confidence,
                  "min_lift": min_lift}
    if level == "category":
        baskets = load_baskets(wh, since=parse_date(since, "--since"), level="category")
        rules = association_rules_from_baskets(baskets, max_len=max_len, **thresholds)
        if rules.empty:
            rules.attrs["reason"] = no_rule_reason(baskets, item="category", **thresholds)
        if not wh.read_only:
            wh.write_table("association_rules_category", rules, kind="rules", info=dict(thresholds))
        return rules
    if getattr(wh, "engine_name", "duckdb") == "spark":  # MLlib FP-growth over the baskets on Spark
        from shoplens.recs.spark import fpgrowth_rules

        rules = fpgrowth_rules(wh, since=parse_date(since, "--since"), min_support=min_support,
                               min_baskets=min_baskets, min_confidence=min_confidence, min_lift=min_lift,
                               max_len=max_len)
    else:
        baskets = load_baskets(wh, since=parse_date(since, "--since"))
        rules = association_rules_from_baskets(baskets, min_support=min_support, min_baskets=min_baskets,
                                               min_confidence=min_confidence, min_lift=min_lift, max_len=max_len)
        if rules.empty:
            rules.attrs["reason"] = no_rule_reason(baskets, **thresholds)
    if not wh.read_only:
        wh.write_table("association_rules", rules, kind="rules",
                       info={"min_support": min_support, "min_baskets": min_baskets, "min_confidence": min_confidence})
    return rules


def with_names(wh: Warehouse, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Add the product name of ``column`` (for readable output)."""
    if frame.empty:
        return frame.assign(name=pd.Series(dtype=object))
    names = wh.query("SELECT product_id, name FROM products")
    names = names.astype({"product_id": str}).rename(columns={"product_id": column, "name": f"{column}_name"})
    return frame.drop(columns=[c for c in ("name",) if c in frame]).merge(names, on=column, how="left")


def strongest_rules(wh: Warehouse, n: int = 20) -> pd.DataFrame:
    """The ``n`` strongest cross-sell rules (highest lift, then confidence; ties by the product ids),
    one per pair of sides (of A -> B and B -> A, the one with the higher confidence), with each side's
    product names (a side of several products: their names joined by " + "):
    antecedent, antecedent_name, consequent, consequent_name, support, confidence, lift, baskets.
    NotComputedError before ``shoplens recs rules``."""
    from shoplens.errors import NotComputedError

    if not wh.has_table("association_rules"):
        raise NotComputedError("association rules are not computed yet: run `shoplens recs rules` (or `shoplens demo`)")
    rules = wh.table("association_rules")
    rules = rules.sort_values(["lift", "confidence", "antecedent", "consequent"], ascending=[False, False, True, True])
    # A -> B and B -> A have the same lift: one bar per pair, the direction with the higher confidence
    pair = [" & ".join(sorted((a, c))) for a, c in zip(rules["antecedent"].astype(str), rules["consequent"].astype(str))]
    rules = rules[~pd.Series(pair, index=rules.index).duplicated()].head(n).reset_index(drop=True)
    ids = sorted({p for side in (*rules["antecedent"], *rules["consequent"]) for p in str(side).split(" + ")})
    names = dict(wh.con.execute("SELECT CAST(product_id AS VARCHAR), name FROM products "
                                "WHERE CAST(product_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()) \
        if ids and wh.has_table("products") else {}

    def named(side: str) -> str:
        return " + ".join(str(names.get(p) or p) for p in str(side).split(" + "))

    rules.insert(rules.columns.get_loc("antecedent") + 1, "antecedent_name", rules["antecedent"].map(named))
    rules.insert(rules.columns.get_loc("consequent") + 1, "consequent_name", rules["consequent"].map(named))
    return rules
