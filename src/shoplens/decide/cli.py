"""``shoplens decide ...`` (bandits, off-policy evaluation and learning, pricing) and
``shoplens ab ...`` (A/B test assignment and analysis). Thin: parse, call, print."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from shoplens.cli_common import console, err_console, open_warehouse, print_json, rows_table
from shoplens.errors import InputFileError, UserInputError
from shoplens.store.warehouse import first_row

decide_app = typer.Typer(help="Bandit decisions, off-policy evaluation and learning, dynamic pricing.",
                         no_args_is_help=True)
ab_app = typer.Typer(help="A/B tests: hashed assignment and analysis (frequentist, Bayesian, sequential, CUPED).",
                     no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(decide_app, name="decide")
    app.add_typer(ab_app, name="ab")


def _estimates_rows(estimates: dict) -> list[dict]:
    return [{"estimator": k, "value": v["value"], "ci_low": v["ci_low"], "ci_high": v["ci_high"]}
            for k, v in estimates.items()]


@decide_app.command("ope")
def ope_cmd(
    logs: Annotated[Path, typer.Option(help="CSV of logged decisions: action, reward, propensity "
                                            "(+ position, context columns)")],
    policy: Annotated[str, typer.Option(help="uniform, logged, or a saved policy file (from `decide learn`)")],
    n_actions: Annotated[Optional[int], typer.Option(help="size of the action space for uniform "
                                                          "[default: distinct actions in the logs]")] = None,
    bootstrap: Annotated[int, typer.Option(help="bootstrap resamples for the confidence intervals")] = 200,
    seed: Annotated[int, typer.Option(help="random seed (bootstrap, reward-model folds)")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help='print {"estimates": {NAME: {value, ci_low, ci_high}}, '
                                                          '"selected": NAME}')] = False,
) -> None:
    """Estimate a policy's value off-policy (DM, IPW, SNIPW, DR, SNDR, Switch-DR, DRos) with 95 % bootstrap
    intervals, and say which estimator to trust.

    Example: shoplens decide ope --logs logs.csv --policy uniform --json
    """
    from shoplens.decide.ope import evaluate_file

    if bootstrap < 1:
        raise UserInputError("--bootstrap must be at least 1")
    if n_actions is not None and n_actions < 1:
        raise UserInputError("--n-actions must be at least 1")
    with err_console.status(f"estimating with {bootstrap} bootstrap resamples..."):
        result = evaluate_file(str(logs), policy, n_actions=n_actions, n_bootstrap=bootstrap, seed=seed)
    if json_out:
        print_json(result)
        return
    console.print(rows_table(_estimates_rows(result["estimates"]),
                             title=f"Off-policy estimates for {policy} on {result['n_rows']:,} logged rows"))
    console.print(f"Selected: [bold]{escape(str(result['selected']))}[/bold] ({escape(str(result['reason']))})")


@decide_app.command("learn")
def learn_cmd(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="where to save the learned policy (use it with `decide ope --policy`)")],
    logs: Annotated[Optional[Path], typer.Option(help="CSV of logged decisions with context columns")] = None,
    from_log: Annotated[Optional[str], typer.Option(help="learn from the warehouse decision log of this policy "
                                                         "name instead (the model is registered)")] = None,
    method: Annotated[str, typer.Option(help="dr (doubly-robust regression) or ipw (weighted classification)")] = "dr",
    epsilon: Annotated[float, typer.Option(help="share of uniform exploration mixed into the policy")] = 0.0,
    test_share: Annotated[float, typer.Option(help="share of the logs held out for the off-policy estimate")] = 0.3,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="print the held-out estimates as JSON")] = False,
) -> None:
    """Learn a policy from logged decisions and estimate its value on held-out logs before deployment."""
    from shoplens.decide.log import DecisionLog
    from shoplens.decide.ope import read_logs
    from shoplens.decide.opl import learn_and_evaluate

    if not 0 <= epsilon <= 1:
        raise UserInputError("--epsilon must lie in [0, 1]")
    if (logs is None) == (from_log is None):
        raise UserInputError("give either --logs FILE or --from-log POLICY_NAME")
    version = None
    if logs is not None:
        feedback = read_logs(str(logs))
    with err_console.status(f"learning a {method} policy and estimating it on held-out logs..."):
        if from_log is not None:
            from shoplens.store.registry import ModelRegistry

            with open_warehouse(ctx) as wh:
                feedback = DecisionLog(wh).feedback(policy=from_log)
                report = learn_and_evaluate(feedback, method=method, test_share=test_share, epsilon=epsilon, seed=seed)
                window = tuple(first_row(wh.con.execute("SELECT min(occurred_at), max(occurred_at) FROM decisions WHERE policy = ?",
                                              [from_log])))  # type: ignore[arg-type]
                best = report["estimates"][report["selected"]]
                version = ModelRegistry(wh).register(
                    f"opl-{from_log}", report["policy"], kind="off-policy-learner", data_window=window,  # type: ignore[arg-type]
                    metrics={"estimator": report["selected"], "value": best["value"], "ci_low": best["ci_low"],
                             "ci_high": best["ci_high"], "logged_policy_value": report["logged_policy_value"]},
                    promote=False, note="candidate: promote after checking the off-policy estimate")
        else:
            report = learn_and_evaluate(feedback, method=method, test_share=test_share, epsilon=epsilon, seed=seed)
    path = report.pop("policy").save(out, method=method)
    report["model_file"] = str(path)
    if version is not None:
        report["registered"] = {"name": f"opl-{from_log}", "version": version}
    if json_out:
        print_json(report)
        return
    console.print(rows_table(_estimates_rows(report["estimates"]),
                             title=f"Learned {method} policy, estimated on {report['n_test']:,} held-out rows"))
    console.print(f"Logging policy on the same rows: {report['logged_policy_value']:.4f}; "
                  f"trust [bold]{escape(str(report['selected']))}[/bold]. Saved to {escape(str(path))}")


@decide_app.command("simulate-pricing")
def simulate_pricing_cmd(
    ctx: typer.Context,
    data_dir: Annotated[Optional[Path], typer.Option(help="calibrate on ../shared/data/online_retail instead of "
                                                          "the warehouse's orders")] = None,
    products: Annotated[int, typer.Option(help="products to simulate (those sold on most days)")] = 30,
    steps: Annotated[int, typer.Option(help="pricing steps (days) per product")] = 120,
    min_margin: Annotated[float, typer.Option(help="guardrail: price >= cost x (1 + min margin)")] = 0.1,
    max_change: Annotated[float, typer.Option(help="guardrail: largest relative price change per step")] = 0.1,
    cost_share: Annotated[float, typer.Option(help="unit cost as a share of the base price (no costs in the data)")] = 0.6,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    plot: Annotated[Optional[Path], typer.Option(help="write the regret curves as an HTML plot here")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print {summary, curves, calibration} as JSON")] = False,
) -> None:
    """Simulate dynamic pricing (price-grid Thompson sampling with a demand model) on demand curves
    calibrated from real price variation; regret against the best fixed price and the current price."""
    from shoplens.decide.pricing import calibrate_from_online_retail, calibrate_from_warehouse, scenarios_from, simulate_pricing

    if products < 1 or steps < 1:
        raise UserInputError("--products and --steps must be at least 1")
    if not 0 < cost_share < 1:
        raise UserInputError("--cost-share must lie strictly between 0 and 1")
    if data_dir is not None:
        calibration = calibrate_from_online_retail(data_dir)
    else:
        with open_warehouse(ctx, read_only=True) as wh:
            calibration = calibrate_from_warehouse(wh)
    with err_console.status(f"simulating {products} products x {steps} steps..."):
        result = simulate_pricing(scenarios_from(calibration, cost_share=cost_share, n_products=products),
                                  steps=steps, seed=seed, min_margin=min_margin, max_change=max_change)
    if plot is not None:
        from shoplens.store.files import write_private

        # owner-only like every file shoplens writes (plotly's write_html follows the umask)
        write_private(plot, regret_figure(result["curves"]).to_html(include_plotlyjs="cdn"))
    cal = calibration.head(products)
    if json_out:
        print_json({"summary": result["summary"].to_dict("records"), "products": result["products"],
                    "steps": steps, "curves": result["curves"].to_dict("records"),
                    "calibration": {"products_with_price_variation": len(calibration),
                                    "median_elasticity": float(cal["elasticity"].median())}})
        return
    console.print(rows_table(result["summary"].to_dict("records"),
                             title=f"Pricing simulation: {result['products']} products x {steps} steps"))
    console.print(f"Median calibrated elasticity: {cal['elasticity'].median():.2f} "
                  f"({len(calibration):,} products with price variation)")


def regret_figure(curves):  # noqa: ANN001, ANN201 - plotly figure
    import plotly.express as px

    return px.line(curves, x="step", y="cumulative_regret", color="policy",
                   title="Cumulative regret vs the best fixed price (in steps of optimal profit)")


@decide_app.command("log-reward")
def log_reward_cmd(
    ctx: typer.Context,
    decision_id: Annotated[Optional[str], typer.Argument(help="the decision's id (as returned by `decide choose`)")] = None,
    reward: Annotated[Optional[float], typer.Argument(help="the reward (click 0/1, conversion, revenue, margin)")] = None,
    file: Annotated[Optional[Path], typer.Option(help="CSV with decision_id, reward for many rewards at once")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"matched": N}')] = False,
) -> None:
    """Attach (delayed) rewards to logged decisions, joined by decision id."""
    import pandas as pd

    from shoplens.decide.log import DecisionLog

    if file is None and (decision_id is None or reward is None):
        raise UserInputError("give DECISION_ID REWARD, or --file rewards.csv with decision_id and reward columns")
    with open_warehouse(ctx) as wh:
        log = DecisionLog(wh)
        if file is not None:
            try:
                frame = pd.read_csv(file)
            except FileNotFoundError:
                raise InputFileError(str(file), "file not found") from None
            if not {"decision_id", "reward"} <= set(frame.columns):
                raise InputFileError(str(file), "needs columns decision_id and reward")
            if pd.to_numeric(frame["reward"], errors="coerce").isna().any():
                raise InputFileError(str(file), "reward must be a number on every row", column="reward")
            matched = log.log_rewards(frame)
        else:
            log.log_reward(str(decision_id), float(reward))  # type: ignore[arg-type]
            matched = 1
    if json_out:
        print_json({"matched": matched})
        return
    console.print(f"Rewards attached to {matched:,} decision(s).")


@decide_app.command("choose")
def choose_cmd(
    ctx: typer.Context,
    actions: Annotated[str, typer.Option(help="comma-separated actions to choose from")],
    customer: Annotated[Optional[str], typer.Option(help="the shop's customer id (consent is checked)")] = None,
    context: Annotated[str, typer.Option(help='context features as a JSON object, e.g. {"recency_days": 12}')] = "{}",
    policy: Annotated[str, typer.Option(help="epsilon-greedy, ucb1, bernoulli-ts, linucb, linear-ts, logistic-ts")] = "linear-ts",
    name: Annotated[str, typer.Option(help="name of this bandit (its state and log entries)")] = "offers",
    slots: Annotated[int, typer.Option(help="number of ranked slots to fill")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="print the decisions as JSON")] = False,
) -> None:
    """Choose an action for a customer with a bandit, log it, and learn from rewards logged since.

    An offer needs the customer's marketing consent: without it (refused, never given, or
    an id that is not a customer) nothing is offered ("action": null and a "reason"), and
    the decision is logged as not offered. Without personalisation consent the choice is
    non-personalised. JSON: {decisions: [{decision_id, action, propensity, position,
    personalised, customer_id, reason}]}.
    """
    from shoplens.base import read_model_file
    from shoplens.decide.log import Decider
    from shoplens.decide.policies import make_policy

    try:
        features = json.loads(context)
    except json.JSONDecodeError as exc:
        raise UserInputError(f"--context is not valid JSON ({exc.msg})") from None
    if not isinstance(features, dict):
        raise UserInputError("--context must be a JSON object")
    options = [a.strip() for a in actions.split(",") if a.strip()]
    if not options:
        raise UserInputError("--actions needs at least one action")
    # the name becomes a file name beside the warehouse: never a path (`../x` wrote outside the folder)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) or name in (".", ".."):
        raise UserInputError(f"--name {name!r}: use 1-64 letters, digits, '_', '-' or '.' (it names the bandit's "
                             "state file in the warehouse folder's decide/)")
    with open_warehouse(ctx) as wh:
        state = wh.home / "decide" / f"{name}.pkl"
        bandit = read_model_file(state)["model"] if state.exists() else make_policy(policy)
        decider = Decider(wh, bandit, name=name, version=type(bandit).__name__)
        decider.learn()
        out = decider.decide(customer, features, options, k=slots)
        bandit.save(state, name=name)
    if json_out:
        print_json({"decisions": out})
        return
    console.print(rows_table(out, title=f"Decision of {name}"))
    if out and out[0]["reason"]:
        from rich.markup import escape

        what = "No offer" if out[0]["action"] is None else "Not personalised"
        console.print(f"{what}: {escape(out[0]['reason'])}")


@ab_app.command("analyze")
def analyze_cmd(
    file: Annotated[Optional[Path], typer.Argument(help="unit-level CSV: variant, metric[, pre_metric, ...]")] = None,
    summary: Annotated[Optional[Path], typer.Option(help="per-variant CSV: variant, n, sum[, sum_squares]")] = None,
    difference: Annotated[str, typer.Option(help="relative (delta method) or absolute")] = "relative",
    method: Annotated[str, typer.Option(help="frequentist, bayesian or sequential")] = "frequentist",
    baseline: Annotated[Optional[str], typer.Option(help="baseline variant [default: the first row's]")] = None,
    alpha: Annotated[float, typer.Option(help="1 - confidence level")] = 0.05,
    correction: Annotated[str, typer.Option(help="multiple-testing correction: none, holm or bh")] = "none",
    covariates: Annotated[Optional[str], typer.Option(help="comma-separated pre-period columns for CUPED "
                                                           "[default: pre_metric when present]")] = None,
    segment: Annotated[Optional[str], typer.Option(help="column to also report results per segment")] = None,
    tuning: Annotated[float, typer.Option(help="sequential: total sample size where the interval is tightest")] = 5000.0,
    weights: Annotated[Optional[str], typer.Option(help="planned traffic split for the sample-ratio check, "
                                                       "comma-separated in variant order [default: equal]")] = None,
    json_out: Annotated[bool, typer.Option("--json", help='print {"baseline", "variants": [...], "srm": {...}}')] = False,
) -> None:
    """Analyse an A/B test from per-variant sums (--summary) or unit-level data (CUPED with pre_metric).

    Examples: shoplens ab analyze --summary sums.csv --json ; shoplens ab analyze units.csv --method bayesian
    """
    from shoplens.decide import abtest

    if (file is None) == (summary is None):
        raise UserInputError("give either a unit-level FILE or --summary FILE (not both)")
    if difference not in abtest.DIFFERENCES:
        raise UserInputError(f"--difference must be relative or absolute, not {difference!r}")
    if method not in abtest.METHODS:
        raise UserInputError(f"--method must be frequentist, bayesian or sequential, not {method!r}")
    if not 0 < alpha < 1:
        raise UserInputError("--alpha must lie strictly between 0 and 1")
    kw: dict = {"tuning": tuning} if method == "sequential" else {}
    if weights:
        try:
            kw["weights"] = [float(w) for w in weights.split(",")]
        except ValueError:
            raise UserInputError("--weights must be comma-separated numbers") from None
    if summary is not None:
        result = abtest.analyze_stats(abtest.read_summary(str(summary)), baseline=baseline, method=method,  # type: ignore[arg-type]
                                      difference=difference, alpha=alpha, correction=correction, **kw)  # type: ignore[arg-type]
    else:
        frame = abtest.read_units(str(file))
        covs = [c.strip() for c in covariates.split(",")] if covariates else (
            ["pre_metric"] if "pre_metric" in frame.columns else None)
        result = abtest.analyze_units(frame, covariates=covs, segment=segment, baseline=baseline, method=method,  # type: ignore[arg-type]
                                      difference=difference, alpha=alpha, correction=correction, **kw)  # type: ignore[arg-type]
    out = result.to_dict()
    if json_out:
        print_json(out)
        return
    rows = [{k: v for k, v in r.items() if k in ("variant", "n", "mean", "effect", "p_value", "chance_to_win", "risk")}
            | {"ci": "" if r["ci"] is None else f"[{r['ci'][0]:.4g}, {r['ci'][1]:.4g}]"} for r in out["variants"]]
    console.print(rows_table(rows, title=f"A/B test ({method}, {difference} effect vs {out['baseline']})"))
    srm = out["srm"]
    if srm["p_value"] is not None:
        flag = "[bold red]ALARM[/bold red]" if srm["alarm"] else "ok"
        console.print(f"Sample-ratio check: p = {srm['p_value']:.4g} ({flag})")
    if out.get("cuped"):
        console.print(f"CUPED variance reduction: {out['cuped']['variance_reduction']:.1%}")


@ab_app.command("assign")
def assign_cmd(
    ctx: typer.Context,
    units: Annotated[list[str], typer.Argument(help="unit ids (the shop's customer ids, or other units with --consent none)")],
    experiment: Annotated[str, typer.Option(help="experiment salt: the same salt always gives the same split")],
    variants: Annotated[str, typer.Option(help="comma-separated variant names")] = "control,treatment",
    weights: Annotated[Optional[str], typer.Option(help="comma-separated traffic weights [default: equal]")] = None,
    consent: Annotated[str, typer.Option(help="consent the assignment needs: marketing (a campaign or offer test, "
                                              "the default), personalization, or none (units that are not "
                                              "customers, e.g. sessions)")] = "marketing",
    json_out: Annotated[bool, typer.Option("--json", help='print {"assignments": {unit: variant}, '
                                                          '"not_assigned": {unit: reason}}')] = False,
) -> None:
    """Deterministic hashed assignment of units to variants.

    Units are the shop's customers by default, and a customer is assigned only with the
    consent the experiment needs (marketing unless --consent says otherwise): refused,
    never-asked (under opt-in) and unknown ids are listed as not assigned, with the reason.
    """
    from shoplens.decide.abtest import assign

    names = [v.strip() for v in variants.split(",") if v.strip()]
    try:
        w = [float(x) for x in weights.split(",")] if weights else None
    except ValueError:
        raise UserInputError("--weights must be comma-separated numbers") from None
    if w is not None and len(w) != len(names):
        raise UserInputError(f"--weights has {len(w)} values for {len(names)} variants")
    if consent not in ("marketing", "personalization", "none"):
        raise UserInputError(f"--consent must be marketing, personalization or none, not {consent!r}")
    not_assigned: dict[str, str] = {}
    if consent != "none":
        from shoplens.privacy.consent import allowed

        with open_warehouse(ctx, read_only=True) as wh:
            check = allowed(wh, units, "campaign" if consent == "marketing" else consent)
        not_assigned = {u: check.reason(u) or "" for u in units if u not in check}
    out = {u: assign(u, names, salt=experiment, weights=w) for u in units if u not in not_assigned}
    if json_out:
        print_json({"assignments": out, "not_assigned": not_assigned})
        return
    console.print(rows_table([{"unit": k, "variant": v} for k, v in out.items()], title=f"Assignment for {experiment}"))
    if not_assigned:  # rows_table cells are plain text: escaping them would print the backslashes
        console.print(rows_table([{"unit": k, "reason": v} for k, v in not_assigned.items()],
                                 title="Not assigned (no consent on record for this experiment)"))
