"""Demo step: train the recommender, show recommendations with reasons, frequently bought together
and association rules, and batch-score every customer into ``recommendations``."""

from __future__ import annotations

import time

import pandas as pd
import plotly.express as px

from shoplens.cli_common import frame_table, rows_table
from shoplens.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    from shoplens.privacy.ids import to_external
    from shoplens.recs.service import load_model, mine_rules, score_all, train, with_names
    from shoplens.services import recommend

    wh = ctx.warehouse
    t0 = time.perf_counter()
    trained = train(wh)
    version, model = load_model(wh)
    ctx.console.print(rows_table([{"model": trained["model"], "version": version, "customers": trained["customers"],
                                   "products": trained["products"], "interactions": trained["interactions"],
                                   "train_seconds": trained["train_seconds"]}], title="Recommender trained"))
    # three customers: a frequent buyer, an occasional one, and one the shop has never seen
    counts = wh.query("SELECT customer_id, count(*) AS orders FROM orders WHERE customer_id IS NOT NULL "
                      "AND status = 'completed' GROUP BY 1 ORDER BY orders DESC, customer_id")
    internal = [str(counts["customer_id"].iloc[0]), str(counts["customer_id"].iloc[len(counts) // 2])]
    picks = to_external(wh, internal) + ["new-visitor"]  # the shop's own ids, as a user would pass them
    recs = recommend(wh, picks, k=5, model=model)
    names = model.catalogue_.set_index("product_id")["name"]
    shown = recs.assign(name=recs["product_id"].map(names))[["customer_id", "rank", "product_id", "name", "score", "reason"]]
    ctx.console.print(frame_table(shown, title="Recommendations with reasons", max_rows=15))
    rows = score_all(wh, k=10, model=model, version=version)
    ctx.console.print(f"{rows:,} recommendations written to the `recommendations` table.")

    rules = mine_rules(wh, min_support=0.01, min_baskets=10, min_confidence=0.3)
    top_rules = with_names(wh, rules.head(10).rename(columns={"antecedent": "product_id"}), "product_id") \
        .rename(columns={"product_id": "antecedent", "product_id_name": "antecedent_name"}) if len(rules) else rules
    if len(top_rules):
        top_rules = with_names(wh, top_rules.rename(columns={"consequent": "product_id"}), "product_id") \
            .rename(columns={"product_id": "consequent", "product_id_name": "consequent_name"})
    if len(top_rules):
        top_rules = top_rules[["antecedent_name", "consequent_name", "support", "confidence", "lift", "baskets"]]
    ctx.console.print(frame_table(top_rules, title=f"Association rules (FP-growth, {len(rules):,} rules, strongest lift first)"))
    best_seller = str(model.products_[int(model.popularity_.argmax())])
    together = model.frequently_bought_together(best_seller, k=5)
    together = together.assign(name=together["together_product_id"].map(names))
    ctx.console.print(frame_table(together.drop(columns="product_id"),
                                  title=f"Frequently bought together with {names.get(best_seller, best_seller)}"))
    mix = reason_kinds(wh)
    fig = px.bar(rules.head(15).assign(rule=lambda d: d["antecedent"] + " → " + d["consequent"]),
                 x="lift", y="rule", orientation="h", hover_data=["support", "confidence", "baskets"],
                 title="Strongest association rules (lift)") if len(rules) else None
    ctx.report.add_section(
        "Recommendations and cross-sell", key="recs",
        text=(f"A {trained['model']} recommender (v{version}) trained on {trained['interactions']:,} interactions in "
              f"{trained['train_seconds']} s. Every recommendation carries its reason; customers who refused "
              "personalisation and unknown visitors get the popular list. Association rules come from FP-growth over "
              f"completed orders (at least 10 orders per rule). Held-out results of every model are in docs/recs.md."),
        tables=[("Recommendations with reasons", shown), ("Kinds of reasons in these lists", mix),
                (f"Frequently bought together with {names.get(best_seller, best_seller)}", together.drop(columns="product_id")),
                ("Association rules", top_rules)],
        figures=[fig] if fig is not None else [],
    )
    ctx.console.print(f"[dim]recommendations step: {time.perf_counter() - t0:.1f} s[/dim]")
    ctx.results["recs"] = {"version": version, "model": trained["model"], "rules": len(rules),
                           "recommendations": rows, "seconds": round(time.perf_counter() - t0, 1)}


def reason_kinds(wh) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """How the batch-scored lists explain themselves (set-based, over the whole table)."""
    return wh.query("""
        SELECT CASE WHEN reason LIKE 'you bought it%' THEN 'buy again'
                    WHEN reason LIKE 'because you %' THEN 'related to a product they bought, viewed or rated'
                    WHEN reason LIKE 'popular%' OR reason LIKE 'trending%' THEN 'popular (no or little history, or no consent)'
                    ELSE 'model: ' || reason END AS reason,
               count(*) AS recommendations
        FROM recommendations GROUP BY 1 ORDER BY 2 DESC""")
