"""Cross-sell: association rules with FP-growth (mlxtend) and "frequently bought together".

Baskets are the completed orders (one row per order and product, set-based SQL);
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


def load_baskets(wh: Warehouse, since: Any = None, until: Any = None) -> pd.DataFrame:
    """(basket_id, product_id) of completed orders, fees and postage left out; runs on the warehouse's engine."""
    s = pd.Timestamp(since).to_pydatetime() if since is not None else None
    u = pd.Timestamp(until).to_pydatetime() if until is not None else None
    return BASKETS.run(wh, since=s, until=u).astype({"basket_id": str, "product_id": str})


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
