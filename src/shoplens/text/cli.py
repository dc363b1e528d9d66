"""``shoplens text ...``: score files, train sentiment, analyse the warehouse, ask questions.

    shoplens text sentiment reviews.csv --column text --output scored.csv
    shoplens text intent messages.csv --column text --output intents.csv
    shoplens text aspects reviews.csv --column text --output aspects.jsonl
    shoplens text train sentiment --data my_reviews.csv --text-column body --rating-column stars
    shoplens text train sentiment --data labelled.csv --text-column body --label-column label --adapt-to reviews
    shoplens text analyze
    shoplens text trend --by category
    shoplens text entities --type order_id
    shoplens text topics --language en
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, frame_table, open_warehouse, print_json, rows_table

LangOpt = Annotated[str, typer.Option("--lang", help="auto (detect per row), zh or en")]
ColumnOpt = Annotated[str, typer.Option("--column", help="the CSV column holding the text")]


def register(app: typer.Typer) -> None:
    text = typer.Typer(help="Text insight: sentiment, aspects, intent, topics and entities (Chinese and English).",
                       no_args_is_help=True)
    train = typer.Typer(help="Train text models on your own data.", no_args_is_help=True)
    text.add_typer(train, name="train")
    app.add_typer(text, name="text")

    @text.command("sentiment")
    def sentiment_cmd(
        file: Annotated[Path, typer.Argument(help="UTF-8 CSV file")],
        column: ColumnOpt,
        output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write: input columns + sentiment, sentiment_score")],
        lang: LangOpt = "auto",
        model: Annotated[Optional[Path], typer.Option(help="a model from `shoplens text train sentiment` instead of the shipped one")] = None,
    ) -> None:
        """Add `sentiment` (positive/negative/neutral) and `sentiment_score` (probability of positive)."""
        from shoplens.text.analyze import score_sentiment
        from shoplens.text.io import read_texts, write_output

        frame = read_texts(file, column)
        models = None
        if model is not None:
            from shoplens.text.sentiment import SentimentModel

            m = SentimentModel.load(model)
            models = {"zh_sentiment": m, "en_sentiment": m}
        with console.status(f"scoring {len(frame):,} rows"):
            scored = score_sentiment(frame[column].tolist(), lang, models=models)
        frame["sentiment"] = scored["sentiment"].values
        frame["sentiment_score"] = scored["sentiment_score"].round(4).values
        write_output(frame, output)
        counts = frame["sentiment"].value_counts().to_dict()
        console.print(f"wrote {len(frame):,} rows to {escape(str(output))} "
                      f"({escape(', '.join(f'{k}: {v:,}' for k, v in counts.items()))})")

    @text.command("intent")
    def intent_cmd(
        file: Annotated[Path, typer.Argument(help="UTF-8 CSV file")],
        column: ColumnOpt,
        output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write: input columns + intent, intent_score")],
        lang: LangOpt = "auto",
    ) -> None:
        """Add `intent` (27 Bitext support intents or `other`) and `intent_score` (confidence)."""
        from shoplens.text.analyze import languages_for, score_intent
        from shoplens.text.io import read_texts, write_output

        frame = read_texts(file, column)
        languages_for([], lang)  # validates --lang
        scored = score_intent(frame[column].tolist())
        frame["intent"] = scored["intent"].values
        frame["intent_score"] = scored["intent_score"].round(4).values
        write_output(frame, output)
        console.print(f"wrote {len(frame):,} rows to {escape(str(output))}")

    @text.command("aspects")
    def aspects_cmd(
        file: Annotated[Path, typer.Argument(help="UTF-8 CSV file")],
        column: ColumnOpt,
        output: Annotated[Path, typer.Option("--output", "-o", help="JSON Lines to write: one object per row with `aspects`")],
        lang: LangOpt = "auto",
    ) -> None:
        """Write each row as JSON with `aspects`: a list of {aspect, polarity, evidence}."""
        from shoplens.text.analyze import extract_aspects
        from shoplens.text.io import read_texts, write_jsonl

        frame = read_texts(file, column)
        found = extract_aspects(frame[column].tolist(), lang)
        records = [dict(row, aspects=a) for row, a in zip(frame.to_dict("records"), found)]
        write_jsonl(records, output)
        console.print(f"wrote {len(records):,} rows to {escape(str(output))} ({sum(len(a) for a in found):,} aspect mentions)")

    @text.command("entities")
    def entities_cmd(
        ctx: typer.Context,
        file: Annotated[Optional[Path], typer.Argument(help="UTF-8 CSV file; without it, the warehouse's text_entities")] = None,
        column: Annotated[str, typer.Option("--column", help="the CSV column holding the text")] = "text",
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="with FILE: JSON Lines, each row with `entities` [{type, text, start, end}]")] = None,
        type_: Annotated[Optional[str], typer.Option("--type", help="warehouse: only this entity type (product, brand, order_id, amount, date, size, colour)")] = None,
        source: Annotated[Optional[str], typer.Option(help="warehouse: review or message")] = None,
        limit: Annotated[int, typer.Option(help="warehouse: rows to show")] = 20,
        json_out: Annotated[bool, typer.Option("--json", help="warehouse: print a JSON list of {type, value, mentions, texts, in_reviews, in_messages}")] = False,
    ) -> None:
        """Entities (products, brands, order numbers, amounts, dates, sizes, colours): from a file, or the most mentioned in the warehouse."""
        if file is None:
            from shoplens.text.insights import top_entities

            with open_warehouse(ctx, read_only=True) as wh:
                _show(top_entities(wh, type=type_, source=source, limit=limit), "Most mentioned entities", json_out)
            return
        from shoplens.errors import UserInputError
        from shoplens.text.entities import EntityExtractor
        from shoplens.text.io import read_texts, write_jsonl

        if output is None:
            raise UserInputError("give --output FILE.jsonl for the entities of a file")
        frame = read_texts(file, column)
        ex = EntityExtractor()
        write_jsonl([dict(r, entities=ex.extract(r[column])) for r in frame.to_dict("records")], output)
        console.print(f"wrote {len(frame):,} rows to {escape(str(output))}")

    @train.command("sentiment")
    def train_sentiment_cmd(
        ctx: typer.Context,
        data: Annotated[Path, typer.Option("--data", help="UTF-8 CSV with texts and labels or star ratings")],
        text_column: Annotated[str, typer.Option("--text-column", help="column holding the review text")],
        label_column: Annotated[Optional[str], typer.Option("--label-column", help="column with 1/0, pos/neg or positive/negative/neutral")] = None,
        rating_column: Annotated[Optional[str], typer.Option("--rating-column", help="column with 1-5 stars (1-2 negative, 3 neutral, 4-5 positive)")] = None,
        output: Annotated[Path, typer.Option("--output", "-o", help="model file to write")] = Path("sentiment_model.pkl"),
        holdout: Annotated[float, typer.Option(help="share held out to report accuracy before the final fit on all rows")] = 0.2,
        lang: Annotated[str, typer.Option("--lang", help="auto, zh or en: the recipe (en: word 1-3 grams; zh and others: character 1-5 grams); auto = English when most texts are")] = "auto",
        seed: Annotated[int, typer.Option(help="random seed of the split and the solver")] = 0,
        adapt_to: Annotated[Optional[str], typer.Option("--adapt-to", help="unlabelled reviews of the domain to score: a CSV file or a warehouse table (e.g. reviews); self-training + class balance re-estimation, no labels needed")] = None,
        adapt_column: Annotated[Optional[str], typer.Option("--adapt-column", help="text column of --adapt-to (default: --text-column for a file, `text` for a table)")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="print {model, rows, language, classes, holdout_accuracy, holdout_macro_f1[, adapted_to, target_class_share]}")] = False,
    ) -> None:
        """Train a sentiment model on your own labelled or star-rated reviews; use it with `text sentiment --model`."""
        from shoplens.text.io import read_texts
        from shoplens.text.sentiment import evaluate_and_train

        frame = read_texts(data, text_column)
        target = None if adapt_to is None else _adapt_texts(ctx, adapt_to, adapt_column or None, text_column)
        with console.status("training"):
            model, report = evaluate_and_train(frame, text_column, label_column=label_column,
                                               rating_column=rating_column, holdout=holdout, language=lang,
                                               seed=seed, adapt_to=target)
        model.save(output, **report)
        report = {"model": str(output), **report}
        if json_out:
            print_json(report)
        else:
            console.print(rows_table([report], title="Sentiment model trained"))

    def _adapt_texts(ctx: typer.Context, source: str, column: str | None, text_column: str) -> list[str]:
        """Texts of ``--adapt-to``: a CSV file, or else a warehouse table."""
        import re as _re

        from shoplens.errors import UserInputError
        from shoplens.text.io import read_texts

        if Path(source).is_file():
            return read_texts(Path(source), column or text_column)[column or text_column].astype(str).tolist()
        col = column or "text"
        if not _re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", source) or not _re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", col):
            raise UserInputError(f"--adapt-to {source!r}: no such file, and not a table name; give a CSV file or a "
                                 "warehouse table such as reviews")
        with open_warehouse(ctx, read_only=True) as wh:
            if not wh.has_table(source):
                raise UserInputError(f"--adapt-to {source!r}: no such file or warehouse table; give a CSV file or a "
                                     "table such as reviews (run `shoplens ingest` first)")
            if col not in wh.columns(source):
                raise UserInputError(f"--adapt-to {source}: no column {col!r}; pass one with --adapt-column "
                                     f"(columns: {', '.join(wh.columns(source))})")
            return wh.query(f'SELECT "{col}" AS t FROM "{source}" WHERE "{col}" IS NOT NULL')["t"].astype(str).tolist()

    @text.command("analyze")
    def analyze_cmd(
        ctx: typer.Context,
        json_out: Annotated[bool, typer.Option("--json", help="print {text_reviews, text_review_aspects, text_messages} rows added")] = False,
    ) -> None:
        """Score new reviews and customer messages into text_reviews, text_review_aspects and text_messages."""
        from rich.progress import Progress

        from shoplens.text.analyze import analyze_warehouse

        with open_warehouse(ctx) as wh, Progress(console=console, transient=True, disable=json_out) as progress:
            tasks: dict[str, int] = {}

            def step(what: str, done: int, total: int) -> None:
                if what not in tasks:
                    tasks[what] = progress.add_task(escape(f"scoring {what}"), total=total)
                progress.update(tasks[what], completed=done)

            added = analyze_warehouse(wh, progress=step)
            texts = sum(wh.row_count(t) for t in ("reviews", "support_messages") if wh.has_table(t))
        if json_out:
            print_json(added)
        elif not any(added.values()) and not texts:
            console.print("Text analysis: no reviews or support messages loaded yet; load them with "
                          "shoplens ingest reviews FILE or shoplens ingest support_messages FILE.")
        elif not any(added.values()):
            console.print("Text analysis: nothing new to score (every review and message is already scored).")
        else:
            console.print(rows_table([{"table": k, "rows added": v} for k, v in added.items()], title="Text analysis"))

    # under quotes shown with their products, when the reviews are the bundled demo's (their links are assigned)
    DEMO_LINKS_NOTE = ("Demo shop: the review texts are real; the product and customer each one is linked to were "
                       "assigned by the demo's build script (datasets/demo/SOURCE.md), so a quote may not fit its product.")

    def _show(frame, title: str, json_out: bool) -> None:  # type: ignore[no-untyped-def]
        if json_out:
            print_json(frame.to_dict("records"))
        else:
            console.print(frame_table(frame, title=title, max_rows=40))

    @text.command("trend")
    def trend_cmd(
        ctx: typer.Context,
        by: Annotated[str, typer.Option(help="product, category or all")] = "category",
        period: Annotated[str, typer.Option(help="month, quarter or week")] = "month",
        product: Annotated[Optional[str], typer.Option(help="only this product id")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {period, key, reviews, positive_share, negative_share, mean_score}")] = False,
    ) -> None:
        """Review sentiment per product or category per period."""
        from shoplens.text.insights import sentiment_trend

        with open_warehouse(ctx, read_only=True) as wh:
            _show(sentiment_trend(wh, by, period=period, product_id=product), f"Sentiment by {by} per {period}", json_out)

    @text.command("complaints")
    def complaints_cmd(
        ctx: typer.Context,
        product: Annotated[Optional[str], typer.Option(help="only this product id")] = None,
        limit: Annotated[int, typer.Option(help="rows to show")] = 10,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {product_id, product, aspect, negative, mentions, negative_share, quotes}")] = False,
    ) -> None:
        """Top negative aspects per product with example quotes."""
        from shoplens.text.insights import top_negative_aspects

        from shoplens.insights.products import demo_review_links

        with open_warehouse(ctx, read_only=True) as wh:
            _show(top_negative_aspects(wh, product_id=product, limit=limit), "Top complaints", json_out)
            if not json_out and demo_review_links(wh):
                console.print(DEMO_LINKS_NOTE, style="dim")

    @text.command("emerging")
    def emerging_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option(help="month, quarter or week")] = "month",
        at: Annotated[Optional[str], typer.Option(help="compare this period (a date inside it) with the one before [default: latest]")] = None,
        alpha: Annotated[float, typer.Option(help="significance level of the one-sided two-proportion z-test")] = 0.05,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {aspect, negative_share, negative_share_previous, change, p_value, significant, ...}")] = False,
    ) -> None:
        """Aspects whose negative share jumped versus the previous period (with a significance test)."""
        from shoplens.text.insights import emerging_complaints

        with open_warehouse(ctx, read_only=True) as wh:
            _show(emerging_complaints(wh, period=period, at=at, alpha=alpha), "Emerging complaints", json_out)

    @text.command("intents")
    def intents_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option(help="month, quarter or week")] = "month",
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {period, intent, messages, share}")] = False,
    ) -> None:
        """Support intent mix over time."""
        from shoplens.text.insights import intent_mix

        with open_warehouse(ctx, read_only=True) as wh:
            _show(intent_mix(wh, period=period), f"Support intents per {period}", json_out)

    @text.command("topics")
    def topics_cmd(
        ctx: typer.Context,
        file: Annotated[Optional[Path], typer.Option(help="UTF-8 CSV to find topics in instead of the warehouse reviews")] = None,
        column: Annotated[str, typer.Option(help="text column of --file")] = "text",
        language: Annotated[Optional[str], typer.Option(help="warehouse: only topics of this language (zh, en)")] = None,
        refit: Annotated[bool, typer.Option("--refit", help="warehouse: fit the topics again with --topics before listing")] = False,
        topics: Annotated[int, typer.Option("--topics", "-k", help="number of topics (per language in the warehouse)")] = 8,
        seed: Annotated[int, typer.Option(help="random seed")] = 0,
        json_out: Annotated[bool, typer.Option("--json", help="print a JSON list of {language, topic, name, terms, reviews, share, negative_share, quotes} ({topic, name, terms, reviews, examples} with --file)")] = False,
    ) -> None:
        """Review topics (NMF on TF-IDF), named by top terms with examples: those `text analyze` stored, or found in a file."""
        if file is not None:
            from shoplens.text.io import read_texts
            from shoplens.text.topics import discover_topics

            frame, _ = discover_topics(read_texts(file, column)[column].tolist(), topics, seed=seed)
            if json_out:
                print_json(frame.to_dict("records"))
            else:
                frame = frame.assign(examples=frame["examples"].map(lambda xs: " | ".join(x[:60] for x in xs)))
                console.print(frame_table(frame, title="Topics"))
            return
        from shoplens.text.analyze import refit_topics
        from shoplens.text.insights import review_topics

        if refit:
            with open_warehouse(ctx) as wh:
                refit_topics(wh, n_topics=topics, seed=seed)
        with open_warehouse(ctx, read_only=True) as wh:
            frame = review_topics(wh, language=language)
        if json_out:
            print_json(frame.to_dict("records"))
        else:
            frame = frame.assign(quotes=frame["quotes"].map(lambda xs: " | ".join(x[:60] for x in xs)),
                                 share=frame["share"].round(3), negative_share=frame["negative_share"].round(3))
            console.print(frame_table(frame, title="Review topics", max_rows=60))
