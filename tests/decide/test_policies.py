"""The bandit policy contract (river style), run over every policy, plus learning checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from shoplens.decide.policies import (POLICIES, BernoulliTS, EpsilonGreedy, LinearTS, LinUCB, LogisticTS,
                                      make_policy, position_bias_from_logs)

ACTIONS = ["a", "b", "c"]


def _context(rng):
    return {"x1": float(rng.normal()), "x2": float(rng.normal()), "segment": str(rng.choice(["new", "loyal"]))}


def _reward(ctx, action, rng):
    # "b" is best for loyal customers, "c" for new ones; "a" is never best
    p = {"a": 0.1, "b": 0.6 if ctx["segment"] == "loyal" else 0.2, "c": 0.6 if ctx["segment"] == "new" else 0.2}[action]
    return float(rng.random() < p)


def _run(policy, n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        ctx = _context(rng)
        action, prop = policy.choose(ctx, ACTIONS)
        policy.update(ctx, action, _reward(ctx, action, rng))
        out.append((action, prop))
    return out


@pytest.mark.parametrize("name", list(POLICIES))
def test_contract(name, tmp_path):
    policy = make_policy(name, seed=7)
    assert "seed=7" in repr(policy)
    history = _run(policy, 150)
    assert all(a in ACTIONS and 0 < p <= 1 for a, p in history)
    # same seed, same events -> same decisions
    assert _run(make_policy(name, seed=7), 150) == history
    # probabilities form a distribution
    ctx = {"x1": 0.3, "x2": -1.0, "segment": "loyal"}
    probs = policy.probabilities(ctx, ACTIONS)
    assert probs.shape == (3,) and probs.sum() == pytest.approx(1.0) and (probs >= 0).all()
    # inputs are not mutated; feature order does not matter; unknown features are tolerated
    frozen = copy.deepcopy(ctx)
    twin = copy.deepcopy(policy)
    a1 = policy.choose(ctx, ACTIONS)
    assert ctx == frozen
    reordered = dict(reversed(list(ctx.items())))
    assert twin.choose(reordered, ACTIONS) == a1
    assert twin.choose({**ctx, "unseen_feature": 5.0, "channel": "app"}, ACTIONS)[0] in ACTIONS
    # save / load round-trips the state (continues identically)
    path = policy.save(tmp_path / f"{name}.pkl")
    loaded = type(policy).load(path)
    assert _run(loaded, 20, seed=3) == _run(policy, 20, seed=3)


@pytest.mark.parametrize("name", list(POLICIES))
def test_slates_fill_distinct_slots(name):
    policy = make_policy(name, seed=1)
    _run(policy, 100)
    slate = policy.choose_slate({"x1": 0.0, "x2": 0.0, "segment": "new"}, ACTIONS, 2)
    assert len(slate) == 2 and len({a for a, _ in slate}) == 2 and all(0 < p <= 1 for _, p in slate)
    with pytest.raises(ValueError, match="slate size"):
        policy.choose_slate({}, ACTIONS, 4)


@pytest.mark.parametrize("cls", [LinUCB, LinearTS, LogisticTS])
def test_contextual_policies_learn_the_best_action_per_segment(cls):
    policy = cls(seed=0)
    _run(policy, 1500)
    loyal = policy.probabilities({"x1": 0, "x2": 0, "segment": "loyal"}, ACTIONS)
    new = policy.probabilities({"x1": 0, "x2": 0, "segment": "new"}, ACTIONS)
    assert loyal.argmax() == 1 and new.argmax() == 2


def test_bandit_beats_random_on_click_rate():
    rewards = [r for r in _rewards_of(LinearTS(seed=0), 1500)[-500:]]
    assert np.mean(rewards) > 0.45  # uniform random earns (0.1 + 0.6 + 0.2) / 3 = 0.3


def _rewards_of(policy, n):
    rng = np.random.default_rng(5)
    out = []
    for _ in range(n):
        ctx = _context(rng)
        action, _ = policy.choose(ctx, ACTIONS)
        r = _reward(ctx, action, rng)
        policy.update(ctx, action, r)
        out.append(r)
    return out


def test_thompson_propensity_matches_monte_carlo():
    policy = LinearTS(seed=0)
    _run(policy, 200)
    ctx = {"x1": 0.5, "x2": 0.1, "segment": "new"}
    exact = policy.probabilities(ctx, ACTIONS)
    draws = policy._sample_scores(policy._vector(ctx), policy._arm_indices(ACTIONS), 50_000).argmax(axis=1)
    mc = np.bincount(draws, minlength=3) / 50_000
    assert np.abs(exact - mc).max() < 0.01


def test_position_bias_discounts_low_slots():
    top, low = BernoulliTS(position_bias=[1.0, 0.25]), BernoulliTS(position_bias=[1.0, 0.25])
    top.update({}, "a", 0.0, position=0)
    low.update({}, "a", 0.0, position=1)
    assert low.b_[0] - 1 == pytest.approx(0.25) and top.b_[0] - 1 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="position 5"):
        top.update({}, "a", 1.0, position=5)


def test_unknown_policy_and_empty_actions():
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        make_policy("greedy")
    with pytest.raises(ValueError, match="at least one action"):
        BernoulliTS().choose({}, [])


def test_position_bias_from_uniform_logs():
    rng = np.random.default_rng(0)
    position = rng.integers(0, 3, 60_000)
    reward = (rng.random(60_000) < 0.2 * np.array([1.0, 0.5, 0.25])[position]).astype(float)
    bias = position_bias_from_logs(position, reward)
    assert bias[0] == 1.0 and bias[1] == pytest.approx(0.5, abs=0.05) and bias[2] == pytest.approx(0.25, abs=0.04)


@pytest.mark.parametrize("cls", [LinUCB, LinearTS, LogisticTS])
def test_linear_policies_learn_features_that_appear_later(cls):
    policy = cls(seed=0)
    policy.choose({}, ACTIONS)  # the first context has no features at all
    rng = np.random.default_rng(2)
    for _ in range(1500):
        ctx = {"segment": str(rng.choice(["new", "loyal"]))}
        action, _ = policy.choose(ctx, ACTIONS)
        policy.update(ctx, action, _reward({**ctx, "x1": 0, "x2": 0}, action, rng))
    assert "segment=loyal" in policy.features_
    assert policy.probabilities({"segment": "loyal"}, ACTIONS).argmax() == 1
    assert policy.probabilities({"segment": "new"}, ACTIONS).argmax() == 2


def test_fixed_feature_list_ignores_other_features():
    policy = LinUCB(features=["x1"])
    policy.choose({"x1": 1.0, "x2": 3.0}, ACTIONS)
    policy.choose({"x3": 1.0}, ACTIONS)
    assert policy.features_ == ["x1"]


@pytest.mark.parametrize("name, params, param", [
    ("epsilon-greedy", {"epsilon": "abc"}, "epsilon"),
    ("epsilon-greedy", {"epsilon": float("nan")}, "epsilon"),
    ("bernoulli-ts", {"beta": -1.0}, "beta"),
    ("ucb1", {"seed": 1.5}, "seed"),
    ("linucb", {"features": "age"}, "features"),
    ("linear-ts", {"position_bias": [1.0, 0.0]}, "position_bias"),
    ("logistic-ts", {"alpha": 1.0}, "alpha"),
])
def test_make_policy_checks_params_against_the_constraints_table(name, params, param):
    from shoplens.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError) as info:
        make_policy(name, **params)
    assert info.value.param == param and str(info.value).startswith(f"{param}: ")


def test_a_policy_built_directly_is_checked_when_it_first_chooses():
    from shoplens.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="epsilon"):
        EpsilonGreedy(epsilon="abc").choose({}, ["a", "b"])  # a clear user error, not a TypeError deep inside
