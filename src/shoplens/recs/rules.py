"""Cross-sell: association rules with FP-growth (mlxtend) and "frequently bought together".

Baskets are the completed orders (one row per order and product, set-based SQL; or,
at category level, per order and category);
FP-growth finds product sets bought together in at least ``min_support`` of
baskets and ``min_baskets`` baskets (rules resting on a handful of orders are not
trusted); rules keep their support, confidence and lift.

>>> import pandas as pd
>>> baskets = pd.DataFrame({"basket_id": ["1", "1", "2", "2", "3"], "product_id": ["a", "b", "a", "b", "c"]})
>>> r = association_rules_from_baskets(baskets, min_support=0.5, min_baskets=2, min_confidence=0.5)
>>> r[["antecedent", "consequent", "confidence"]].values.tolist()
[['a', 'b', 1.0], ['b', 'a', 1.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.transform import Transform
from shoplens.store.warehouse import Warehouse

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "baskets"]

BASKETS = Transform("baskets", """
SELECT DISTINCT oi.order_id AS basket_id, oi.product_id
FROM order_items oi JOIN orders o USING (order_id)
WHERE oi.quantity > 0 AND coalesce(o.status, 'completed') NOT IN ('cancelled', 'returned', 'refunded', 'adjustment')
  AND ({since} IS NULL OR o.ordered_at >= {since}) AND ({until} IS NULL OR o.ordered_at < {until})
  AND oi.product_id NOT IN (SELECT product_id FROM products WHERE category = 'fees & services')
""", inputs=("order_items", "orders", "products"), params={"since": None, "until": None})


# the same baskets with each product replaced by its category (the item of a category-level rule)
CATEGORY_BASKETS = Transform("category_baskets", """
SELECT DISTINCT b.basket_id, coalesce(p.category, 'uncategorised') AS product_id
FROM (""" + BASKETS.sql + """) b LEFT JOIN products p USING (product_id)
""", inputs=("order_items", "orders", "products"), params={"since": None, "until": None})
LEVELS = ("product", "category")


def load_baskets(wh: Warehouse, since: Any = None, until: Any = None, level: str = "product") -> pd.DataFrame:
    """(basket_id, product_id) of completed orders, fees and postage left out; runs on the warehouse's engine.
    At ``level="category"`` the item (still in column ``product_id``) is the product's category."""
    if level not in LEVELS:
        raise UserInputError(f"--level {level!r}: choose product or category")
    s = pd.Timestamp(since).to_pydatetime() if since is not None else None
    u = pd.Timestamp(until).to_pydatetime() if until is not None else None
    transform = BASKETS if level == "product" else CATEGORY_BASKETS
    return transform.run(wh, since=s, until=u).astype({"basket_id": str, "product_id": str})


def no_rule_reason(baskets: pd.DataFrame, *, min_support: float = 0.01, min_baskets: int = 20,
                   min_confidence: float = 0.2, min_lift: float = 1.0, item: str = "product") -> str:
    """Why no pair passes the thresholds, in words: the first threshold the best pair fails.

    >>> b = pd.DataFrame({"basket_id": ["1", "1", "2", "2", "3"], "product_id": ["a", "b", "a", "b", "c"]})
    >>> no_rule_reason(b, min_support=0.5, min_baskets=3)
    'no product is in 3 orders (--min-baskets 3, --min-support 0.5 of 3 orders); the most frequent, a, is in 2'
    """
    n = int(baskets["basket_id"].nunique())
    if n < 2:
        return f"only {n} order(s) with {item}s: rules need at least 2"
    needed = int(np.ceil(max(min_support * n, min_baskets)))
    where = f"(--min-baskets {min_baskets}, --min-support {min_support:g} of {n:,} orders)"
    counts = baskets.groupby("product_id")["basket_id"].nunique().sort_values(ascending=False, kind="stable")
    frequent = counts[counts >= needed]
    if frequent.empty:
        return (f"no {item} is in {needed:,} orders {where}; the most frequent, {counts.index[0]}, "
                f"is in {int(counts.iloc[0]):,}")
    kept = baskets[baskets["product_id"].isin(frequent.index)].drop_duplicates()
    pairs = kept.merge(kept, on="basket_id")
    pairs = pairs[pairs["product_id_x"] < pairs["product_id_y"]]
    if pairs.empty:
        return f"no two {item}s that are each in {needed:,} orders {where} are ever bought together"
    together = pairs.groupby(["product_id_x", "product_id_y"]).size().sort_values(ascending=False, kind="stable")
    (a, b), top = together.index[0], int(together.iloc[0])
    if top < needed:
        return f"no pair of {item}s is in {needed:,} orders together {where}; the most frequent pair, {a} + {b}, is in {top:,}"
    ok = together[together >= needed].reset_index(name="both")
    rows = pd.concat([ok.assign(ante=ok["product_id_x"], cons=ok["product_id_y"]),
                      ok.assign(ante=ok["product_id_y"], cons=ok["product_id_x"])], ignore_index=True)
    rows["confidence"] = rows["both"] / rows["ante"].map(counts)
    rows["lift"] = rows["confidence"] / (rows["cons"].map(counts) / n)
    best = rows.sort_values(["confidence", "ante", "cons"], ascending=[False, True, True]).iloc[0]
    if best["confidence"] < min_confidence:
        return (f"the pairs in {needed:,} orders are too weak: the highest confidence is {best['confidence']:.3f} "
                f"({best['ante']} -> {best['cons']}), below --min-confidence {min_confidence:g}")
    strong = rows[rows["confidence"] >= min_confidence]
    top_lift = strong.sort_values(["lift", "ante", "cons"], ascending=[False, True, True]).iloc[0]
    return (f"no pair is bought together more than chance allows: the highest lift among pairs passing support and "
            f"confidence is {top_lift['lift']:.3f} ({top_lift['ante']} -> {top_lift['cons']}), below --min-lift {min_lift:g}")


def association_rules_from_baskets(
    baskets: pd.DataFrame,
    *,
    min_support: float = 0.01,
    min_baskets: int = 20,
    min_confidence: float = 0.2,
    min_lift: float = 1.0,
    max_len: int = 2,
) -> pd.DataFrame:
    """Rules ``antecedent -> consequent`` (items joined by " + ") with support, confidence, lift, baskets."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    for name, v in (("min_support", min_support), ("min_confidence", min_confidence)):
        if not 0 < v <= 1:
            raise UserInputError(f"{name} must be in (0, 1], got {v}")
    n_baskets = baskets["basket_id"].nunique()
    if n_baskets < 2:
        raise InsufficientDataError("rules: need at least 2 orders with products (load orders/order_items first)")
    # a rule must rest on at least min_baskets orders, whatever the support fraction says
    support = max(min_support, min_baskets / n_baskets)
    counts = baskets.groupby("product_id")["basket_id"].nunique()
    frequent = counts[counts >= support * n_baskets].index
    kept = baskets[baskets["product_id"].isin(frequent)]
    # a basket with a single frequent product adds to no rule; dropping it shrinks the FP-tree
    kept = kept[kept.groupby("basket_id")["product_id"].transform("size") >= 2]
    if kept.empty:
        return pd.DataFrame(columns=RULE_COLUMNS)
    b_codes, b_index = pd.factorize(kept["basket_id"])
    p_codes, p_index = pd.factorize(kept["product_id"])
    onehot = sp.csr_matrix((np.ones(len(kept), dtype=bool), (b_codes, p_codes)), shape=(len(b_index), len(p_index)))
    # only products above the support floor are columns, so a dense frame stays small and fast
    frame = pd.DataFrame(onehot.toarray(), columns=[str(p) for p in p_index])
    # only baskets holding 2+ frequent products are in the matrix; rescale support to all baskets
    itemsets = fpgrowth(frame, min_support=support * n_baskets / len(b_index), use_colnames=True, max_len=max_len)
    if len(itemsets) == 0 or itemsets["itemsets"].map(len).max() < 2:
        return pd.DataFrame(columns=RULE_COLUMNS)
    itemsets["support"] = itemsets["support"] * len(b_index) / n_baskets
    # single products: their true support over all baskets (the filter above only kept multi-product ones)
    single = itemsets["itemsets"].map(len) == 1
    itemsets.loc[single, "support"] = itemsets.loc[single, "itemsets"].map(
        lambda s: counts[next(iter(s))] / n_baskets).astype(float)
    rules = association_rules(itemsets, metric="confidence", min_threshold=min_confidence,
                              num_itemsets=n_baskets)
    rules = rules[rules["lift"] >= min_lift]
    out = pd.DataFrame({
        "antecedent": rules["antecedents"].map(lambda s: " + ".join(sorted(s))),
        "consequent": rules["consequents"].map(lambda s: " + ".join(sorted(s))),
        "support": rules["support"].astype(float),
        "confidence": rules["confidence"].astype(float),
        "lift": rules["lift"].astype(float),
        "baskets": np.rint(rules["support"] * n_baskets).astype(int),
    })
    # ties broken by the product ids, so the order is the same on every run
    return out.sort_values(["lift", "confidence", "antecedent", "consequent"],
                           ascending=[False, False, True, True]).reset_index(drop=True)


def bought_together(rules: pd.DataFrame, per_product: int = 10) -> pd.DataFrame:
    """Per product, the products its single-item rules point to: product_id, rank, together_product_id,
    confidence, lift, support."""
    single = rules[~rules["antecedent"].str.contains(r" \+ ", regex=True)
                   & ~rules["consequent"].str.contains(r" \+ ", regex=True)]
    single = single.sort_values(["antecedent", "confidence", "lift"], ascending=[True, False, False])
    single = single.groupby("antecedent").head(per_product).copy()
    single["rank"] = single.groupby("antecedent").cumcount() + 1
    return single.rename(columns={"antecedent": "product_id", "consequent": "together_product_id"})[
        ["product_id", "rank", "together_product_id", "confidence", "lift", "support"]].reset_index(drop=True)
