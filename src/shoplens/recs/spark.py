"""Recommendation models on Spark MLlib, used when the warehouse engine is Spark.

* :func:`als_factors`: implicit-feedback ALS (``pyspark.ml.recommendation.ALS`` with
  ``implicitPrefs``) on the customer x product matrix the recommender built from the
  interactions (which the :mod:`~shoplens.recs.interactions` transform computed on
  Spark). The factors come back to the driver and go into the same model object the
  DuckDB path uses (``implicit``'s ALS), so serving, fold-in and saved files are unchanged.
* :func:`fpgrowth_rules`: association rules with ``pyspark.ml.fpm.FPGrowth`` over the
  baskets transform run on Spark, in the output format of
  :func:`shoplens.recs.rules.association_rules_from_baskets` (same thresholds and support
  definition, so the same rules). MLlib finds the frequent itemsets; the rules (every
  split of an itemset, as mlxtend makes them; MLlib's own have one-product consequents)
  are derived on the driver from those itemsets. MLlib has no maximum itemset length:
  it mines every length and ``max_len`` only filters, so very low supports cost more
  than on the Python path.

ALS results are not bit-identical to ``implicit``'s: MLlib scales the regularisation
by each row's number of ratings and starts from other random factors; the tests bound
the ranking quality instead.

The example needs Java and PySpark (the ``spark`` extra), so it is not run here;
``tests/spark/test_recs_spark.py`` compares both functions with the DuckDB path.

>>> from shoplens.store.warehouse import Warehouse
>>> wh = Warehouse("shop/warehouse.duckdb", engine="spark")  # ingested with --engine spark  # doctest: +SKIP
>>> rules = fpgrowth_rules(wh, min_support=0.01, min_baskets=10, min_confidence=0.3)  # doctest: +SKIP
>>> rules.columns.tolist()  # doctest: +SKIP
['antecedent', 'consequent', 'support', 'confidence', 'lift', 'baskets']
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shoplens.errors import InsufficientDataError, UserInputError

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "baskets"]


def _session() -> Any:
    from pyspark.sql import SparkSession

    from shoplens.store.engine import spark_session

    return SparkSession.getActiveSession() or spark_session()


def als_factors(matrix: sp.csr_matrix, *, factors: int, regularization: float, alpha: float, iterations: int,
                seed: int = 0, session: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(customer factors, product factors) of implicit ALS on ``matrix`` (rows: customers, columns: products).

    Rows or columns without any interaction get zero factors (MLlib never sees them).
    """
    from pyspark.ml.recommendation import ALS as MLlibALS

    spark = session or _session()
    coo = matrix.tocoo()
    keep = coo.data > 0
    rows = pd.DataFrame({"u": coo.row[keep].astype("int32"), "i": coo.col[keep].astype("int32"),
                         "r": coo.data[keep].astype("float32")})
    if rows.empty:
        raise InsufficientDataError("ALS: no positive interactions to learn from")
    frame = spark.createDataFrame(rows, "u int, i int, r float")
    model = MLlibALS(rank=factors, maxIter=iterations, regParam=regularization, alpha=alpha, implicitPrefs=True,
                     userCol="u", itemCol="i", ratingCol="r", seed=seed, nonnegative=False,
                     coldStartStrategy="drop", numUserBlocks=2, numItemBlocks=2).fit(frame)
    user = np.zeros((matrix.shape[0], factors), dtype=np.float32)
    item = np.zeros((matrix.shape[1], factors), dtype=np.float32)
    for target, table in ((user, model.userFactors), (item, model.itemFactors)):
        pdf = table.toPandas()
        if len(pdf):
            target[pdf["id"].to_numpy()] = np.vstack(pdf["features"].to_numpy()).astype(np.float32)
    return user, item


def fpgrowth_rules(
    wh: Any,
    *,
    since: Any = None,
    until: Any = None,
    min_support: float = 0.01,
    min_baskets: int = 20,
    min_confidence: float = 0.2,
    min_lift: float = 1.0,
    max_len: int = 2,
) -> pd.DataFrame:
    """Association rules by MLlib FP-growth over the baskets of ``wh`` (its Spark engine).

    Same definitions as the Python path: support over all baskets, a rule rests on at
    least ``min_baskets`` baskets, ``max_len`` products per itemset, lift >= ``min_lift``.
    """
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    from shoplens.recs.rules import BASKETS

    for name, v in (("min_support", min_support), ("min_confidence", min_confidence)):
        if not 0 < v <= 1:
            raise UserInputError(f"{name} must be in (0, 1], got {v}")
    s = pd.Timestamp(since).to_pydatetime() if since is not None else None
    u = pd.Timestamp(until).to_pydatetime() if until is not None else None
    engine = wh.engine
    baskets = engine.frame(BASKETS.render(since=s, until=u))
    grouped = baskets.groupBy("basket_id").agg(F.collect_set(F.col("product_id").cast("string")).alias("items")).cache()
    n_baskets = grouped.count()
    if n_baskets < 2:
        grouped.unpersist()
        raise InsufficientDataError("rules: need at least 2 orders with products (load orders/order_items first)")
    support = max(min_support, min_baskets / n_baskets)
    fp = FPGrowth(itemsCol="items", minSupport=support).fit(grouped)
    # MLlib's own rules have one-product consequents only; mlxtend's (the DuckDB path) split
    # every frequent itemset both ways, so rules are derived here from the itemsets
    counts = {frozenset(r["items"]): int(r["freq"])
              for r in fp.freqItemsets.filter(F.size("items") <= max_len).collect()}
    grouped.unpersist()
    rows = []
    for itemset, freq in counts.items():
        if len(itemset) < 2:
            continue
        for size in range(1, len(itemset)):
            for antecedent in combinations(sorted(itemset), size):
                a = frozenset(antecedent)
                confidence = freq / counts[a]
                if confidence < min_confidence:
                    continue
                consequent = itemset - a
                lift = confidence / (counts[consequent] / n_baskets)
                if lift >= min_lift:
                    rows.append((" + ".join(sorted(a)), " + ".join(sorted(consequent)), freq / n_baskets,
                                 confidence, lift, freq))
    out = pd.DataFrame(rows, columns=RULE_COLUMNS).astype({"support": float, "confidence": float, "lift": float,
                                                            "baskets": int})
    return out.sort_values(["lift", "confidence", "antecedent", "consequent"],
                           ascending=[False, False, True, True]).reset_index(drop=True)
