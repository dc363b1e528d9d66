"""Bandit policies with a one-event API (river style): dicts in, one decision out.

``choose(context, actions) -> (action, propensity)`` and ``update(context, action, reward)``;
``choose_slate(context, actions, k)`` fills k ranked slots, each with its propensity.
Every policy is seeded (same seed and events, same decisions), saves and loads with a
version stamp (:class:`shoplens.base.Model`), and reports the probability of what it
chose so that the decision log supports off-policy evaluation.

Written here rather than taken from MABWiser or Vowpal Wabbit: MABWiser returns no
propensities and VW's contextual bandits would need a native dependency; the update
rules are a few lines of linear algebra each.

Policies: :class:`EpsilonGreedy`, :class:`UCB1`, :class:`BernoulliTS` (context-free);
:class:`LinUCB`, :class:`LinearTS`, :class:`LogisticTS` (one linear model per action,
Li et al. 2010; Agrawal & Goyal 2013; Chapelle & Li 2011).

Features: numbers as they are, booleans 0/1, strings one-hot (``segment=loyal``). Without a fixed
``features`` list the linear policies grow their model when a new feature appears (exactly: the new
dimension starts from its prior); with one, other features are ignored.

Position-aware slates: with ``position_bias`` (the chance a customer looks at each slot,
a position-based click model) a reward seen in slot j updates the model as evidence
on ``position_bias[j]`` views instead of one.

>>> p = BernoulliTS(seed=1)
>>> action, propensity = p.choose({}, ["a", "b"])
>>> p.update({}, action, 1.0)
>>> action in ("a", "b") and 0 < propensity <= 1
True
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from shoplens.base import Model
from shoplens.errors import InvalidParameterError, UserInputError

Context = Mapping[str, Any]


@dataclass(frozen=True)
class Param:
    """The values one parameter may take (an entry of a policy's constraints table)."""

    kind: Literal["int", "float", "names", "weights"]
    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low itself excluded
    nullable: bool = False

    def check(self, name: str, value: Any) -> None:
        """Raise :class:`InvalidParameterError` naming ``name`` unless ``value`` fits."""
        if value is None:
            if not self.nullable:
                raise InvalidParameterError(name, "a value is required")
            return
        if self.kind in ("names", "weights"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise InvalidParameterError(name, f"expected a list, got {type(value).__name__}")
            for item in value:
                if self.kind == "names" and not isinstance(item, str):
                    raise InvalidParameterError(name, "expected a list of feature names")
                if self.kind == "weights":
                    Param("float", 0.0, 1.0, low_open=True).check(name, item)
            return
        numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
        if not numeric or (self.kind == "int" and not isinstance(value, (int, np.integer))):
            raise InvalidParameterError(name, f"expected {'an integer' if self.kind == 'int' else 'a number'}, "
                                              f"got {value!r}"[:200])
        if isinstance(value, (float, np.floating)) and not math.isfinite(value):
            raise InvalidParameterError(name, f"expected a finite number, got {value!r}")
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        if not low_ok or (self.high is not None and value > self.high):
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            raise InvalidParameterError(name, f"must lie in {'(' if self.low_open else '['}{lo}, {hi}], got {value!r}"[:200])


_COMMON = {"seed": Param("int", 0, 2**32 - 1), "n_draws": Param("int", 1, 100_000),
           "position_bias": Param("weights", nullable=True)}
_LINEAR = {**_COMMON, "features": Param("names", nullable=True), "ridge": Param("float", 0.0, 1e6, low_open=True)}


class Policy(Model):
    """Base of every bandit policy: arms appear when first offered; randomness from ``seed``."""

    contextual = False
    deterministic = False
    _constraints: dict[str, Param] = _COMMON

    def _check_params(self) -> None:
        """Every parameter against the class' constraints table (fit time: the first choice or update)."""
        for name, rule in self._constraints.items():
            rule.check(name, getattr(self, name, None))

    def __init__(self, seed: int = 0, n_draws: int = 100, position_bias: Sequence[float] | None = None) -> None:
        self.seed = seed
        self.n_draws = n_draws
        self.position_bias = position_bias

    # -- state ------------------------------------------------------------------
    def _init_state(self) -> None:
        if not hasattr(self, "arms_"):
            self._check_params()
            self.arms_: dict[Hashable, int] = {}
            self.rng_ = np.random.default_rng(self.seed)
            self.n_updates_ = 0
            self._init_arrays()

    def _init_arrays(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _add_arm(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _arm_indices(self, actions: Sequence[Hashable]) -> np.ndarray:
        self._init_state()
        if len(actions) == 0:
            raise UserInputError("choose needs at least one action")
        key = tuple(actions)
        cache = self.__dict__.setdefault("_index_cache", {})
        idx = cache.get(key)
        if idx is not None:
            return idx
        idx = np.empty(len(actions), dtype=np.int64)
        for i, a in enumerate(actions):
            j = self.arms_.get(a)
            if j is None:
                j = self.arms_[a] = len(self.arms_)
                self._add_arm()
            idx[i] = j
        if len(cache) > 1000:
            cache.clear()
        cache[key] = idx
        return idx

    def _vector(self, context: Context | None) -> np.ndarray | None:
        return None

    # -- scores -------------------------------------------------------------------
    def _sample_scores(self, x: np.ndarray | None, idx: np.ndarray, m: int) -> np.ndarray:
        """(m, len(idx)) scores; the policy picks the arg-max of a row."""
        raise NotImplementedError  # pragma: no cover

    def _draws(self, context: Context | None, actions: Sequence[Hashable], m: int) -> np.ndarray:
        idx = self._arm_indices(actions)
        scores = self._sample_scores(self._vector(context), idx, m)
        if self.deterministic:  # random tie-breaking, so ties share the propensity
            scores = scores + self.rng_.random(scores.shape) * 1e-12
        return scores

    # -- public API ---------------------------------------------------------------
    def probabilities(self, context: Context | None, actions: Sequence[Hashable]) -> np.ndarray:
        """The chance of choosing each action (Monte Carlo for Thompson sampling)."""
        if self.deterministic:
            scores = self._sample_scores(self._vector(context), self._arm_indices(actions), 1)[0]
            best = scores >= scores.max() - 1e-12
            return best / best.sum()
        draws = self._draws(context, actions, self.n_draws)
        counts = np.bincount(draws.argmax(axis=1), minlength=len(actions))
        return counts / counts.sum()

    def choose(self, context: Context | None, actions: Sequence[Hashable]) -> tuple[Hashable, float]:
        """One decision: the chosen action and the probability the policy had of choosing it."""
        if self.deterministic:
            scores = self._sample_scores(self._vector(context), self._arm_indices(actions), 1)[0]
            best = np.flatnonzero(scores >= scores.max() - 1e-12)
            pick = best[self.rng_.integers(len(best))] if len(best) > 1 else best[0]
            return actions[pick], 1.0 / len(best)
        draws = self._draws(context, actions, self.n_draws + 1)
        winners = draws.argmax(axis=1)
        chosen = winners[0]
        # share of draws the chosen action wins, counting the decision's own draw (never 0)
        return actions[chosen], float((winners == chosen).mean())

    def choose_slate(self, context: Context | None, actions: Sequence[Hashable], k: int) -> list[tuple[Hashable, float]]:
        """k ranked slots: [(action, propensity of that action in that slot), ...]."""
        if not 1 <= k <= len(actions):
            raise UserInputError(f"slate size k={k} must lie in 1..{len(actions)}")
        draws = self._draws(context, actions, self.n_draws + 1)
        ranks = np.argsort(-draws, axis=1)[:, :k]
        chosen = ranks[0]
        # propensity of (slot j, action): share of draws ranking that action in slot j,
        # counting the decision's own draw so it is never 0
        props = (ranks == chosen).mean(axis=0)
        return [(actions[a], float(p)) for a, p in zip(chosen, props)]

    def update(self, context: Context | None, action: Hashable, reward: float, position: int | None = None) -> None:
        """Learn from one reward (``position``: the slot it was shown in, for slates)."""
        j = int(self._arm_indices([action])[0])
        weight = 1.0
        if position is not None and self.position_bias is not None:
            if not 0 <= position < len(self.position_bias):
                raise UserInputError(f"position {position} outside the {len(self.position_bias)} slots of position_bias")
            weight = float(self.position_bias[position])
        self._update(self._vector(context), j, float(reward), weight)
        self.n_updates_ += 1

    def _update(self, x: np.ndarray | None, j: int, reward: float, weight: float) -> None:
        raise NotImplementedError  # pragma: no cover

    def fit(self, contexts: Sequence[Context | None], actions: Sequence[Hashable], rewards: Sequence[float],
            positions: Sequence[int | None] | None = None) -> Policy:
        """Learn from a batch of logged events (a loop of :meth:`update`)."""
        positions = positions if positions is not None else [None] * len(actions)
        for c, a, r, p in zip(contexts, actions, rewards, positions):
            self.update(c, a, r, p)
        return self

    def action_distribution(self, logs: Any) -> np.ndarray:
        """(n, n_actions) choice probabilities for the rows of :class:`~shoplens.decide.ope.LoggedFeedback`
        (used by ``shoplens decide ope --policy MODEL_FILE``)."""
        names = [a for a in logs.action_names]
        offered = [a for a in names if a is not None]
        records = logs.context.to_dict("records") if logs.context is not None else [None] * len(logs)
        out = np.zeros((len(logs), logs.n_actions))
        cols = [i for i, a in enumerate(names) if a is not None]
        for i, ctx in enumerate(records):
            out[i, cols] = self.probabilities(ctx, offered)
        return out


class _ArmMeans(Policy):
    """Context-free policies that keep a reward sum and a (weighted) pull count per arm."""

    def _init_arrays(self) -> None:
        self.sums_ = np.zeros(0)
        self.counts_ = np.zeros(0)

    def _add_arm(self) -> None:
        self.sums_ = np.append(self.sums_, 0.0)
        self.counts_ = np.append(self.counts_, 0.0)

    def _update(self, x, j, reward, weight):
        self.sums_[j] += reward
        self.counts_[j] += weight


class EpsilonGreedy(_ArmMeans):
    """Best average reward with probability 1 - epsilon, a uniformly random action otherwise."""

    _constraints = {**_COMMON, "epsilon": Param("float", 0.0, 1.0)}

    def __init__(self, epsilon: float = 0.1, seed: int = 0, n_draws: int = 100,
                 position_bias: Sequence[float] | None = None) -> None:
        super().__init__(seed, n_draws, position_bias)
        self.epsilon = epsilon

    def _means(self, idx: np.ndarray) -> np.ndarray:
        c = self.counts_[idx]
        return np.divide(self.sums_[idx], c, out=np.full(len(idx), 1e300), where=c > 0)  # untried first

    def _sample_scores(self, x, idx, m):
        explore = self.rng_.random(m) < self.epsilon
        scores = np.tile(self._means(idx), (m, 1))
        scores[explore] = self.rng_.random((int(explore.sum()), len(idx)))
        return scores

    def probabilities(self, context, actions):
        means = self._means(self._arm_indices(actions))
        best = means == means.max()
        return self.epsilon / len(actions) + (1 - self.epsilon) * best / best.sum()


class UCB1(_ArmMeans):
    """Upper confidence bound (Auer et al. 2002): mean + sqrt(2 ln t / n_a); deterministic."""

    deterministic = True

    def _sample_scores(self, x, idx, m):
        c = self.counts_[idx]
        t = max(self.counts_.sum(), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ucb = np.where(c > 0, self.sums_[idx] / c + np.sqrt(2 * np.log(t) / c), 1e300)
        return np.tile(ucb, (m, 1))


class BernoulliTS(Policy):
    """Thompson sampling with a Beta(alpha, beta) prior per action, rewards in [0, 1]."""

    _constraints = {**_COMMON, "alpha": Param("float", 0.0, 1e6, low_open=True),
                    "beta": Param("float", 0.0, 1e6, low_open=True)}

    def __init__(self, alpha: float = 1.0, beta: float = 1.0, seed: int = 0, n_draws: int = 100,
                 position_bias: Sequence[float] | None = None) -> None:
        super().__init__(seed, n_draws, position_bias)
        self.alpha = alpha
        self.beta = beta

    def _init_arrays(self) -> None:
        self.a_ = np.zeros(0)
        self.b_ = np.zeros(0)

    def _add_arm(self) -> None:
        self.a_ = np.append(self.a_, self.alpha)
        self.b_ = np.append(self.b_, self.beta)

    def _sample_scores(self, x, idx, m):
        return self.rng_.beta(self.a_[idx], self.b_[idx], size=(m, len(idx)))

    def _update(self, x, j, reward, weight):
        r = min(max(reward, 0.0), 1.0)
        self.a_[j] += r
        self.b_[j] += max(weight - r, 0.0)


class _Linear(Policy):
    """Shared state of the per-action linear models: features, A^-1 and b per action."""

    contextual = True
    _constraints = _LINEAR

    def __init__(self, features: Sequence[str] | None = None, ridge: float = 1.0, seed: int = 0, n_draws: int = 100,
                 position_bias: Sequence[float] | None = None) -> None:
        super().__init__(seed, n_draws, position_bias)
        self.features = features
        self.ridge = ridge

    def _vector(self, context: Context | None) -> np.ndarray:
        self._init_state()
        expanded = _expand(context or {})
        if not hasattr(self, "features_"):
            names = list(self.features) if self.features is not None else sorted(expanded)
            self.features_ = names
            self.index_ = {f: i + 1 for i, f in enumerate(names)}  # index 0 is the intercept
            self._init_arrays()
            for _ in range(len(self.arms_)):
                self._add_arm()
        elif self.features is None:
            new = sorted(k for k in expanded if k not in self.index_)
            if new:
                self._grow(new)
        x = np.zeros(len(self.features_) + 1)
        x[0] = 1.0  # intercept
        for k, v in expanded.items():
            i = self.index_.get(k)  # with a fixed ``features`` list, other features are ignored
            if i is not None:
                x[i] = v
        return x

    def _grow(self, names: list[str]) -> None:
        """Add features first seen now. Earlier contexts had 0 there, so the exact posterior
        gains independent prior dimensions: A^-1 becomes block-diagonal with I / ridge."""
        d_old, k = self._dim, len(names)
        for name in names:
            self.index_[name] = len(self.features_) + 1
            self.features_.append(name)
        self._pad(d_old, k)

    def _pad(self, d_old: int, k: int) -> None:
        n_arms = self.A_inv_.shape[0]
        A_inv = np.zeros((n_arms, d_old + k, d_old + k))
        A_inv[:, :d_old, :d_old] = self.A_inv_
        A_inv[:, d_old:, d_old:] = np.eye(k) / self.ridge
        self.A_inv_ = A_inv
        self.b_ = np.concatenate([self.b_, np.zeros((n_arms, k))], axis=1)
        self.theta_ = np.concatenate([self.theta_, np.zeros((n_arms, k))], axis=1)

    @property
    def _dim(self) -> int:
        return len(self.features_) + 1 if hasattr(self, "features_") else 0

    def _arm_indices(self, actions):
        self._init_state()
        return super()._arm_indices(actions)

    def _init_arrays(self) -> None:
        d = self._dim
        self.A_inv_ = np.zeros((0, d, d))
        self.b_ = np.zeros((0, d))
        self.theta_ = np.zeros((0, d))

    def _add_arm(self) -> None:
        d = self._dim
        if d == 0:
            return  # arrays are built at the first context
        self.A_inv_ = np.concatenate([self.A_inv_, (np.eye(d) / self.ridge)[None]])
        self.b_ = np.concatenate([self.b_, np.zeros((1, d))])
        self.theta_ = np.concatenate([self.theta_, np.zeros((1, d))])

    def _draws(self, context, actions, m):
        x = self._vector(context)
        idx = self._arm_indices(actions)
        scores = self._sample_scores(x, idx, m)
        if self.deterministic:
            scores = scores + self.rng_.random(scores.shape) * 1e-12
        return scores

    def _mean_and_width(self, x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # over all arms, then pick: indexing A_inv_ first would copy K x d x d floats per call
        mean = self.theta_ @ x
        width2 = (self.A_inv_ @ x) @ x
        return mean[idx], np.sqrt(np.maximum(width2[idx], 0.0))

    def _update(self, x, j, reward, weight):
        # Sherman-Morrison: A += w^2 x x^T, b += w r x (position-based model: E[r] = w * theta.x)
        xw = x * weight
        Ainv = self.A_inv_[j]
        z = Ainv @ xw
        Ainv -= np.outer(z, z) / (1.0 + xw @ z)
        self.b_[j] += reward * xw
        self.theta_[j] = Ainv @ self.b_[j]


class LinUCB(_Linear):
    """Disjoint LinUCB (Li et al. 2010): theta_a.x + alpha * sqrt(x^T A_a^-1 x); deterministic."""

    deterministic = True
    _constraints = {**_LINEAR, "alpha": Param("float", 0.0, 1e6)}

    def __init__(self, alpha: float = 1.0, features: Sequence[str] | None = None, ridge: float = 1.0, seed: int = 0,
                 n_draws: int = 100, position_bias: Sequence[float] | None = None) -> None:
        super().__init__(features, ridge, seed, n_draws, position_bias)
        self.alpha = alpha

    def _sample_scores(self, x, idx, m):
        mean, width = self._mean_and_width(x, idx)
        return np.tile(mean + self.alpha * width, (m, 1))

    def choose_slate(self, context, actions, k):
        if not 1 <= k <= len(actions):
            raise UserInputError(f"slate size k={k} must lie in 1..{len(actions)}")
        x = self._vector(context)
        mean, width = self._mean_and_width(x, self._arm_indices(actions))
        s = mean + self.alpha * width + self.rng_.random(len(actions)) * 1e-12
        order = np.argsort(-s)[:k]
        return [(actions[a], 1.0) for a in order]  # deterministic (ties broken at random)


class _GaussianTS(_Linear):
    """Thompson sampling whose action scores are independent normals N(mean_a, sd_a^2).

    The chosen action's propensity ``P(a wins) = E_{s~N(mean_a, sd_a)} prod_{b!=a} Phi((s - mean_b)/sd_b)``
    is a 1-D integral, computed by Gauss-Hermite quadrature: exact to ~1e-6 and cheaper than
    Monte Carlo over all actions.
    """

    _nodes, _weights = np.polynomial.hermite.hermgauss(32)

    def _gaussian(self, x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    def _sample_scores(self, x, idx, m):
        mean, sd = self._gaussian(x, idx)
        return mean + sd * self.rng_.standard_normal((m, len(idx)))

    def _win_probability(self, mean: np.ndarray, sd: np.ndarray, a: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        s = mean[a, None] + np.sqrt(2.0) * sd[a, None] * self._nodes[None, :]  # (len(a), nodes)
        z = (s[:, :, None] - mean[None, None, :]) / sd[None, None, :]  # (len(a), nodes, K)
        phi = ndtr(z)
        phi[np.arange(len(a)), :, a] = 1.0  # leave out the action itself
        inner = phi.prod(axis=2)
        return np.clip(inner @ self._weights / np.sqrt(np.pi), 1e-12, 1.0)

    def choose(self, context, actions):
        x = self._vector(context)
        mean, sd = self._gaussian(x, self._arm_indices(actions))
        sd = np.maximum(sd, 1e-12)
        chosen = int(np.argmax(mean + sd * self.rng_.standard_normal(len(actions))))
        return actions[chosen], float(self._win_probability(mean, sd, np.array([chosen]))[0])

    def probabilities(self, context, actions):
        x = self._vector(context)
        mean, sd = self._gaussian(x, self._arm_indices(actions))
        p = self._win_probability(mean, np.maximum(sd, 1e-12), np.arange(len(actions)))
        return p / p.sum()


class LinearTS(_GaussianTS):
    """Linear Thompson sampling (Agrawal & Goyal 2013): theta ~ N(theta_a, v^2 A_a^-1).

    Only the score ``theta.x`` matters, and it is normal with mean ``theta_a.x`` and
    variance ``v^2 x^T A_a^-1 x``, so one scalar draw per action replaces a d-dim draw.
    """

    _constraints = {**_LINEAR, "v": Param("float", 0.0, 1e6, low_open=True)}

    def __init__(self, v: float = 1.0, features: Sequence[str] | None = None, ridge: float = 1.0, seed: int = 0,
                 n_draws: int = 100, position_bias: Sequence[float] | None = None) -> None:
        super().__init__(features, ridge, seed, n_draws, position_bias)
        self.v = v

    def _gaussian(self, x, idx):
        mean, width = self._mean_and_width(x, idx)
        return mean, self.v * width


class LogisticTS(_GaussianTS):
    """Logistic Thompson sampling with a diagonal Laplace posterior per action (Chapelle & Li 2011),
    updated one event at a time by a Newton step; for 0/1 rewards such as clicks."""

    def __init__(self, features: Sequence[str] | None = None, ridge: float = 1.0, seed: int = 0, n_draws: int = 100,
                 position_bias: Sequence[float] | None = None) -> None:
        super().__init__(features, ridge, seed, n_draws, position_bias)

    def _init_arrays(self) -> None:
        d = self._dim
        self.m_ = np.zeros((0, d))
        self.q_ = np.zeros((0, d))

    def _add_arm(self) -> None:
        d = self._dim
        if d == 0:
            return
        self.m_ = np.concatenate([self.m_, np.zeros((1, d))])
        self.q_ = np.concatenate([self.q_, np.full((1, d), self.ridge)])

    def _pad(self, d_old: int, k: int) -> None:
        n_arms = self.m_.shape[0]
        self.m_ = np.concatenate([self.m_, np.zeros((n_arms, k))], axis=1)
        self.q_ = np.concatenate([self.q_, np.full((n_arms, k), self.ridge)], axis=1)

    def _gaussian(self, x, idx):
        mean = (self.m_ @ x)[idx]
        sd = np.sqrt((1.0 / self.q_) @ (x * x))[idx]
        return mean, sd

    def _update(self, x, j, reward, weight):
        r = min(max(reward, 0.0), 1.0)
        p = weight / (1.0 + np.exp(-(self.m_[j] @ x)))  # position-based model: P(click) = w * sigmoid
        grad = (r - p) * x
        self.q_[j] += p * (1 - p) * x * x
        self.m_[j] += grad / self.q_[j]


def _expand(context: Mapping[str, Any]) -> dict[str, float]:
    """Numbers stay as they are, booleans become 0/1, strings become one-hot ``key=value``."""
    out: dict[str, float] = {}
    for k, v in context.items():
        if isinstance(v, bool):
            out[k] = float(v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            if v == v:  # skip NaN
                out[k] = float(v)
        elif v is not None:
            out[f"{k}={v}"] = 1.0
    return out


def position_bias_from_logs(position: np.ndarray, reward: np.ndarray, prior: float = 10.0) -> np.ndarray:
    """Examination probability of each slot relative to the first, for ``position_bias``.

    Valid on logs where every slot shows the same mix of actions (uniform-random logging,
    such as OBD's random logs): the click rate of slot j over that of slot 0, each
    smoothed with ``prior`` pseudo-impressions at the overall rate, capped at 1.
    """
    position = np.asarray(position, dtype=np.int64)
    reward = np.asarray(reward, dtype=float)
    n = np.bincount(position)
    clicks = np.bincount(position, weights=reward, minlength=len(n))
    overall = reward.mean() if len(reward) else 0.0
    rate = (clicks + prior * overall) / (n + prior)
    if rate[0] <= 0:
        return np.ones(len(n))
    return np.minimum(rate / rate[0], 1.0)


POLICIES: dict[str, type[Policy]] = {
    "epsilon-greedy": EpsilonGreedy, "ucb1": UCB1, "bernoulli-ts": BernoulliTS,
    "linucb": LinUCB, "linear-ts": LinearTS, "logistic-ts": LogisticTS,
}


def make_policy(name: str, **params: Any) -> Policy:
    """A policy by name (``shoplens decide`` commands, the API); parameters are checked against the
    policy's constraints table here, so a bad value is refused before the policy is stored.

    >>> make_policy("linucb", alpha=0.5)
    LinUCB(alpha=0.5, features=None, ridge=1.0, seed=0, n_draws=100, position_bias=None)
    >>> make_policy("epsilon-greedy", epsilon="abc")
    Traceback (most recent call last):
    ...
    shoplens.errors.InvalidParameterError: epsilon: expected a number, got 'abc'
    """
    try:
        cls = POLICIES[name]
    except KeyError:
        raise UserInputError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}") from None
    unknown = sorted(set(params) - set(cls._constraints))
    if unknown:
        raise InvalidParameterError(unknown[0], f"not a parameter of {name} (it takes {', '.join(sorted(cls._constraints))})")
    policy = cls(**params)
    policy._check_params()
    return policy
