"""Benchmarks and docs figures for shoplens.decide.

    python bench/decide.py speed                 # decisions/s (LinUCB, linear TS) and OPE on 1M rows
    python bench/decide.py obd --data-dir ../shared/data/obd_zozotown
    python bench/decide.py pricing --data-dir ../shared/data [--plot regret.html]

``speed`` compares with MABWiser (``pip install shoplens[bench]``) for the policies and with a
plain-pandas IPW/DR bootstrap for OPE, measured in the same run; medians over repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # "on one core": set before numpy loads its BLAS

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from shoplens.decide.ope import ESTIMATORS, LoggedFeedback, estimate_all  # noqa: E402
from shoplens.decide.policies import LinearTS, LinUCB  # noqa: E402


CPU = True  # report process CPU time (the machine is shared: wall time includes waiting for a core)


def _median_time(fn, repeats: int) -> float:
    """Median seconds over repeats: CPU time of this process (single-threaded work), or wall time."""
    times, walls = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        times.append(time.process_time() - c)
    WALL.append(statistics.median(walls))
    return statistics.median(times) if CPU else statistics.median(walls)


WALL: list[float] = []


def bench_policies(n_actions: int = 100, n_features: int = 50, n_decisions: int = 3000, repeats: int = 3) -> list[dict]:
    rng = np.random.default_rng(0)
    names = [f"f{i}" for i in range(n_features)]
    actions = list(range(n_actions))
    X = rng.normal(size=(n_decisions, n_features))
    contexts = [dict(zip(names, row)) for row in X]
    warm_X = rng.normal(size=(2000, n_features))
    warm_a = rng.integers(0, n_actions, 2000)
    warm_r = (rng.random(2000) < 0.3).astype(float)
    rows = []
    for label, make in (("LinUCB", lambda: LinUCB(alpha=1.0, seed=0)), ("LinearTS", lambda: LinearTS(v=0.5, seed=0))):
        policy = make()
        for x, a, r in zip(warm_X, warm_a, warm_r):
            policy.update(dict(zip(names, x)), int(a), float(r))

        def choose_only(policy=policy):
            for c in contexts:
                policy.choose(c, actions)

        def choose_update(policy=policy):
            for c in contexts:
                a, _ = policy.choose(c, actions)
                policy.update(c, a, 1.0 if a % 7 == 0 else 0.0)

        t_choose = _median_time(choose_only, repeats)
        t_both = _median_time(choose_update, repeats)
        rows.append({"policy": label, "decisions_per_s": n_decisions / t_choose,
                     "decide_and_learn_per_s": n_decisions / t_both})
    # baseline: MABWiser's LinUCB / LinTS, one context per predict call (the one-event use)
    from baselines import require

    mab_module = require("mabwiser.mab", baseline="MABWiser (LinUCB, LinTS)")
    MAB, LearningPolicy = mab_module.MAB, mab_module.LearningPolicy
    base_n = 300
    for row, lp in zip(rows, (LearningPolicy.LinUCB(alpha=1.0), LearningPolicy.LinTS(alpha=0.5))):
        mab = MAB(actions, lp, seed=0)
        mab.fit(list(warm_a), list(warm_r), warm_X)

        def mab_predict(mab=mab):
            for x in X[:base_n]:
                mab.predict(x.reshape(1, -1))

        t = _median_time(mab_predict, repeats)
        row["mabwiser_decisions_per_s"] = base_n / t
        row["ratio"] = row["decisions_per_s"] / row["mabwiser_decisions_per_s"]
    return rows


def bench_ope(n_rows: int = 1_000_000, n_actions: int = 10, n_bootstrap: int = 200, repeats: int = 3) -> dict:
    rng = np.random.default_rng(1)
    action = rng.integers(0, n_actions, n_rows)
    propensity = np.full(n_rows, 1.0 / n_actions)
    reward = (rng.random(n_rows) < 0.02 + 0.01 * (action % 3)).astype(float)
    logs = LoggedFeedback(action, reward, propensity, n_actions)
    target = np.tile(rng.dirichlet(np.ones(n_actions)), (n_rows, 1))
    ours = _median_time(lambda: estimate_all(logs, target, n_bootstrap=n_bootstrap, seed=0), repeats)

    # baseline: the same IPW + DR with a plain-pandas bootstrap (DataFrame.sample per resample)
    frame = pd.DataFrame({"action": action, "reward": reward, "propensity": propensity})
    pi = target[0]
    base_resamples = 10

    def pandas_ope():
        q = frame.groupby("action")["reward"].mean()
        frame["w"] = pi[frame["action"].to_numpy()] / frame["propensity"]
        frame["dm"] = float((pi * q.reindex(range(n_actions), fill_value=0).to_numpy()).sum())
        frame["res"] = frame["w"] * (frame["reward"] - frame["action"].map(q))
        for b in range(base_resamples):
            s = frame.sample(frac=1.0, replace=True, random_state=b)
            (s["w"] * s["reward"]).mean(), (s["dm"] + s["res"]).mean()

    base = _median_time(pandas_ope, 1)
    per_resample_base = base / base_resamples
    per_resample_ours = ours / n_bootstrap
    return {"rows": n_rows, "bootstrap": n_bootstrap, "seconds": ours,
            "pandas_seconds_per_resample": per_resample_base, "ours_seconds_per_resample": per_resample_ours,
            "ratio_per_resample": per_resample_base / per_resample_ours}


def cmd_speed(args: argparse.Namespace) -> None:
    from baselines import require

    require("mabwiser.mab", baseline="MABWiser (LinUCB, LinTS)")  # before any work: the figures are ratios to it
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)")
    for row in bench_policies(repeats=args.repeats):
        print(" ".join(f"{k}={v:,.0f}" if isinstance(v, float) and k != "ratio" else f"{k}={v:.2f}"
                       if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
    ope = bench_ope(repeats=args.repeats)
    print(f"(times are process CPU seconds; OPE wall time {WALL[-2]:.2f} s under this load)")
    print(f"OPE: {ope['rows']:,} rows, {len(ESTIMATORS)} estimators, {ope['bootstrap']} bootstrap resamples: {ope['seconds']:.2f} s "
          f"(median of {args.repeats}); per resample {ope['ours_seconds_per_resample'] * 1000:.1f} ms vs "
          f"pandas {ope['pandas_seconds_per_resample'] * 1000:.1f} ms -> ratio {ope['ratio_per_resample']:.1f}x")


def cmd_obd(args: argparse.Namespace) -> None:
    from shoplens.decide.obd import run_obd_validation, summary_table

    results = run_obd_validation(args.data_dir, n_bootstrap=200)
    pd.set_option("display.width", 200)
    print(results.round(5).to_string(index=False))
    print()
    print(summary_table(results).round(3).to_markdown(index=False) if _has_tabulate() else summary_table(results))


def cmd_pricing(args: argparse.Namespace) -> None:
    from shoplens.decide.pricing import calibrate_from_online_retail, scenarios_from, simulate_pricing

    cal = calibrate_from_online_retail(args.data_dir)
    print(f"products with price variation: {len(cal):,}; median elasticity {cal['elasticity'].median():.2f}; "
          f"pooled {cal['pooled_elasticity'].iloc[0]:.2f}")
    res = simulate_pricing(scenarios_from(cal, n_products=args.products), steps=args.steps, seed=0)
    print(res["summary"].round(4).to_string(index=False))
    c = res["curves"]
    checkpoints = [s for s in (10, 30, 60, 90, 120, 180, 365) if s <= args.steps]
    print(c[c.step.isin(checkpoints)].pivot(index="step", columns="policy", values="regret_share").round(4))
    if args.plot:
        from shoplens.decide.cli import regret_figure

        regret_figure(c).write_html(args.plot, include_plotlyjs="cdn")
        print(f"plot: {args.plot}")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("speed")
    p.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("obd")
    p.add_argument("--data-dir", default="../shared/data/obd_zozotown")
    p = sub.add_parser("pricing")
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--products", type=int, default=50)
    p.add_argument("--steps", type=int, default=180)
    p.add_argument("--plot", default=None)
    args = parser.parse_args()
    {"speed": cmd_speed, "obd": cmd_obd, "pricing": cmd_pricing}[args.cmd](args)


if __name__ == "__main__":
    main()
