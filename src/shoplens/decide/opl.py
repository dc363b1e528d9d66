"""Off-policy learning: learn a new policy from logged decisions and estimate its value,
with confidence intervals, on held-out logs before it sees any traffic.

- ``ipw``: weighted classification (Beygelzimer & Langford 2009; OBP's ``IPWLearner``):
  predict the logged action with sample weights ``reward / propensity``;
- ``dr``: regress the doubly-robust pseudo-rewards
  ``q(x, a) + 1[a = a_i] (r_i - q(x_i, a_i)) / p_i`` of every action on the context and
  pick the best (Dudík et al. 2011).

Both use scikit-learn models; the learned policy is greedy, mixed with ``epsilon``
uniform exploration so it can keep logging usable data.

Logged decisions of a uniform-random offer policy with simulated clicks:

>>> from shoplens.decide.simulate import OfferEnvironment
>>> frame = OfferEnvironment.random(n_customers=500, seed=1).log_uniform(2000, seed=3)
>>> names, codes = np.unique(frame["action"], return_inverse=True)
>>> logs = LoggedFeedback(codes, frame["reward"], frame["propensity"], len(names),
...                       context=frame[["recency_days", "orders", "log_spend"]], action_names=list(names))
>>> report = learn_and_evaluate(logs, method="dr", seed=0)
>>> report["n_train"], report["n_test"], report["selected"]
(1396, 604, 'dr_os')
>>> bool(report["estimates"]["dr_os"]["value"] > report["logged_policy_value"])  # it beats random offers
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shoplens.base import Model, read_model_file
from shoplens.decide.ope import LoggedFeedback, RewardModel, estimate_all, select_estimator
from shoplens.errors import InsufficientDataError, UserInputError

METHODS = ("ipw", "dr")


def _encoder(logs: LoggedFeedback):
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    ctx = logs.context
    numeric = list(ctx.select_dtypes("number").columns)
    categorical = [c for c in ctx.columns if c not in numeric]
    parts = []
    if numeric:
        parts.append(("num", StandardScaler(), numeric))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    return ColumnTransformer(parts, sparse_threshold=0.0)


class LearnedPolicy(Model):
    """A policy learned from logs (see the module docstring)."""

    def __init__(self, method: str = "dr", epsilon: float = 0.0, alpha: float = 1.0, seed: int = 0) -> None:
        self.method = method
        self.epsilon = epsilon
        self.alpha = alpha
        self.seed = seed

    def fit(self, logs: LoggedFeedback) -> LearnedPolicy:
        from sklearn.linear_model import LogisticRegression, Ridge

        if self.method not in METHODS:
            raise UserInputError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if logs.context is None or logs.context.shape[1] == 0:
            raise InsufficientDataError("off-policy learning needs context columns to personalise on")
        self.encoder_ = _encoder(logs).fit(logs.context)
        X = self.encoder_.transform(logs.context)
        self.n_actions_ = logs.n_actions
        self.action_names_ = list(logs.action_names)
        self.context_columns_ = list(logs.context.columns)
        if self.method == "ipw":
            weight = logs.reward / logs.propensity
            keep = weight > 0
            if len(np.unique(logs.action[keep])) < 2:
                raise InsufficientDataError("IPW learning needs positive rewards on at least two actions")
            self.model_ = LogisticRegression(C=1.0 / self.alpha, max_iter=1000).fit(
                X[keep], logs.action[keep], sample_weight=weight[keep])
        else:
            q_all, q_logged = RewardModel().fit_predict(logs, seed=self.seed)
            pseudo = q_all.copy()
            rows = np.arange(len(logs))
            pseudo[rows, logs.action] += (logs.reward - q_logged) / logs.propensity
            self.model_ = Ridge(alpha=self.alpha).fit(X, pseudo)
        return self

    def scores(self, logs: LoggedFeedback) -> np.ndarray:
        self.check_fitted()
        missing = [c for c in self.context_columns_ if logs.context is None or c not in logs.context.columns]
        if missing:
            raise UserInputError(f"the logs lack the context column(s) the policy was trained on: {', '.join(missing)}")
        X = self.encoder_.transform(logs.context[self.context_columns_])
        if self.method == "ipw":
            s = np.full((len(logs), self.n_actions_), -np.inf)
            s[:, self.model_.classes_] = self.model_.predict_proba(X)
            return s
        return self.model_.predict(X)

    def action_distribution(self, logs: LoggedFeedback) -> np.ndarray:
        """(n, n_actions): greedy on the learned scores, mixed with epsilon-uniform exploration."""
        self.check_fitted()
        if logs.n_actions != self.n_actions_ or list(logs.action_names[: len(self.action_names_)]) != self.action_names_:
            raise UserInputError(
                f"the logs' actions {logs.action_names} differ from the policy's {self.action_names_}")
        s = self.scores(logs)
        best = s >= s.max(axis=1, keepdims=True) - 1e-12
        greedy = best / best.sum(axis=1, keepdims=True)
        return (1 - self.epsilon) * greedy + self.epsilon / self.n_actions_


def load_policy_file(path: str | Path) -> Any:
    """A saved policy (learned or bandit) exposing ``action_distribution(logs)``."""
    model = read_model_file(path)["model"]
    if not hasattr(model, "action_distribution"):
        raise UserInputError(f"{path}: holds a {type(model).__name__}, which is not a policy")
    return model


def learn_and_evaluate(logs: LoggedFeedback, *, method: str = "dr", test_share: float = 0.3, epsilon: float = 0.0,
                       n_bootstrap: int = 200, seed: int = 0) -> dict[str, Any]:
    """Learn on a random ``1 - test_share`` of the logs, evaluate off-policy on the rest.

    Returns the fitted policy, the estimates for it and for the logging policy (its mean
    reward on the same held-out rows), and the selected estimator.
    """
    if not 0 < test_share < 1:
        raise UserInputError("test_share must lie strictly between 0 and 1")
    n = len(logs)
    if n < 50:
        raise InsufficientDataError(f"off-policy learning needs at least 50 logged decisions, got {n}")
    rng = np.random.default_rng(seed)
    test = rng.random(n) < test_share
    train_logs, test_logs = _subset(logs, ~test), _subset(logs, test)
    policy = LearnedPolicy(method=method, epsilon=epsilon, seed=seed).fit(train_logs)
    est = estimate_all(test_logs, policy.action_distribution(test_logs), n_bootstrap=n_bootstrap, seed=seed)
    choice = select_estimator(est)
    logged = float(test_logs.reward.mean())
    return {"policy": policy, "estimates": est, "selected": choice["selected"], "reason": choice["reason"],
            "logged_policy_value": logged, "n_train": int((~test).sum()), "n_test": int(test.sum())}


def _subset(logs: LoggedFeedback, mask: np.ndarray) -> LoggedFeedback:
    return LoggedFeedback(
        logs.action[mask], logs.reward[mask], logs.propensity[mask], logs.n_actions,
        position=None if logs.position is None else logs.position[mask],
        context=None if logs.context is None else logs.context[mask].reset_index(drop=True),
        action_names=list(logs.action_names),
    )
