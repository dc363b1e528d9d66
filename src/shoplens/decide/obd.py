"""Validation of the off-policy estimators on the Open Bandit Dataset (ZOZOTOWN, "all" campaign).

Two policies ran side by side on the same 3-slot widget: Uniform Random and Bernoulli
Thompson Sampling (BTS). Each policy's own click rate is the ground truth for
evaluating it off-policy from the *other* policy's logs (Saito et al. 2021):

- uniform from the BTS logs: ``pi(a|x) = 1/80`` in every slot;
- BTS from the random logs: BTS is context-free, so its action distribution per slot
  is estimated by the item frequencies per position in the BTS logs (OBP instead
  re-simulates BTS with ZOZOTOWN's posterior parameters, which are not public here).

Relative error = ``|estimate - ground truth| / ground truth``.

The example needs the Open Bandit Dataset's logs, which the package does not ship, so it
is not run here (a slice is bundled with the tests, ``tests/data/decide``, and
``tests/decide/test_ope.py`` runs it):

>>> results = run_obd_validation("tests/data/decide")  # doctest: +SKIP
>>> summary_table(results).columns.tolist()  # doctest: +SKIP
['estimator', 'relative_error', 'obp_published']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoplens.decide.ope import ESTIMATORS, LoggedFeedback, estimate_all, select_estimator
from shoplens.errors import InputFileError

N_ITEMS = 80
USER_FEATURES = [f"user_feature_{i}" for i in range(4)]
# Relative estimation errors published by OBP for the same two evaluations (paper, "All" campaign).
OBP_PUBLISHED = {"dm": 0.157, "dr_os": 0.160, "switch_dr": 0.258, "dr": 0.292, "sndr": 0.302, "ipw": 0.311,
                 "snipw": 0.312}


def _find(data_dir: Path, policy: str) -> Path:
    for candidate in (data_dir / f"obd_{policy}.csv.gz", data_dir / policy / "all" / "all.csv.gz",
                      data_dir / "obd_zozotown" / policy / "all" / "all.csv.gz"):
        if candidate.exists():
            return candidate
    raise InputFileError(str(data_dir), f"no Open Bandit Dataset logs for the {policy!r} policy",
                         hint="point --data-dir at ../shared/data/obd_zozotown or tests/data/decide")


def load_obd(data_dir: str | Path, policy: str) -> LoggedFeedback:
    """Logs of ``policy`` (``random`` or ``bts``) as :class:`LoggedFeedback` (slot = position)."""
    path = _find(Path(data_dir), policy)
    frame = pd.read_csv(path, usecols=["item_id", "position", "click", "propensity_score", *USER_FEATURES])
    return LoggedFeedback(
        action=frame["item_id"].to_numpy(), reward=frame["click"].to_numpy(float),
        propensity=frame["propensity_score"].to_numpy(float), n_actions=N_ITEMS,
        position=frame["position"].to_numpy() - 1, context=frame[USER_FEATURES].reset_index(drop=True),
    )


def slot_frequencies(logs: LoggedFeedback) -> np.ndarray:
    """(3, 80): how often each item was shown in each slot; a context-free policy's distribution."""
    n_pos = int(logs.position.max()) + 1  # type: ignore[union-attr]
    freq = np.zeros((n_pos, logs.n_actions))
    np.add.at(freq, (logs.position, logs.action), 1.0)
    return freq / freq.sum(axis=1, keepdims=True)


def run_obd_validation(data_dir: str | Path, *, n_bootstrap: int = 200, seed: int = 0) -> pd.DataFrame:
    """Both evaluations; one row per (evaluation, estimator) with estimate, interval and relative error."""
    random_logs, bts_logs = load_obd(data_dir, "random"), load_obd(data_dir, "bts")
    truth = {"random": float(random_logs.reward.mean()), "bts": float(bts_logs.reward.mean())}
    runs = [
        ("uniform from BTS logs", bts_logs, np.full((len(bts_logs), N_ITEMS), 1.0 / N_ITEMS), truth["random"]),
        ("BTS from random logs", random_logs, slot_frequencies(bts_logs)[random_logs.position], truth["bts"]),
    ]
    rows: list[dict[str, Any]] = []
    for label, logs, dist, gt in runs:
        est = estimate_all(logs, dist, n_bootstrap=n_bootstrap, seed=seed)
        chosen = select_estimator(est)["selected"]
        for name in ESTIMATORS:
            e = est[name]
            rows.append({"evaluation": label, "estimator": name, "estimate": e["value"], "ci_low": e["ci_low"],
                         "ci_high": e["ci_high"], "ground_truth": gt,
                         "relative_error": abs(e["value"] - gt) / gt, "selected": name == chosen,
                         "tau": e.get("tau"), "lambda": e.get("lambda")})
    return pd.DataFrame(rows)


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """Mean relative error per estimator over both evaluations, next to OBP's published figure."""
    mean = results.groupby("estimator", sort=False)["relative_error"].mean()
    sel = results[results["selected"]]
    table = pd.DataFrame({"estimator": mean.index, "relative_error": mean.to_numpy()})
    table["obp_published"] = table["estimator"].map(OBP_PUBLISHED)
    extra = pd.DataFrame([{"estimator": "selected (" + ", ".join(sel["estimator"]) + ")",
                           "relative_error": float(sel["relative_error"].mean()), "obp_published": np.nan}])
    return pd.concat([table, extra], ignore_index=True)
