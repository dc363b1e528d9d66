"""``shoplens recs ...``: train, recommend, evaluate, similar, rules, score, update.

Commands are thin: they parse options and call :mod:`shoplens.recs.service`.
Customer ids in and out are the shop's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table
from shoplens.errors import UserInputError

if TYPE_CHECKING:
    import pandas as pd

recs_app = typer.Typer(help="Recommendations and cross-sell: train, recommend, evaluate, similar items, rules.",
                       no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]


def _status(message: str) -> None:
    console.print(f"[dim]… {escape(message)}[/dim]")


@recs_app.command("train")
def train_cmd(
    ctx: typer.Context,
    until: Annotated[Optional[str], typer.Option("--until", help="train on orders/events before this date (YYYY-MM-DD) [default: all]",
                                                 show_default=False)] = None,
    model: Annotated[str, typer.Option("--model", help="auto (the hybrid, or buy_again when history is too short) or a model "
                                       "name: hybrid, buy_again, popularity, trending, item_knn, ease, als, bpr, content")] = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Train a recommender on the warehouse and register it as `recs` (the one served).

    Customers without personalisation consent are left out of training.

    JSON: {model, name, version, until, data_start, data_end, customers, products, interactions, train_seconds, note}.
    """
    from shoplens.recs.service import train

    with open_warehouse(ctx) as wh:
        if json_out:
            result = train(wh, until=until, model=model)
        else:
            with console.status("training the recommender…"):
                result = train(wh, until=until, model=model, progress=_status)
    if json_out:
        print_json(result)
        return
    console.print(rows_table([{"field": k, "value": v} for k, v in result.items() if v not in ("", None)],
                             title="Recommender trained"))


@recs_app.command("recommend")
def recommend_cmd(
    ctx: typer.Context,
    customer: Annotated[Optional[str], typer.Argument(help="one customer (the shop's id): print the list; "
                                                      "or give --users-file and --output", show_default=False)] = None,
    users_file: Annotated[Optional[Path], typer.Option("--users-file", help="customer ids, one per line, or a CSV with a customer_id column",
                                                       show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="CSV to write: customer_id, rank, product_id, score, reason, personalised",
                                                   show_default=False)] = None,
    k: Annotated[int, typer.Option("--k", help="recommendations per customer")] = 10,
    exclude_purchased: Annotated[bool, typer.Option("--exclude-purchased", help="never recommend a product the customer bought before "
                                                    "(default: repeats allowed when the model judges them likely)")] = False,
    in_stock: Annotated[bool, typer.Option("--in-stock", help="only products not marked out of stock")] = False,
    category: Annotated[Optional[list[str]], typer.Option("--category", help="only these categories (repeatable)", show_default=False)] = None,
    price_min: Annotated[Optional[float], typer.Option("--price-min", help="lowest price allowed", show_default=False)] = None,
    price_max: Annotated[Optional[float], typer.Option("--price-max", help="highest price allowed", show_default=False)] = None,
    exclude: Annotated[Optional[Path], typer.Option("--exclude", help="file of product ids never to recommend, one per line",
                                                    show_default=False)] = None,
    max_per_category: Annotated[Optional[int], typer.Option("--max-per-category", help="diversity: at most N products of one category",
                                                            show_default=False)] = None,
    live: Annotated[bool, typer.Option("--live", help="also use each one's latest behaviour events (views, baskets, "
                                       "purchases) as the API does; default: the served model alone")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Top-K recommendations with a reason each: for one CUSTOMER (printed), or for the customers in a file (CSV).

    Columns: customer_id, rank, product_id, name, score (0-1), reason, personalised. Customers
    without personalisation consent, and ids that are not customers (cold start), get the
    non-personalised popular list (reason "popular now (not personalised)").
    The CSV is safe to open in a spreadsheet (cells that would run as formulas start with ').

    JSON: {output, customers, rows, not_personalised, k}; not_personalised counts the
    customers whose list did not use their history (no consent, or unknown). For one
    CUSTOMER without --output: {customer, personalised, recommendations: [{rank, product_id, name, score, reason}]}.
    """
    from shoplens.errors import InputFileError
    from shoplens.recs.base import RecFilters
    from shoplens.recs.service import read_customer_ids
    from shoplens.services import recommend
    from shoplens.store.files import write_export

    if k < 1:
        raise UserInputError(f"--k must be at least 1 (got {k})")
    if (customer is None) == (users_file is None):
        raise UserInputError("give one CUSTOMER id, or --users-file FILE with --output CSV")
    if users_file is not None and output is None:
        raise UserInputError("--users-file needs --output CSV (where to write the lists)")
    ids = [customer] if customer is not None else read_customer_ids(users_file)
    excluded: frozenset[str] = frozenset()
    if exclude is not None:
        if not exclude.is_file():
            raise InputFileError(str(exclude), "file not found", hint="one product id per line")
        excluded = frozenset(ln.strip() for ln in exclude.read_text(encoding="utf-8").splitlines() if ln.strip())
    filters = RecFilters(exclude_purchased=exclude_purchased, in_stock_only=in_stock,
                         categories=tuple(category) if category else None, price_min=price_min,
                         price_max=price_max, exclude_products=excluded, max_per_category=max_per_category)
    if customer is not None and output is None:
        from shoplens.recs.service import with_names

        with open_warehouse(ctx, read_only=True) as wh:  # nothing is written
            frame = with_names(wh, recommend(wh, ids, k=k, filters=filters, live=live), "product_id")
        _print_one(customer, frame, json_out)
        return
    assert output is not None
    if output.parent and not output.parent.exists():
        raise InputFileError(str(output), "the output folder does not exist", hint="create it or choose another path")
    from shoplens.recs.service import with_names

    with open_warehouse(ctx) as wh:  # writable: the output file is recorded for erasure
        frame = recommend(wh, ids, k=k, filters=filters, live=live)
        # the product's name next to its id, so the file reads without the catalogue
        named = with_names(wh, frame, "product_id").rename(columns={"product_id_name": "name"})
        order = list(frame.columns)
        frame = named[order[:order.index("product_id") + 1] + ["name"] + order[order.index("product_id") + 1:]]
        write_export(wh, output, frame, kind="recommendations", id_column="customer_id")
    # a list is personalised when the model ranked it from the customer's history (not consent alone)
    not_personal = int((~frame.groupby("customer_id", sort=False)["personalised"].any()).sum())
    summary = {"output": str(output), "customers": int(frame["customer_id"].nunique()), "rows": int(len(frame)),
               "not_personalised": not_personal, "k": k}
    if json_out:
        print_json(summary)
        return
    console.print(frame_table(frame.head(20), title=f"First recommendations (all {len(frame):,} rows in {output})"))
    if not_personal:
        console.print(f"{not_personal} customer(s) got the popular list (unknown to the model, or no "
                      "personalisation consent).")


def _print_one(customer: str, frame: pd.DataFrame, json_out: bool) -> None:
    """One customer's list on the terminal (or as JSON)."""
    personal = bool(frame["personalised"].any()) if len(frame) else False
    cols = [c for c in ("rank", "product_id", "product_id_name", "score", "reason") if c in frame.columns]
    if json_out:
        from shoplens.customers.output import records

        rows = records(frame[cols].rename(columns={"product_id_name": "name"}))
        print_json({"customer": customer, "personalised": personal, "recommendations": rows})
        return
    console.print(frame_table(frame[cols].rename(columns={"product_id_name": "name"}), title=f"Recommendations for customer {customer}"))
    if not personal:
        console.print("The popular list: the customer is unknown to the model or gave no personalisation consent.")


@recs_app.command("evaluate")
def evaluate_cmd(
    ctx: typer.Context,
    cutoff: Annotated[Optional[str], typer.Option("--cutoff", help="train before this date, test on purchases on/after it (YYYY-MM-DD)",
                                                  show_default=False)] = None,
    k: Annotated[int, typer.Option("--k", help="list length K of the metrics")] = 10,
    models: Annotated[Optional[str], typer.Option("--models", help="comma-separated models to compare [default: all]",
                                                  show_default=False)] = None,
    protocol: Annotated[str, typer.Option("--protocol", help="temporal (needs --cutoff) or last-basket (leave the last basket out)")] = "temporal",
    json_out: JsonOpt = False,
) -> None:
    """Compare models on held-out data: NDCG, Recall, MAP, HitRate@K, coverage, novelty, repeat vs new items.

    JSON: {protocol, cutoff, k, customers, test_pairs, train_interactions, best,
    models: [{model, ndcg, recall, precision, map, hit_rate, ndcg_repeat, ndcg_new, coverage, novelty, train_seconds, ...}]}.
    """
    from shoplens.recs.service import evaluate

    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    with open_warehouse(ctx, read_only=True) as wh:
        if json_out:
            result = evaluate(wh, cutoff=cutoff, k=k, models=names, protocol=protocol)
        else:
            with console.status("evaluating…") as status:
                result = evaluate(wh, cutoff=cutoff, k=k, models=names, protocol=protocol,
                                  progress=lambda m: status.update(f"evaluating {m}…"))
    if json_out:
        print_json(result)
        return
    cols = ["model", "ndcg", "recall", "map", "hit_rate", "ndcg_repeat", "ndcg_new", "coverage", "novelty", "train_seconds"]
    rows = [{c: (round(r[c], 4) if isinstance(r.get(c), float) else r.get(c)) for c in cols} for r in result["models"]]
    console.print(rows_table(rows, title=f"{protocol} evaluation at K={k}"
                             + (f", cutoff {result['cutoff'][:10]}" if result["cutoff"] else "")
                             + f": {result['customers']:,} customers"))
    console.print(f"best: [bold]{escape(str(result['best']))}[/bold]")


@recs_app.command("similar")
def similar_cmd(
    ctx: typer.Context,
    product_id: Annotated[Optional[str], typer.Argument(metavar="PRODUCT", help="product id", show_default=False)] = None,
    product_opt: Annotated[Optional[str], typer.Option("--product", help="product id (the same as PRODUCT)",
                                                       show_default=False)] = None,
    k: Annotated[int, typer.Option("--k", help="how many similar products")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Products most similar to PRODUCT (from the served recommender), and those bought with it.

    JSON: {product_id, similar: [{rank, similar_product_id, name, score}], bought_together: [...]}.
    """
    from shoplens.recs.service import load_model

    if product_id is not None and product_opt is not None and product_id != product_opt:
        raise UserInputError(f"two products given ({product_id} and --product {product_opt}); give one")
    product = product_id if product_id is not None else product_opt
    if product is None:
        raise UserInputError("give one PRODUCT id, e.g. `shoplens recs similar 22423`")
    if k < 1:
        raise UserInputError(f"--k must be at least 1 (got {k})")
    with open_warehouse(ctx, read_only=True) as wh:
        _, model = load_model(wh)
    similar = model.similar_items(product, k=k)
    together = model.frequently_bought_together(product, k=k)
    if "name" not in together:
        names = model.catalogue_.set_index("product_id")["name"]
        together = together.assign(name=together["together_product_id"].map(names))
    if json_out:
        print_json({"product_id": product, "similar": similar.drop(columns="product_id").to_dict("records"),
                    "bought_together": together.drop(columns="product_id").to_dict("records")})
        return
    console.print(frame_table(similar.drop(columns="product_id"), title=f"Similar to {product}"))
    if len(together):
        console.print(frame_table(together.drop(columns="product_id"), title=f"Frequently bought with {product}"))


@recs_app.command("rules")
def rules_cmd(
    ctx: typer.Context,
    min_support: Annotated[float, typer.Option("--min-support", help="share of orders holding the whole rule")] = 0.01,
    min_baskets: Annotated[int, typer.Option("--min-baskets", help="orders a rule must rest on at least (rules on few orders are noise)")] = 20,
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="P(consequent | antecedent) at least")] = 0.2,
    min_lift: Annotated[float, typer.Option("--min-lift", help="lift at least (1 = independent)")] = 1.0,
    max_len: Annotated[int, typer.Option("--max-len", help="largest product set (2 = pairs)")] = 2,
    product: Annotated[Optional[str], typer.Option("--product", help="only rules whose antecedent holds this product",
                                                   show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="only orders from this date (YYYY-MM-DD)", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="rules to print / include in JSON")] = 20,
    level: Annotated[str, typer.Option("--level", help="items of a rule: product, or category (which categories "
                                                     "are bought together)")] = "product",
    json_out: JsonOpt = False,
) -> None:
    """Association rules (FP-growth) over completed orders with support, confidence and lift.

    Written to the `association_rules` table (`association_rules_category` with --level category).
    JSON: {level, rules: [{antecedent, consequent, support, confidence, lift, baskets}], count, reason};
    `reason` says why no rule passes, when none does.
    """
    from shoplens.recs.service import mine_rules, with_names

    with open_warehouse(ctx) as wh:
        with console.status("mining rules…"):
            rules = mine_rules(wh, min_support=min_support, min_baskets=min_baskets, min_confidence=min_confidence,
                               min_lift=min_lift, max_len=max_len, since=since, level=level)
        reason = rules.attrs.get("reason")
        if product is not None:
            rules = rules[rules["antecedent"].str.split(" + ", regex=False).map(lambda items: product in items)]
            if rules.empty and reason is None:
                reason = f"no rule passing the thresholds has {product} in its antecedent"
        shown = rules.head(limit)
        named = with_names(wh, shown.rename(columns={"antecedent": "product_id"}), "product_id") \
            .rename(columns={"product_id": "antecedent", "product_id_name": "antecedent_name"}) \
            if len(shown) and level == "product" else shown
    if json_out:
        print_json({"level": level, "rules": named.to_dict("records"), "count": int(len(rules)), "reason": reason})
        return
    if rules.empty:
        console.print(f"No rule passes the thresholds: {escape(str(reason))}.")
        return
    console.print(frame_table(named, title=f"Association rules per {level} ({len(rules):,}; strongest lift first)",
                              max_rows=limit))


@recs_app.command("score")
def score_cmd(
    ctx: typer.Context,
    k: Annotated[int, typer.Option("--k", help="recommendations per customer")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Batch-score every customer into the `recommendations` table (non-consenting customers get the popular list).

    JSON: {rows, k}.
    """
    from shoplens.recs.service import score_all

    if k < 1:
        raise UserInputError(f"--k must be at least 1 (got {k})")
    with open_warehouse(ctx) as wh:
        with console.status("scoring all customers…"):
            rows = score_all(wh, k=k)
    if json_out:
        print_json({"rows": rows, "k": k})
        return
    console.print(f"Wrote {rows:,} recommendations to the `recommendations` table.")


@recs_app.command("update")
def update_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Fold orders/events newer than the served model into it without a full retrain (new version).

    JSON: {version, customers_updated, interactions}.
    """
    from shoplens.recs.service import update

    with open_warehouse(ctx) as wh:
        result = update(wh)
    if json_out:
        print_json(result)
        return
    console.print(rows_table([result], title="Incremental update"))


def register(app: typer.Typer) -> None:
    app.add_typer(recs_app, name="recs")
