"""The decision log, consent-aware decisions, delayed rewards and the `decide` log commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from shoplens.cli import app
from shoplens.decide.log import NON_PERSONALISED, NOT_OFFERED, Decider, DecisionLog, reward_value
from shoplens.decide.policies import BernoulliTS, LinearTS
from shoplens.privacy.ids import to_external, to_internal

runner = CliRunner()


def _customers(wh, consent: bool, n: int = 3, marketing: bool | None = True) -> list[str]:
    """Shop ids of demo customers with personalisation consent ``consent`` and marketing consent
    ``marketing`` (None: never asked)."""
    mk = "consent_marketing IS NULL" if marketing is None else f"consent_marketing = {marketing}"
    ids = wh.query(f"SELECT customer_id FROM customers WHERE consent_personalization = ? AND {mk} ORDER BY 1 LIMIT ?",
                   [consent, n])["customer_id"].tolist()
    assert ids, f"the demo shop should have customers with consent={consent}, marketing={marketing}"
    return to_external(wh, ids)


def test_reward_kinds():
    outcome = {"clicked": True, "purchased": False, "revenue": 20.0, "cost": 12.5}
    assert [reward_value(k, outcome) for k in ("click", "conversion", "revenue", "margin")] == [1.0, 0.0, 20.0, 7.5]
    with pytest.raises(ValueError, match="reward kind"):
        reward_value("likes", outcome)


def test_consent_decides_personalisation(demo_wh):
    decider = Decider(demo_wh, LinearTS(seed=0), name="offers")
    yes, no = _customers(demo_wh, True, 1)[0], _customers(demo_wh, False, 1)[0]
    d_yes = decider.decide(yes, {"recency_days": 3.0}, ["a", "b"])[0]
    d_no = decider.decide(no, {"recency_days": 3.0}, ["a", "b"])[0]
    assert d_yes["personalised"] and not d_no["personalised"]
    assert d_yes["customer_id"] == yes and d_no["customer_id"] == no
    rows = demo_wh.query("SELECT decision_id, policy, context, propensity FROM decisions").set_index("decision_id")
    assert rows.loc[d_yes["decision_id"], "policy"] == "offers"
    assert json.loads(rows.loc[d_yes["decision_id"], "context"]) == {"recency_days": 3.0}
    assert rows.loc[d_no["decision_id"], "policy"] == NON_PERSONALISED
    assert pd.isna(rows.loc[d_no["decision_id"], "context"]) and rows.loc[d_no["decision_id"], "propensity"] == 0.5


def test_batch_decisions_respect_consent_too(demo_wh):
    yes, no = _customers(demo_wh, True, 2), _customers(demo_wh, False, 2)
    out = Decider(demo_wh, BernoulliTS(seed=0), name="b").decide_batch(yes + no, [{}] * 4, ["x", "y", "z"])
    assert [d["personalised"] for d in out] == [True, True, False, False]
    assert demo_wh.row_count("decisions") == 4


def test_delayed_rewards_reach_the_policy(demo_wh):
    policy = BernoulliTS(seed=0)
    decider = Decider(demo_wh, policy, name="offers")
    out = decider.decide_batch([None] * 20, [{}] * 20, ["a", "b"])
    assert decider.learn() == 0  # nothing rewarded yet
    log = DecisionLog(demo_wh)
    matched = log.log_rewards(pd.DataFrame({"decision_id": [d["decision_id"] for d in out],
                                            "reward": [1.0 if d["action"] == "a" else 0.0 for d in out]}))
    assert matched == 20
    assert decider.learn() == 20 and decider.learn() == 0
    n_a = sum(d["action"] == "a" for d in out)
    assert policy.a_[policy.arms_["a"]] == pytest.approx(1 + n_a)
    feedback = log.feedback(policy="offers")
    assert len(feedback) == 20 and feedback.reward.sum() == n_a


def test_slate_decisions_log_positions(demo_wh):
    out = Decider(demo_wh, BernoulliTS(seed=0), name="slate").decide(None, {}, ["a", "b", "c"], k=2)
    assert [d["position"] for d in out] == [0, 1]
    assert sorted(demo_wh.query("SELECT position FROM decisions")["position"]) == [0, 1]


def test_unknown_decision_id(demo_wh):
    with pytest.raises(LookupError, match="no decision with id 'nope'"):
        DecisionLog(demo_wh).log_reward("nope", 1.0)


def test_cli_choose_then_log_reward(demo_warehouse_path, tmp_path):
    import shutil

    wh_path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, wh_path)
    res = runner.invoke(app, ["-w", str(wh_path), "decide", "choose", "--actions", "a,b,c", "--context",
                              '{"recency_days": 4}', "--json"])
    assert res.exit_code == 0, res.output
    decision = json.loads(res.output)["decisions"][0]
    assert decision["action"] in ("a", "b", "c") and 0 < decision["propensity"] <= 1
    assert (tmp_path / "decide" / "offers.pkl").exists()
    res = runner.invoke(app, ["-w", str(wh_path), "decide", "log-reward", decision["decision_id"], "1", "--json"])
    assert json.loads(res.output) == {"matched": 1}
    rewards = tmp_path / "rewards.csv"
    rewards.write_text(f"decision_id,reward\n{decision['decision_id']},0.5\nunknown,1\n")
    res = runner.invoke(app, ["-w", str(wh_path), "decide", "log-reward", "--file", str(rewards), "--json"])
    assert json.loads(res.output) == {"matched": 1}


@pytest.mark.parametrize("args, message", [
    (["log-reward", "missing-id", "1"], "no decision with id"),
    (["log-reward"], "give DECISION_ID REWARD"),
    (["choose", "--actions", "a,b", "--context", "{not json"], "--context is not valid JSON"),
])
def test_cli_errors_exit_2(demo_warehouse_path, tmp_path, args, message):
    import shutil

    wh_path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, wh_path)
    proc = subprocess.run([sys.executable, "-c", "from shoplens.cli import main; main()", "-w", str(wh_path),
                           "decide", *args], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


# -- consent for every decision (#16 items 2 and 3, #25 item 2) ------------------------------
def test_an_offer_needs_marketing_consent_and_is_logged_as_not_offered(demo_wh):
    """Regression: `decide choose` gave a discount offer to a customer whose consent_marketing is false."""
    decider = Decider(demo_wh, LinearTS(seed=0), name="offers")
    refused = _customers(demo_wh, True, 1, marketing=False)[0]
    out = decider.decide(refused, {"recency_days": 3.0}, ["10-percent-off", "free-shipping"], k=2)
    assert [d["action"] for d in out] == [None, None]
    assert all(d["customer_id"] == refused and not d["personalised"] for d in out)
    assert "marketing consent" in out[0]["reason"] and "consent_marketing is false" in out[0]["reason"]
    logged = demo_wh.query("SELECT * FROM decisions ORDER BY position")
    assert logged["policy"].eq(NOT_OFFERED).all() and logged["action"].isna().all()
    assert logged["policy_version"].eq("no-marketing-consent").all() and logged["context"].isna().all()
    assert logged["customer_id"].tolist() == [to_internal(demo_wh, [refused])[0]] * 2  # logged for auditing


def test_never_asked_customers_get_no_offer_out_of_the_box(demo_wh):
    demo_wh.con.execute("UPDATE customers SET consent_marketing = NULL WHERE customer_id = "
                        "(SELECT min(customer_id) FROM customers WHERE consent_marketing AND consent_personalization)")
    never = _customers(demo_wh, True, 1, marketing=None)[0]
    d = Decider(demo_wh, LinearTS(seed=0), name="offers").decide(never, {}, ["a", "b"])[0]
    assert d["action"] is None and "never given" in d["reason"]


def test_unknown_customers_are_answered_with_their_own_id(demo_wh):
    """Regression: `decide choose --customer not-a-customer` answered with the pseudonym and personalised: true."""
    offer = Decider(demo_wh, LinearTS(seed=0), name="offers").decide("not-a-customer", {}, ["a", "b"])[0]
    assert offer["customer_id"] == "not-a-customer" and not offer["personalised"]
    assert offer["action"] is None and "unknown customer" in offer["reason"]
    assert demo_wh.query("SELECT policy_version FROM decisions")["policy_version"].tolist() == ["unknown-customer"]
    # a decision that offers nothing (a ranking) serves the unknown id as a cold start
    ranking = Decider(demo_wh, LinearTS(seed=0), name="rank", decision_type="ranking")
    cold = ranking.decide("not-a-customer", {"recency_days": 1.0}, ["a", "b"])[0]
    assert cold["action"] in ("a", "b") and not cold["personalised"] and cold["customer_id"] == "not-a-customer"
    assert "unknown customer" in cold["reason"]


def test_personalisation_only_decisions_need_no_marketing_consent(demo_wh):
    no_marketing = _customers(demo_wh, True, 1, marketing=False)[0]
    d = Decider(demo_wh, LinearTS(seed=0), name="rank", decision_type="ranking").decide(no_marketing, {}, ["a", "b"])[0]
    assert d["action"] in ("a", "b") and d["personalised"] and d["reason"] is None


def test_batch_decisions_apply_the_same_consent(demo_wh):
    yes = _customers(demo_wh, True, 1)[0]
    no_marketing = _customers(demo_wh, True, 1, marketing=False)[0]
    no_profile = _customers(demo_wh, False, 1)[0]
    out = Decider(demo_wh, BernoulliTS(seed=0), name="b").decide_batch(
        [yes, no_marketing, no_profile, "not-a-customer", None], [{}] * 5, ["x", "y"])
    assert [d["customer_id"] for d in out] == [yes, no_marketing, no_profile, "not-a-customer", None]
    assert [d["action"] is None for d in out] == [False, True, False, True, False]
    assert [d["personalised"] for d in out] == [True, False, False, False, True]
    policies = demo_wh.query("SELECT policy FROM decisions ORDER BY rowid")["policy"].tolist()
    assert policies == ["b", NOT_OFFERED, NON_PERSONALISED, NOT_OFFERED, "b"]


def test_not_offered_decisions_are_left_out_of_off_policy_evaluation(demo_wh):
    decider = Decider(demo_wh, BernoulliTS(seed=0), name="b")
    out = decider.decide_batch([None, None, "not-a-customer"], [{}] * 3, ["x", "y"])
    log = DecisionLog(demo_wh)
    log.log_rewards(pd.DataFrame({"decision_id": [d["decision_id"] for d in out], "reward": [1.0, 0.0, 1.0]}))
    feedback = log.feedback()
    assert len(feedback) == 2 and set(feedback.action_names) <= {"x", "y"}


def test_cli_choose_answers_for_the_id_given_and_names_the_missing_consent(demo_warehouse_path, tmp_path):
    import shutil

    from shoplens.store.warehouse import Warehouse

    wh_path = tmp_path / "w.duckdb"
    shutil.copy(demo_warehouse_path, wh_path)
    with Warehouse(wh_path, read_only=True) as wh:
        refused = _customers(wh, True, 1, marketing=False)[0]
    for customer, reason in (("not-a-customer", "unknown customer"), (refused, "no marketing consent")):
        res = runner.invoke(app, ["-w", str(wh_path), "decide", "choose", "--customer", customer, "--actions",
                                  "10-percent-off,free-shipping", "--json"])
        assert res.exit_code == 0, res.output
        decision = json.loads(res.output)["decisions"][0]
        assert decision["customer_id"] == customer and decision["action"] is None
        assert decision["personalised"] is False and reason in decision["reason"]
    text = runner.invoke(app, ["-w", str(wh_path), "decide", "choose", "--customer", refused, "--actions", "a,b"])
    assert text.exit_code == 0 and "No offer: no marketing consent" in text.output
