"""Who to target next: an uplift model (T-learner or X-learner on scikit-learn gradient
boosting) trained on a finished campaign and judged on a held-out split against random
targeting with the Qini and uplift curves.

The meta-learners are a few lines over scikit-learn estimators (causalml, which has them,
pins old dependencies and pulls a large tree; the formulas are Kuenzel et al. 2019).

Curves, on the held-out customers sorted by predicted uplift (highest first), after the
first k of N customers, with ``n_t(k)``/``n_c(k)`` treated/control customers and
``y_t(k)``/``y_c(k)`` their summed outcomes:

- uplift curve ``u(k) = (y_t/n_t - y_c/n_c) * k``: the extra outcome if the top k were treated;
- Qini curve ``q(k) = y_t(k) - y_c(k) * n_t(k) / n_c(k)``;

both divided by N so they read per held-out customer. ``auuc`` is the area under the uplift
curve over the share targeted (0..1), ``auuc_random`` the area under the straight line of
random targeting (``u(N) / 2``), and ``qini`` the area between the Qini curve and its
random line: positive when the model ranks customers better than chance.

>>> import numpy as np
>>> y = np.array([1, 0, 0, 0]); t = np.array([1, 0, 1, 0]); s = np.array([0.9, 0.8, 0.1, 0.2])
>>> round(qini_auc(y, t, s), 5), [round(a, 5) for a in uplift_auc(y, t, s)]
(0.09375, [0.4375, 0.25])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shoplens.errors import InsufficientDataError, NotFittedError, UserInputError

LEARNERS = ("t", "x")


def _curve_points(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    y = np.asarray(y, dtype=float)[order]
    t = np.asarray(treated, dtype=bool)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    k = np.arange(1, len(y) + 1)
    return k, n_t, n_c, y_t, y_c


def _area(x: np.ndarray, v: np.ndarray) -> float:
    x = np.concatenate([[0.0], x])
    v = np.concatenate([[0.0], v])
    return float(np.sum((x[1:] - x[:-1]) * (v[1:] + v[:-1]) / 2))


def uplift_curve(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share targeted, extra outcome per held-out customer) after each customer in score order."""
    k, n_t, n_c, y_t, y_c = _curve_points(y, treated, score)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = (np.where(n_t > 0, y_t / np.maximum(n_t, 1), 0.0) - np.where(n_c > 0, y_c / np.maximum(n_c, 1), 0.0)) * k
    return k / len(k), gain / len(k)


def qini_curve(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share targeted, Qini value per held-out customer) after each customer in score order."""
    k, n_t, n_c, y_t, y_c = _curve_points(y, treated, score)
    q = y_t - np.where(n_c > 0, y_c * n_t / np.maximum(n_c, 1), 0.0)
    return k / len(k), q / len(k)


def uplift_auc(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(area under the uplift curve, area under random targeting's straight line)."""
    x, gain = uplift_curve(y, treated, score)
    return _area(x, gain), float(gain[-1]) / 2


def qini_auc(y: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    """Area between the Qini curve and random targeting's line (> 0: better than random)."""
    x, q = qini_curve(y, treated, score)
    return _area(x, q) - float(q[-1]) / 2


def _regressor(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    # squared loss on a 0/1 outcome estimates its probability; small trees: uplift is a weak signal
    return HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                         min_samples_leaf=50, random_state=seed)


class UpliftModel:
    """T-learner (one outcome model per group, uplift = difference) or X-learner (imputed
    individual effects regressed per group, blended by the treated share).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(2000, 2)); t = rng.integers(0, 2, 2000)
    >>> y = X[:, 0] * t + rng.normal(scale=0.1, size=2000)
    >>> m = UpliftModel(learner="t").fit(X, t, y)
    >>> bool(np.corrcoef(m.predict(X), X[:, 0])[0, 1] > 0.9)
    True
    """

    def __init__(self, learner: str = "t", seed: int = 0) -> None:
        self.learner = learner
        self.seed = seed

    def fit(self, X: np.ndarray, treated: np.ndarray, y: np.ndarray) -> UpliftModel:
        if self.learner not in LEARNERS:
            raise UserInputError(f"learner must be one of {', '.join(LEARNERS)}, not {self.learner!r}")
        X = np.asarray(X, dtype=float)
        t = np.asarray(treated, dtype=bool)
        y = np.asarray(y, dtype=float)
        if t.sum() < 10 or (~t).sum() < 10:
            raise InsufficientDataError("an uplift model needs at least 10 treated and 10 control customers")
        mu0 = _regressor(self.seed).fit(X[~t], y[~t])
        mu1 = _regressor(self.seed).fit(X[t], y[t])
        self.models_ = (mu0, mu1)
        self.treated_share_ = float(t.mean())
        if self.learner == "x":
            tau1 = _regressor(self.seed).fit(X[t], y[t] - mu0.predict(X[t]))
            tau0 = _regressor(self.seed).fit(X[~t], mu1.predict(X[~t]) - y[~t])
            self.effect_models_ = (tau0, tau1)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted uplift (treated minus control outcome) per customer."""
        if not hasattr(self, "models_"):
            raise NotFittedError("UpliftModel is not fitted yet; call fit first")
        X = np.asarray(X, dtype=float)
        if self.learner == "x":
            tau0, tau1 = self.effect_models_
            g = self.treated_share_  # randomised: the propensity is the treated share
            return g * tau0.predict(X) + (1 - g) * tau1.predict(X)
        mu0, mu1 = self.models_
        return mu1.predict(X) - mu0.predict(X)

    def __repr__(self) -> str:
        return f"UpliftModel(learner={self.learner!r}, seed={self.seed})"


def design_matrix(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Numeric features, text columns one-hot encoded (missing numbers stay NaN: the trees handle them)."""
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise UserInputError(f"covariate column(s) not found: {', '.join(missing)}")
    if not features:
        raise UserInputError("an uplift model needs at least one covariate column (--covariates a,b)")
    part = frame[list(features)]
    text = [c for c in features if not pd.api.types.is_numeric_dtype(part[c])]
    return pd.get_dummies(part, columns=text, dummy_na=False, dtype=float).astype(float)


def _lift(y: np.ndarray, treated: np.ndarray, mask: np.ndarray) -> float | None:
    """Measured difference of means, treated minus control, among ``mask`` (None when a group is empty)."""
    if (mask & treated).sum() == 0 or (mask & ~treated).sum() == 0:
        return None
    return float(y[mask & treated].mean() - y[mask & ~treated].mean())


def evaluate_uplift(frame: pd.DataFrame, *, arm_column: str, control: str, metric: str, features: Sequence[str],
                    test_fraction: float = 0.3, learner: str = "t", seed: int = 0,
                    target_share: float = 0.4) -> list[dict[str, Any]]:
    """Per treatment arm: fit an uplift model on (1 - ``test_fraction``) of the arm and control
    customers, score the rest, and compare its Qini / AUUC with random targeting there.

    Also reports the measured lift among the ``target_share`` with the highest predicted
    uplift and among the rest (the next campaign's audience: "mail the top 40 %")."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise UserInputError(f"test fraction must lie strictly between 0 and 1, not {test_fraction}")
    X_all = design_matrix(frame, features)
    y_all = pd.to_numeric(frame[metric], errors="coerce")
    if y_all.isna().any():
        raise UserInputError(f"uplift metric {metric!r} must be numeric with no blanks")
    groups = frame[arm_column].astype(str).to_numpy()
    out = []
    for arm in [a for a in dict.fromkeys(groups) if a != control]:
        keep = (groups == arm) | (groups == control)
        X, y, t = X_all[keep].to_numpy(), y_all[keep].to_numpy(float), groups[keep] == arm
        idx_train, idx_test = train_test_split(np.arange(len(y)), test_size=test_fraction, random_state=seed,
                                               stratify=t)
        model = UpliftModel(learner=learner, seed=seed).fit(X[idx_train], t[idx_train], y[idx_train])
        score = model.predict(X[idx_test])
        yt, tt = y[idx_test], t[idx_test]
        auuc, auuc_random = uplift_auc(yt, tt, score)
        top = score >= np.quantile(score, 1 - target_share)

        out.append({"arm": arm, "metric": metric, "qini": qini_auc(yt, tt, score), "auuc": auuc,
                    "auuc_random": auuc_random, "test_fraction": test_fraction, "learner": learner,
                    "n_train": len(idx_train), "n_test": len(idx_test),
                    "target_share": target_share, "lift_top": _lift(yt, tt, top), "lift_rest": _lift(yt, tt, ~top)})
    return out
