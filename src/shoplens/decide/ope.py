"""Off-policy evaluation: what would a new policy have earned on traffic logged by another?

Estimators (Dudík et al. 2011; Swaminathan & Joachims 2015; Wang et al. 2017), named as in
Open Bandit Pipeline:

- ``dm``: direct method, ``mean_i sum_a pi(a|x_i) q(x_i, a)`` with a reward model ``q``;
- ``ipw``: inverse propensity weighting, ``mean_i w_i r_i`` with ``w_i = pi(a_i|x_i) / p_i`` (no clipping);
- ``snipw``: self-normalised IPW, ``sum w r / sum w``;
- ``dr``: doubly robust, DM plus the IPW-weighted residual ``w_i (r_i - q(x_i, a_i))``;
- ``sndr``: DR with the self-normalised residual term;
- ``switch_dr``: DR that drops the residual when ``w_i > tau`` (the DM answers there);
- ``dr_os``: DR with optimistic shrinkage of the weights, ``lambda w / (w^2 + lambda)`` (Su et al. 2020);
- ``ipw_clip`` / ``dr_clip``: weights clipped at ``tau`` (propensity clipping).

Every estimate comes with a bootstrap percentile interval; all estimators are
(ratios of) means of per-row terms, so one resample of row counts serves them all.
:func:`select_estimator` then says which estimate to trust.

Written with numpy rather than imported from OBP because OBP pins torch and old
scikit-learn; the estimators are one line each once the per-row terms exist.

>>> import numpy as np
>>> logs = LoggedFeedback(action=np.array([0, 1, 1, 0]), reward=np.array([1.0, 0, 1, 0]),
...                       propensity=np.full(4, 0.5), n_actions=2)
>>> pi = np.full((4, 2), 0.5)  # the uniform policy, which also logged the data
>>> round(estimate_all(logs, pi, n_bootstrap=50)["ipw"]["value"], 3)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shoplens.errors import InputFileError, InsufficientDataError, UserInputError
from shoplens.files import read_user_csv

ESTIMATORS = ("dm", "ipw", "snipw", "dr", "sndr", "switch_dr", "dr_os", "ipw_clip", "dr_clip")
# Estimators taking part in the automatic selection (the clipped ones are tuned variants
# of ipw / dr and would only duplicate switch_dr's role).
SELECTABLE = ("dm", "ipw", "snipw", "dr", "sndr", "switch_dr", "dr_os")


@dataclass
class LoggedFeedback:
    """Logged bandit feedback: one row per decision (or per slot when ``position`` is given).

    ``action`` holds integer codes ``0..n_actions-1``; ``action_names`` maps them back.
    """

    action: np.ndarray
    reward: np.ndarray
    propensity: np.ndarray
    n_actions: int
    position: np.ndarray | None = None
    context: pd.DataFrame | None = None
    action_names: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.action = np.asarray(self.action, dtype=np.int64)
        self.reward = np.asarray(self.reward, dtype=float)
        self.propensity = np.asarray(self.propensity, dtype=float)
        n = len(self.action)
        if n == 0:
            raise InsufficientDataError("the logs hold no rows")
        if len(self.reward) != n or len(self.propensity) != n:
            raise UserInputError("action, reward and propensity must have the same length")
        if not ((self.propensity > 0) & (self.propensity <= 1)).all():
            raise UserInputError("propensities must lie in (0, 1]")
        if self.action.min() < 0 or self.action.max() >= self.n_actions:
            raise UserInputError("action codes must lie in 0..n_actions-1")
        if not self.action_names:
            self.action_names = list(range(self.n_actions))

    def __len__(self) -> int:
        return len(self.action)


# -- reward model (for dm / dr) -------------------------------------------------------------
class RewardModel:
    """An additive reward model ``q(x, a, position)``: context + action + position effects.

    Logistic regression for 0/1 rewards, ridge otherwise (scikit-learn). Because the
    model is additive on one-hot features, ``q(x, a)`` for every action follows from the
    coefficients without building ``n x n_actions`` design rows.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def _design(self, logs: LoggedFeedback, rows: np.ndarray | slice):
        from scipy import sparse
        from sklearn.preprocessing import OneHotEncoder

        parts = []
        if logs.context is not None and logs.context.shape[1]:
            ctx = logs.context.iloc[rows] if not isinstance(rows, slice) else logs.context.iloc[rows]
            num = ctx.select_dtypes("number")
            cat = ctx.drop(columns=num.columns)
            if cat.shape[1]:
                if not hasattr(self, "enc_"):
                    self.enc_ = OneHotEncoder(handle_unknown="ignore").fit(cat.astype(str))
                parts.append(self.enc_.transform(cat.astype(str)))
            if num.shape[1]:
                if not hasattr(self, "num_mean_"):
                    self.num_mean_ = num.mean().to_numpy()
                    self.num_std_ = num.std().replace(0, 1).fillna(1).to_numpy()
                parts.append(sparse.csr_matrix(np.nan_to_num((num.to_numpy(float) - self.num_mean_) / self.num_std_)))
        if not parts:
            return None
        return sparse.hstack(parts).tocsr()

    def fit_predict(self, logs: LoggedFeedback, n_folds: int = 2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Cross-fitted predictions: (q for every row and action (n, K), q at the logged action (n,))."""
        n = len(logs)
        folds = np.random.default_rng(seed).integers(0, n_folds, n) if n_folds > 1 else np.zeros(n, int)
        q_all = np.empty((n, logs.n_actions))
        for k in range(max(n_folds, 1)):
            test = np.flatnonzero(folds == k)
            train = np.flatnonzero(folds != k) if n_folds > 1 else test
            if len(test) == 0:
                continue
            if len(train) == 0:
                train = test
            q_all[test] = self._fit_one(logs, train, test)
        q_logged = q_all[np.arange(n), logs.action]
        return q_all, q_logged

    def _cell_means(self, logs: LoggedFeedback, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        """Without context the model is a table: mean reward per (position, action), shrunk
        towards the position mean by ``alpha`` pseudo-observations (bincount, no solver)."""
        K = logs.n_actions
        pos = logs.position if logs.position is not None else np.zeros(len(logs), np.int64)
        n_pos = int(pos.max()) + 1
        cell = pos[train] * K + logs.action[train]
        sums = np.bincount(cell, weights=logs.reward[train], minlength=n_pos * K).reshape(n_pos, K)
        counts = np.bincount(cell, minlength=n_pos * K).reshape(n_pos, K)
        pos_mean = sums.sum(axis=1) / np.maximum(counts.sum(axis=1), 1)
        q = (sums + self.alpha * pos_mean[:, None]) / (counts + self.alpha)
        return q[pos[test]]

    def _fit_one(self, logs: LoggedFeedback, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression, Ridge

        if logs.context is None or logs.context.shape[1] == 0:
            return self._cell_means(logs, train, test)

        for a in ("enc_", "num_mean_", "num_std_"):
            self.__dict__.pop(a, None)
        K = logs.n_actions
        n_pos = int(logs.position.max()) + 1 if logs.position is not None else 1
        pos = logs.position if logs.position is not None else np.zeros(len(logs), int)
        ctx_train = self._design(logs, train)
        act = sparse.csr_matrix((np.ones(len(train)), (np.arange(len(train)), logs.action[train])), shape=(len(train), K))
        posm = sparse.csr_matrix((np.ones(len(train)), (np.arange(len(train)), pos[train])), shape=(len(train), n_pos))
        X = sparse.hstack([m for m in (ctx_train, act, posm) if m is not None]).tocsr()
        y = logs.reward[train]
        binary = bool(np.isin(y, (0.0, 1.0)).all())
        if binary and 0 < y.sum() < len(y):
            model = LogisticRegression(C=1.0 / self.alpha, max_iter=500).fit(X, y)
            coef, intercept = model.coef_[0], float(model.intercept_[0])
        elif binary:
            return np.full((len(test), K), float(y.mean()) if len(y) else 0.0)
        else:
            model = Ridge(alpha=self.alpha).fit(X, y)
            coef, intercept = model.coef_, float(model.intercept_)
        d_ctx = ctx_train.shape[1] if ctx_train is not None else 0
        w_ctx, w_act, w_pos = coef[:d_ctx], coef[d_ctx:d_ctx + K], coef[d_ctx + K:]
        ctx_test = self._design(logs, test)
        base = intercept + (ctx_test @ w_ctx if ctx_test is not None else 0.0) + w_pos[pos[test]]
        score = np.asarray(base).reshape(-1, 1) + w_act.reshape(1, -1)
        # Actions never seen in training keep a zero coefficient: the average action.
        return 1 / (1 + np.exp(-score)) if binary else score


# -- estimators -------------------------------------------------------------------------------
def _row_terms(logs: LoggedFeedback, action_dist: np.ndarray, q_all: np.ndarray | None,
               q_logged: np.ndarray | None, tau: float, lam: float = np.inf) -> dict[str, np.ndarray]:
    n = len(logs)
    pi_logged = action_dist[np.arange(n), logs.action]
    w = pi_logged / logs.propensity
    r = logs.reward
    terms = {"w": w, "wr": w * r}
    wc = np.minimum(w, tau)
    terms["wcr"] = wc * r
    if q_all is not None and q_logged is not None:
        dm = (action_dist * q_all).sum(axis=1)
        resid = r - q_logged
        w_os = w if np.isinf(lam) else lam * w / (w * w + lam)
        terms.update(dm=dm, wres=w * resid, wcres=wc * resid, swres=np.where(w <= tau, w * resid, 0.0),
                     osres=w_os * resid)
    return terms


def _estimates_from_means(m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Estimator values from per-row term means (arrays: one entry per bootstrap resample)."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample without weight gives NaN, ignored later
        return _estimates(m)


def _estimates(m: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"ipw": m["wr"], "snipw": m["wr"] / m["w"], "ipw_clip": m["wcr"]}
    if "dm" in m:
        out.update(dm=m["dm"], dr=m["dm"] + m["wres"], sndr=m["dm"] + m["wres"] / m["w"],
                   switch_dr=m["dm"] + m["swres"], dr_os=m["dm"] + m["osres"], dr_clip=m["dm"] + m["wcres"])
    return out


def bootstrap_means(terms: dict[str, np.ndarray], n_bootstrap: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Means of each per-row term over ``n_bootstrap`` resamples of the rows (with replacement).

    Each resample is drawn as row counts, so the means of all terms come from one
    matrix-vector product. When rows repeat (logs without per-row context), resampling n
    rows is exactly a multinomial over the distinct rows weighted by their multiplicity,
    which is drawn directly instead of n row indices.
    """
    names = list(terms)
    M = np.ascontiguousarray(np.column_stack([terms[k] for k in names]))
    n = M.shape[0]
    rng = np.random.default_rng(seed)
    keys = M.view(np.dtype((np.void, M.dtype.itemsize * M.shape[1]))).ravel()
    _, first, multiplicity = np.unique(keys, return_index=True, return_counts=True)
    if len(first) <= n // 4:
        counts = rng.multinomial(n, multiplicity / n, size=n_bootstrap).astype(float)
        out = counts @ M[first] / n
    else:
        out = np.empty((n_bootstrap, len(names)))
        for b in range(n_bootstrap):
            row_counts = np.bincount(rng.integers(0, n, n, dtype=np.int32), minlength=n).astype(float)
            out[b] = row_counts @ M / n
    return {k: out[:, i] for i, k in enumerate(names)}


def estimate_all(logs: LoggedFeedback, action_dist: np.ndarray, *, reward_model: RewardModel | None | bool = True,
                 tau: float | None = None, n_bootstrap: int = 200, alpha: float = 0.05, seed: int = 0,
                 q: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, dict[str, float]]:
    """Every estimator's value with a bootstrap ``1 - alpha`` percentile interval.

    ``action_dist``: (n, n_actions), the evaluated policy's probability of each action
    for each logged row. ``tau``: weight threshold of switch_dr / clipping (default: the
    largest of 10 and the weights' 99th percentile... tuned by :func:`tune_tau`).
    ``reward_model=False`` skips dm/dr (no reward model).
    """
    action_dist = np.asarray(action_dist, dtype=float)
    if action_dist.shape != (len(logs), logs.n_actions):
        raise UserInputError(f"action_dist must have shape ({len(logs)}, {logs.n_actions}), not {action_dist.shape}")
    if q is None and reward_model is not False:
        model = reward_model if isinstance(reward_model, RewardModel) else RewardModel()
        q = model.fit_predict(logs, seed=seed)
    q_all, q_logged = q if q is not None else (None, None)
    if tau is None:
        tau = tune_tau(logs, action_dist, q_all, q_logged)
    lam = tune_tau(logs, action_dist, q_all, q_logged, kind="dr_os") if q_all is not None else np.inf
    terms = _row_terms(logs, action_dist, q_all, q_logged, tau, lam)
    point = _estimates_from_means({k: np.array([v.mean()]) for k, v in terms.items()})
    boot = _estimates_from_means(bootstrap_means(terms, n_bootstrap, seed)) if n_bootstrap > 0 else {}
    out: dict[str, dict[str, float]] = {}
    for name in ESTIMATORS:
        if name not in point:
            continue
        lo = hi = float("nan")
        if name in boot:
            lo, hi = np.nanquantile(boot[name], [alpha / 2, 1 - alpha / 2])
        out[name] = {"value": float(point[name][0]), "ci_low": float(lo), "ci_high": float(hi)}
        if name in ("switch_dr", "ipw_clip", "dr_clip"):
            out[name]["tau"] = float(tau)
        if name == "dr_os":
            out[name]["lambda"] = float(lam)
    return out


def tune_tau(logs: LoggedFeedback, action_dist: np.ndarray, q_all: np.ndarray | None, q_logged: np.ndarray | None,
             grid: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, np.inf),
             kind: str = "switch_dr") -> float:
    """The weight threshold for switch_dr / clipping (or ``lambda`` of dr_os), by SLOPE (Su et al. 2020).

    Larger values mean less bias and more variance. Walk the grid from large to small
    and keep shrinking while the new estimate stays inside the (analytic, 95 %)
    interval of every larger-value estimate, i.e. while its extra bias is not
    detectable; stop at the first conflict.
    """
    n = len(logs)
    kept: list[tuple[float, float]] = []  # (estimate, half-width) of accepted larger taus
    chosen = float(grid[-1])
    for tau in sorted(grid, reverse=True):
        if kind == "dr_os":
            t = _row_terms(logs, action_dist, q_all, q_logged, np.inf, tau)
            row = t["dm"] + t["osres"]
        else:
            t = _row_terms(logs, action_dist, q_all, q_logged, tau)
            row = t["dm"] + t["swres"] if "dm" in t else t["wcr"]
        est, half = float(row.mean()), float(1.96 * row.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        if all(abs(est - e) <= h for e, h in kept):
            chosen = float(tau)
            kept.append((est, half))
        else:
            break
    return chosen


def select_estimator(estimates: dict[str, dict[str, float]], candidates: tuple[str, ...] = SELECTABLE) -> dict[str, Any]:
    """Which estimate to trust: the narrowest interval whose estimate every wider one accepts.

    This is Lepski's principle as used by SLOPE for off-policy evaluation: wider
    intervals belong to less biased estimators (IPW is unbiased, DM the most biased),
    so an estimator is acceptable when its estimate lies inside all of their intervals
    (its bias is not detectable); among those, the narrowest (lowest variance) wins.
    """
    cands = []
    for name in candidates:
        e = estimates.get(name)
        if e and np.isfinite([e["value"], e["ci_low"], e["ci_high"]]).all():
            cands.append((e["ci_high"] - e["ci_low"], name, e))
    if not cands:
        raise InsufficientDataError("no estimator produced a finite interval")
    cands.sort(key=lambda c: c[0])
    for i, (width, name, e) in enumerate(cands):
        wider = cands[i + 1:]
        if all(o["ci_low"] <= e["value"] <= o["ci_high"] for _, _, o in wider):
            others = ", ".join(n for _, n, _ in wider) or "none"
            return {"selected": name, "reason": f"narrowest interval ({width:.4g}) whose estimate lies inside every "
                                                 f"wider (less biased) estimator's interval ({others})"}
    raise AssertionError("unreachable: the widest estimator always qualifies")


# -- CSV logs and policies for the CLI --------------------------------------------------------------
RESERVED = {"action", "reward", "propensity", "position", "decision_id", "timestamp", "occurred_at", "customer_id"}


def read_logs(path: str, n_actions: int | None = None) -> LoggedFeedback:
    """Logged feedback from a CSV with ``action, reward, propensity`` (+ ``position``, context columns)."""
    frame = read_user_csv(path, allow_empty=True)  # an empty log is reported after the column check
    missing = [c for c in ("action", "reward", "propensity") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}",
                             hint="logs need one row per decision with action, reward and propensity")
    if frame.empty:
        raise InputFileError(path, "no rows")
    for col in ("reward", "propensity"):
        vals = pd.to_numeric(frame[col], errors="coerce")
        if vals.isna().any():
            line = int(np.flatnonzero(vals.isna().to_numpy())[0]) + 2
            raise InputFileError(path, f"{col} must be a number", line=line, column=col)
        frame[col] = vals
    bad = ~((frame["propensity"] > 0) & (frame["propensity"] <= 1))
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise InputFileError(path, "propensity must lie in (0, 1]", line=line, column="propensity",
                             hint="the probability with which the logging policy chose the action")
    codes, names = pd.factorize(frame["action"], sort=True)
    k = len(names)
    if n_actions is not None:
        if n_actions < k:
            raise UserInputError(f"--n-actions {n_actions} is smaller than the {k} distinct actions in {path}")
        k = n_actions
    position = None
    if "position" in frame.columns:
        position = pd.factorize(frame["position"], sort=True)[0]
    ctx_cols = [c for c in frame.columns if c not in RESERVED]
    context = frame[ctx_cols].reset_index(drop=True) if ctx_cols else None
    return LoggedFeedback(codes, frame["reward"].to_numpy(float), frame["propensity"].to_numpy(float), k,
                          position=position, context=context, action_names=list(names) + [None] * (k - len(names)))


def uniform_policy(logs: LoggedFeedback) -> np.ndarray:
    """Each of the ``n_actions`` actions with probability 1/N."""
    return np.full((len(logs), logs.n_actions), 1.0 / logs.n_actions)


def logged_policy(logs: LoggedFeedback) -> np.ndarray:
    """The logging policy itself: the logged propensity for the logged action; the rest of
    the distribution (needed only by dm/dr) is the logs' action frequencies (per position)."""
    n, K = len(logs), logs.n_actions
    pos = logs.position if logs.position is not None else np.zeros(n, int)
    freq = np.zeros((int(pos.max()) + 1, K))
    np.add.at(freq, (pos, logs.action), 1.0)
    freq /= freq.sum(axis=1, keepdims=True)
    dist = freq[pos].copy()
    # put the known propensity on the logged action and rescale the others to sum to 1
    p = logs.propensity
    other = 1.0 - dist[np.arange(n), logs.action]
    scale = np.divide(1.0 - p, other, out=np.zeros(n), where=other > 0)
    dist *= scale[:, None]
    dist[np.arange(n), logs.action] = p
    return dist


def evaluate_file(path: str, policy: str, *, n_actions: int | None = None, n_bootstrap: int = 200,
                  seed: int = 0) -> dict[str, Any]:
    """``shoplens decide ope``: estimates for ``policy`` (uniform, logged or a model file) on CSV logs."""
    logs = read_logs(path, n_actions)
    if policy == "uniform":
        dist = uniform_policy(logs)
    elif policy == "logged":
        dist = logged_policy(logs)
    else:
        from shoplens.decide.opl import load_policy_file

        dist = load_policy_file(policy).action_distribution(logs)
    estimates = estimate_all(logs, dist, n_bootstrap=n_bootstrap, seed=seed)
    choice = select_estimator(estimates)
    return {"estimates": estimates, "selected": choice["selected"], "reason": choice["reason"],
            "n_rows": len(logs), "n_actions": logs.n_actions, "policy": policy}
