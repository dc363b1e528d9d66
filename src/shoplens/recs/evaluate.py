"""Honest offline evaluation: temporal split, ranking metrics, repeat vs new items, search.

Protocol (``temporal_split``): train on interactions before the cutoff; the test
truth of a customer is every product they bought on or after it, for customers
and products seen before the cutoff. ``leave_last_basket_out`` holds out each
customer's last basket instead.

>>> import pandas as pd
>>> recs = pd.DataFrame({"customer_id": ["a", "a"], "rank": [1, 2], "product_id": ["x", "y"]})
>>> truth = pd.DataFrame({"customer_id": ["a"], "product_id": ["y"]})
>>> round(ranking_metrics(recs, truth, k=2)["ndcg"], 3)
0.631
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from shoplens.errors import InsufficientDataError
from shoplens.recs.base import Recommender
from shoplens.recs.interactions import window


def temporal_split(
    interactions: pd.DataFrame,
    cutoff: Any,
    *,
    end: Any = None,
    truth_kinds: tuple[str, ...] = ("purchase",),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train interactions, test truth) for a cutoff; the truth is distinct (customer_id, product_id)."""
    cutoff = pd.Timestamp(cutoff)
    train = window(interactions, end=cutoff)
    later = window(interactions, start=cutoff, end=end)
    later = later[later["kind"].isin(truth_kinds)]
    seen = train[train["weight"] > 0]
    truth = later[later["customer_id"].isin(seen["customer_id"].unique())
                  & later["product_id"].isin(seen["product_id"].unique())]
    truth = truth[["customer_id", "product_id"]].drop_duplicates().reset_index(drop=True)
    if train.empty or truth.empty:
        raise InsufficientDataError(
            f"cutoff {cutoff:%Y-%m-%d} leaves no training data or no returning customers after it; "
            "pick a cutoff inside the data's time range"
        )
    return train, truth


def leave_last_basket_out(interactions: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, truth): each customer with 2+ baskets has their last basket held out."""
    buys = interactions[interactions["kind"] == "purchase"]
    last = buys.groupby("customer_id")["occurred_at"].transform("max")
    n_baskets = buys.groupby("customer_id")["basket_id"].transform("nunique")
    held = buys[(buys["occurred_at"] == last) & (n_baskets >= 2)]
    cust_last = interactions["customer_id"].map(held.groupby("customer_id")["occurred_at"].first())
    train = interactions[~(interactions["occurred_at"] >= cust_last)]
    truth = held[held["product_id"].isin(train.loc[train["weight"] > 0, "product_id"].unique())]
    return train, truth[["customer_id", "product_id"]].drop_duplicates().reset_index(drop=True)


def _ideal_dcg(k: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])


def ranking_metrics(recs: pd.DataFrame, truth: pd.DataFrame, k: int) -> dict[str, float]:
    """Mean NDCG, Recall, Precision, MAP and HitRate at ``k`` over customers of ``truth``.

    A customer in the truth without any recommendation counts as zero.
    """
    if truth.empty:
        return {"customers": 0, "ndcg": float("nan"), "recall": float("nan"), "precision": float("nan"),
                "map": float("nan"), "hit_rate": float("nan")}
    recs = recs[recs["rank"] <= k][["customer_id", "product_id", "rank"]]
    n_rel = truth.groupby("customer_id").size()
    hits = recs.merge(truth.assign(_rel=1), on=["customer_id", "product_id"], how="inner")
    hits = hits.sort_values(["customer_id", "rank"])
    hits["_gain"] = 1.0 / np.log2(hits["rank"] + 1.0)
    hits["_hit_no"] = hits.groupby("customer_id").cumcount() + 1
    hits["_prec"] = hits["_hit_no"] / hits["rank"]
    per = hits.groupby("customer_id").agg(dcg=("_gain", "sum"), n_hits=("_rel", "sum"), ap=("_prec", "sum"))
    per = per.reindex(n_rel.index, fill_value=0.0)
    idcg = _ideal_dcg(k)[np.minimum(n_rel.to_numpy(), k)]
    return {
        "customers": int(len(n_rel)),
        "ndcg": float(np.mean(per["dcg"].to_numpy() / idcg)),
        "recall": float(np.mean(per["n_hits"].to_numpy() / n_rel.to_numpy())),
        "precision": float(np.mean(per["n_hits"].to_numpy() / k)),
        "map": float(np.mean(per["ap"].to_numpy() / np.minimum(n_rel.to_numpy(), k))),
        "hit_rate": float(np.mean(per["n_hits"].to_numpy() > 0)),
    }


def evaluate_recommendations(recs: pd.DataFrame, truth: pd.DataFrame, train: pd.DataFrame, k: int) -> dict[str, Any]:
    """All metrics: overall, repeat items and new-to-customer items separately, coverage and novelty."""
    overall = ranking_metrics(recs, truth, k)
    bought = train.loc[train["kind"] == "purchase", ["customer_id", "product_id"]].drop_duplicates()
    flagged = truth.merge(bought.assign(_repeat=True), on=["customer_id", "product_id"], how="left")
    repeat_truth = flagged[flagged["_repeat"].eq(True)][["customer_id", "product_id"]]
    new_truth = flagged[~flagged["_repeat"].eq(True)][["customer_id", "product_id"]]
    # the "new" view ranks each customer's list without the products they already bought
    recs_new = recs.merge(bought.assign(_repeat=True), on=["customer_id", "product_id"], how="left")
    recs_new = recs_new[~recs_new["_repeat"].eq(True)].copy()
    recs_new["rank"] = recs_new.groupby("customer_id")["rank"].rank(method="first").astype(int)
    repeat = ranking_metrics(recs, repeat_truth, k)
    new = ranking_metrics(recs, new_truth, k)
    new_only = ranking_metrics(recs_new, new_truth, k)
    positive = train[train["weight"] > 0]
    n_customers = max(positive["customer_id"].nunique(), 1)
    item_share = positive.drop_duplicates(["customer_id", "product_id"]).groupby("product_id").size() / n_customers
    top = recs[recs["rank"] <= k]
    share = top["product_id"].map(item_share).fillna(1.0 / n_customers)
    n_products = max(positive["product_id"].nunique(), 1)
    return {
        **overall,
        "ndcg_repeat": repeat["ndcg"], "customers_repeat": repeat["customers"],
        "ndcg_new": new["ndcg"], "recall_new": new["recall"], "customers_new": new["customers"],
        "ndcg_new_excluding_bought": new_only["ndcg"],
        "coverage": float(top["product_id"].nunique() / n_products),
        "novelty": float(np.mean(-np.log2(share.clip(lower=1e-12)))) if len(share) else float("nan"),
        "share_repeat_in_list": float(top.merge(bought.assign(_r=1), on=["customer_id", "product_id"],
                                                how="left")["_r"].notna().mean()) if len(top) else float("nan"),
    }


def evaluate_model(
    model: Recommender,
    train: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    *,
    catalogue: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Fit ``model`` on ``train``, recommend ``k`` to every customer of ``truth`` and score it."""
    t0 = time.perf_counter()
    model.fit(train, catalogue=catalogue, segments=segments)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    customers = truth["customer_id"].unique().tolist()
    recs = model.recommend(customers, k=k, explain=False)
    rec_s = time.perf_counter() - t0
    out = evaluate_recommendations(recs, truth, train, k)
    out.update({"train_seconds": round(fit_s, 2), "recommend_ms_per_customer": round(1000 * rec_s / max(len(customers), 1), 3)})
    return out


def evaluate_models(
    models: Mapping[str, Recommender],
    train: pd.DataFrame,
    truth: pd.DataFrame,
    k: int = 10,
    *,
    catalogue: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row of metrics per model, best NDCG first."""
    rows = []
    for name, model in models.items():
        if progress:
            progress(name)
        try:
            metrics = evaluate_model(model, train, truth, k, catalogue=catalogue, segments=segments)
        except InsufficientDataError as exc:  # e.g. content model without product names
            metrics = {"error": str(exc)}
        rows.append({"model": name, **metrics})
    frame = pd.DataFrame(rows)
    if "ndcg" in frame:
        frame = frame.sort_values("ndcg", ascending=False, na_position="last")
    return frame.reset_index(drop=True)


def random_search(
    make: Callable[..., Recommender],
    space: Mapping[str, list[Any]],
    interactions: pd.DataFrame,
    cutoff: Any,
    *,
    validation_days: int = 30,
    k: int = 10,
    budget_seconds: float = 60.0,
    seed: int = 0,
    catalogue: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Random search of ``space`` within ``budget_seconds``, scored on the window before ``cutoff``.

    Only data before the cutoff is used (validation = its last ``validation_days``),
    so the test window stays untouched. Returns one row per tried setting, best first.

    >>> from shoplens.recs.interactions import load_interactions
    >>> from shoplens.recs.models import ALS
    >>> rows = load_interactions(demo_warehouse())  # the bundled demo shop, loaded (see conftest.py)
    >>> tried = random_search(lambda **p: ALS(iterations=5, **p), {"factors": [16, 32]}, rows, "2011-11-01")
    >>> tried.columns.tolist(), len(tried)
    (['factors', 'ndcg', 'train_seconds'], 2)
    """
    from sklearn.model_selection import ParameterSampler

    cutoff = pd.Timestamp(cutoff)
    before = window(interactions, end=cutoff)
    train, truth = temporal_split(before, cutoff - pd.Timedelta(days=validation_days))
    started = time.perf_counter()
    rows = []
    for params in ParameterSampler(dict(space), n_iter=_space_size(space), random_state=seed):
        if time.perf_counter() - started > budget_seconds and rows:
            break
        metrics = evaluate_model(make(**params), train, truth, k, catalogue=catalogue)
        rows.append({**params, "ndcg": metrics["ndcg"], "train_seconds": metrics["train_seconds"]})
    return pd.DataFrame(rows).sort_values("ndcg", ascending=False).reset_index(drop=True)


def _space_size(space: Mapping[str, list[Any]]) -> int:
    n = 1
    for values in space.values():
        n *= len(values)
    return n
