"""``shoplens campaign ...``: create a campaign for an audience, assign its arms, read the
measured lift; analyse a campaign run elsewhere from a file. Thin: parse, call, print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from shoplens.cli_common import (
    console,
    err_console,
    open_warehouse,
    print_json,
    rows_table,
)
from shoplens.errors import UserInputError

campaign_app = typer.Typer(help="Campaigns: target an audience with offers and a control group, attribute orders, "
                                "report the lift with honest intervals.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object instead of tables")]


def register(app: typer.Typer) -> None:
    """Add ``shoplens campaign ...`` to the main CLI."""
    app.add_typer(campaign_app, name="campaign")


def _split(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _num(v: Any) -> str:
    return "" if v is None else f"{v:.4g}"


def _print_report(result: dict[str, Any], title: str) -> None:
    cuped = any("effect_cuped" in r for r in result["arms"])
    rows = []
    for r in result["arms"]:
        row = {"arm": r["arm"], "metric": r["metric"], "n": r["n"], "mean": _num(r["mean"]), "effect": _num(r["effect"]),
               "95% CI": "" if r["ci_low"] is None else f"{r['ci_low']:.4g} to {r['ci_high']:.4g}",
               "p": _num(r["p_value"]), "P(win)": _num(r["chance_to_win"])}
        if cuped:
            row["CUPED 95% CI"] = "" if r.get("ci_low_cuped") is None else \
                f"{r['ci_low_cuped']:.4g} to {r['ci_high_cuped']:.4g}"
        rows.append(row)
    console.print(rows_table(rows, title=title))
    srm = result["srm"]
    p = "n/a" if srm["p_value"] is None else f"{srm['p_value']:.4f}"
    if srm["alarm"]:
        console.print(f"[bold red]Sample-ratio mismatch[/bold red] (p = {p}): the split differs from the plan; "
                      "check the assignment before trusting the lift.")
    else:
        console.print(f"Sample-ratio check: p = {p}, no alarm.")
    if result.get("uplift"):
        urows = [{k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in u.items()} for u in result["uplift"]]
        console.print(rows_table(urows, title="Uplift model on the held-out split (qini > 0: better than random)",
                                 columns=["arm", "metric", "qini", "auuc", "auuc_random", "lift_top", "lift_rest",
                                          "test_fraction"]))
    for lang in ("en", "zh"):
        if result.get("conclusion", {}).get(lang):
            console.print(escape(result["conclusion"][lang]))


@campaign_app.command("analyze")
def analyze_cmd(
    file: Annotated[Path, typer.Argument(help="CSV (optionally .gz) with one row per customer")],
    arm_column: Annotated[str, typer.Option("--arm-column", help="column holding each customer's arm")],
    control: Annotated[str, typer.Option("--control", help="the value of the arm column that marks the control group")],
    metrics: Annotated[str, typer.Option("--metrics", help="outcome columns, comma-separated (read as given)")],
    covariates: Annotated[str | None, typer.Option(
        "--covariates", help="feature columns of the uplift model, comma-separated [default: every other column]",
        show_default=False)] = None,
    pre_metric: Annotated[str | None, typer.Option(
        "--pre-metric", help="pre-period column for CUPED variance reduction (e.g. last year's spend)",
        show_default=False)] = None,
    uplift: Annotated[str | None, typer.Option(
        "--uplift", help="fit an uplift model for this metric and compare it with random targeting on a held-out split",
        show_default=False)] = None,
    learner: Annotated[str, typer.Option("--learner", help="uplift meta-learner: t or x")] = "t",
    test_fraction: Annotated[float, typer.Option("--test-fraction", help="held-out share for the uplift evaluation")] = 0.3,
    weights: Annotated[str | None, typer.Option(
        "--weights", help="planned split for the sample-ratio check, ARM=SHARE comma-separated [default: equal]",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="random seed of the held-out split and the uplift model")] = 0,
    json_out: JsonOpt = False,
) -> None:
    """Analyse a campaign run outside shoplens: lift per arm and metric against control with 95 % Welch
    intervals, p-values, chance to beat control, the sample-ratio check; CUPED with --pre-metric; uplift
    Qini / AUUC with --uplift.

    Example: shoplens campaign analyze hillstrom.csv.gz --arm-column segment --control "No E-Mail"
    --metrics visit,conversion,spend --pre-metric history --json
    """
    from shoplens.campaigns.analysis import analyze_frame, read_campaign_file

    plan = None
    if weights:
        plan = {}
        for part in _split(weights):
            arm, sep, share = part.rpartition("=")
            try:
                plan[arm.strip()] = float(share)
            except ValueError:
                raise UserInputError(f"--weights: {part!r} is not ARM=SHARE (e.g. control=0.2)") from None
            if not sep or plan[arm.strip()] < 0:
                raise UserInputError(f"--weights: {part!r} is not ARM=SHARE with a non-negative share")
    frame = read_campaign_file(str(file))
    with err_console.status("fitting the uplift model..." if uplift else "analysing..."):
        result = analyze_frame(frame, arm_column=arm_column, control=control, metrics=_split(metrics),
                               pre_metric=pre_metric, covariates=_split(covariates) or None, uplift=uplift,
                               weights=plan, test_fraction=test_fraction, learner=learner, seed=seed)
    if json_out:
        print_json(result)
        return
    _print_report(result, f"Lift against {control} ({file.name})")


def _costs(items: list[str] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        arm, sep, value = item.rpartition("=")
        try:
            out[arm.strip()] = float(value)
        except ValueError:
            raise UserInputError(f"--cost {item!r}: use ARM=AMOUNT, e.g. discount_10=2.5") from None
        if not sep:
            raise UserInputError(f"--cost {item!r}: use ARM=AMOUNT, e.g. discount_10=2.5")
    return out


@campaign_app.command("create")
def create_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="campaign name (letters, digits, _ - .)")],
    audience: Annotated[str, typer.Option("--audience", help="all, rfm:SEGMENT, segment:ID, rule:ID, sql:CONDITION "
                                                             "or file:PATH (a CSV with customer_id)")],
    arms: Annotated[str, typer.Option("--arms", help="offers, comma-separated (e.g. free_shipping,discount_10); "
                                                     "the control group is added as `control`")],
    control: Annotated[float, typer.Option("--control", help="share of the audience held out as control")] = 0.1,
    goal: Annotated[str, typer.Option("--goal", help="conversion, revenue or margin")] = "conversion",
    window: Annotated[int, typer.Option("--window", help="attribution window in days after assignment")] = 14,
    policy: Annotated[str, typer.Option("--policy", help="split (fixed random split) or bandit (learns the offer "
                                                         "per customer; the control stays random)")] = "split",
    cost: Annotated[list[str] | None, typer.Option("--cost", help="cost per use of an arm, ARM=AMOUNT (repeatable)",
                                                      show_default=False)] = None,
    frequency_cap: Annotated[int | None, typer.Option(
        "--frequency-cap", help="exclude customers already given offers by this many other campaigns in --cap-days",
        show_default=False)] = None,
    cap_days: Annotated[int, typer.Option("--cap-days", help="period of the frequency cap in days")] = 30,
    start: Annotated[str | None, typer.Option("--start", help="first day of assignment YYYY-MM-DD",
                                                 show_default=False)] = None,
    end: Annotated[str | None, typer.Option("--end", help="last day of assignment YYYY-MM-DD", show_default=False)] = None,
    budget: Annotated[float | None, typer.Option(
        "--budget", help="most the offers may cost (cost per use x expected use); then no one new is assigned",
        show_default=False)] = None,
    replace: Annotated[bool, typer.Option("--replace", help="store a new version of an existing campaign")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Create (or, with --replace, version) a campaign: audience, offers, control share, goal and window.

    Example: shoplens campaign create winback --audience "rfm:At risk" --arms free_shipping,discount_10
    --control 0.2 --goal margin --window 30 --cost discount_10=3 --json
    """
    from shoplens.campaigns.campaign import Campaign, create_campaign, parse_arm

    costs = _costs(cost)
    arm_names = _split(arms)
    unknown = set(costs) - set(arm_names)
    if unknown:
        raise UserInputError(f"--cost names arm(s) not in --arms: {', '.join(sorted(unknown))}")
    campaign = Campaign(name, audience, tuple(parse_arm(a, costs.get(a, 0.0)) for a in arm_names), control=control,
                        goal=goal, window_days=window, policy=policy, frequency_cap=frequency_cap, cap_days=cap_days,
                        start=start, end=end, budget=budget)
    with open_warehouse(ctx) as wh:
        stored = create_campaign(wh, campaign, replace=replace)
    if json_out:
        print_json(stored.to_dict())
        return
    console.print(f"Campaign [bold]{escape(stored.name)}[/bold] version {stored.version}: "
                  f"{escape(', '.join(f'{k} {v:.0%}' for k, v in stored.weights().items()))}; "
                  f"assign it with `shoplens campaign assign {escape(stored.name)} --output FILE.csv`")


@campaign_app.command("list")
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every campaign (latest version) with its status and how many customers it assigned."""
    from shoplens.campaigns.campaign import list_campaigns
    from shoplens.customers.output import records

    with open_warehouse(ctx) as wh:
        frame = list_campaigns(wh)
    if json_out:
        print_json({"data": records(frame), "count": len(frame)})
        return
    if frame.empty:
        console.print("No campaigns yet: create one with `shoplens campaign create`.")
        return
    console.print(rows_table(frame.to_dict("records"), title="Campaigns"))


@campaign_app.command("show")
def show_cmd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="campaign name")],
             json_out: JsonOpt = False) -> None:
    """A campaign's latest version, its version history and its assignment runs."""
    from shoplens.campaigns.campaign import campaign_detail

    with open_warehouse(ctx) as wh:
        out = campaign_detail(wh, name)
    if json_out:
        print_json(out)
        return
    runs = out["runs"]
    console.print(rows_table([{"field": k, "value": str(v)} for k, v in out.items() if k not in ("versions", "runs")],
                             title=f"Campaign {name}"))
    if runs:
        console.print(rows_table(runs, title="Assignment runs"))


@campaign_app.command("assign")
def assign_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="campaign name")],
    output: Annotated[Path | None, typer.Option("--output", help="write customer_id, arm, propensity, assigned_at "
                                                                    "(shop ids) to this CSV", show_default=False)] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="assignment date YYYY-MM-DD [default: now]",
                                                 show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Assign the campaign's audience to arms (sticky: assigning again returns the same arms), logging each
    assignment with its propensity; customers without marketing consent or over the frequency cap are
    excluded and counted."""
    from shoplens.campaigns.assign import assign_campaign, write_assignments

    with open_warehouse(ctx) as wh:
        result = assign_campaign(wh, name, as_of=as_of)
        if output is not None:
            write_assignments(wh, result, output)
    out = result.to_dict()
    if json_out:
        print_json(out)
        return
    console.print(rows_table([{k: v for k, v in out.items() if k not in ("arms", "output")}],
                             title=f"Campaign {name} version {result.version}"))
    console.print(rows_table([{"arm": k, "customers": v} for k, v in out["arms"].items()], title="Customers per arm"))
    if output is not None:
        console.print(f"Assignments written to {escape(str(output))}")


@campaign_app.command("report")
def report_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="campaign name")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="count only orders before this date YYYY-MM-DD",
                                                 show_default=False)] = None,
    attribution: Annotated[str, typer.Option("--attribution", help="itt (intention to treat) or exposure (adds the "
                                                                   "effect on customers who saw the offer)")] = "itt",
    json_out: JsonOpt = False,
) -> None:
    """Attribute orders in the window after each assignment (intention to treat, net of returns, offer cost
    for margin) and report the lift per arm and metric with 95 % intervals, chance to beat control, CUPED
    with pre-period spend, the sample-ratio check, policy estimates and a conclusion in English and Chinese."""
    from shoplens.campaigns.report import campaign_report

    with open_warehouse(ctx, read_only=True) as wh:  # a report only reads
        result = campaign_report(wh, name, as_of=as_of, attribution=attribution)
    if json_out:
        print_json(result)
        return
    _print_report(result, f"Campaign {name}: lift against control ({result['currency'] or 'money'} per customer)")


@campaign_app.command("rewards")
def rewards_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="campaign name")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="windows closed by this date YYYY-MM-DD "
                                                                 "[default: by the last order]", show_default=False)] = None,
    json_out: JsonOpt = False,
) -> None:
    """Post the goal metric of every assignment whose window has closed as its reward in the decision log
    (for bandits and off-policy evaluation). Idempotent; `campaign assign` and the scheduler's refresh
    do it too, `campaign report` never writes."""
    from shoplens.campaigns.report import post_rewards

    with open_warehouse(ctx) as wh:
        out = post_rewards(wh, name, as_of=as_of)
    if json_out:
        print_json(out)
        return
    console.print(f"Campaign {escape(name)}: {out['closed']} window(s) closed, {out['posted']} reward(s) written "
                  "to the decision log.")


@campaign_app.command("stop")
def stop_cmd(ctx: typer.Context, name: Annotated[str, typer.Argument(help="campaign name")],
             json_out: JsonOpt = False) -> None:
    """Stop a campaign (a new version with status stopped): it assigns no one any more; reports still work."""
    from shoplens.campaigns.campaign import stop_campaign

    with open_warehouse(ctx) as wh:
        stopped = stop_campaign(wh, name)
    if json_out:
        print_json(stopped.to_dict())
        return
    console.print(f"Campaign {escape(name)} stopped (version {stopped.version}).")
