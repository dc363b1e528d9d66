"""The decision log: every decision in the ``decisions`` table with its propensity, so
that any other policy can later be evaluated on it; rewards arrive later and are
joined by decision id.

:class:`Decider` is the one entry point that serves a decision for a customer: it
checks personalisation consent (:mod:`shoplens.privacy.consent`), asks the policy, logs
the decision and, later, teaches the policy the rewards logged since it last learned.
A customer without consent gets a non-personalised (context-free, uniformly random)
choice, logged under the policy name ``non-personalised`` with no context stored.

>>> reward_value("margin", {"revenue": 30.0, "cost": 18.0})
12.0
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shoplens.decide.ope import LoggedFeedback
from shoplens.decide.policies import Policy
from shoplens.errors import InsufficientDataError, NotFoundError, UserInputError
from shoplens.privacy.consent import allowed
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.warehouse import Warehouse, utcnow

REWARD_KINDS = ("click", "conversion", "revenue", "margin")
NON_PERSONALISED = "non-personalised"


def reward_value(kind: str, outcome: Mapping[str, Any]) -> float:
    """The reward of an outcome: ``click`` (clicked), ``conversion`` (purchased), ``revenue``,
    ``margin`` (revenue - cost)."""
    if kind not in REWARD_KINDS:
        raise UserInputError(f"reward kind must be one of {', '.join(REWARD_KINDS)}, not {kind!r}")
    if kind == "click":
        return float(bool(outcome.get("clicked", outcome.get("click", 0))))
    if kind == "conversion":
        return float(bool(outcome.get("purchased", outcome.get("conversion", 0))))
    revenue = float(outcome.get("revenue", 0.0) or 0.0)
    return revenue if kind == "revenue" else revenue - float(outcome.get("cost", 0.0) or 0.0)


class DecisionLog:
    """Read and write the ``decisions`` table of a warehouse."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def record(self, *, action: Hashable, propensity: float, policy: str, policy_version: str = "1",
               customer_id: str | None = None, context: Mapping[str, Any] | None = None,
               position: int | None = None, decision_type: str = "offer", decision_id: str | None = None,
               occurred_at: datetime | None = None) -> str:
        """Insert one decision (warehouse customer id); returns its decision id."""
        if not 0 < propensity <= 1:
            raise UserInputError(f"propensity must lie in (0, 1], got {propensity}")
        decision_id = decision_id or uuid.uuid4().hex
        self.wh.con.execute(
            "INSERT INTO decisions (decision_id, occurred_at, customer_id, context, action, position, propensity, "
            "policy, policy_version, decision_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [decision_id, occurred_at or utcnow(), customer_id,
             json.dumps(dict(context), default=str, sort_keys=True) if context is not None else None,
             str(action), position, float(propensity), policy, policy_version, decision_type],
        )
        return decision_id

    def record_many(self, decisions: pd.DataFrame) -> int:
        """Insert many decisions at once (columns named as in the ``decisions`` table)."""
        frame = decisions.copy()
        if "occurred_at" not in frame.columns:
            frame["occurred_at"] = utcnow()
        bad = ~((frame["propensity"] > 0) & (frame["propensity"] <= 1))
        if bad.any():
            raise UserInputError(f"propensity must lie in (0, 1]; row {int(np.flatnonzero(bad.to_numpy())[0])} is not")
        with self.wh.transaction() as con:
            con.register("_decisions", frame)
            con.execute("INSERT INTO decisions BY NAME SELECT * FROM _decisions")
            con.unregister("_decisions")
        return len(frame)

    def log_reward(self, decision_id: str, reward: float, rewarded_at: datetime | None = None) -> None:
        """Attach a (possibly late) reward to a logged decision."""
        n = self.log_rewards(pd.DataFrame({"decision_id": [decision_id], "reward": [float(reward)]}), rewarded_at)
        if n == 0:
            raise NotFoundError(f"no decision with id {decision_id!r} in the decision log")

    def log_rewards(self, rewards: pd.DataFrame, rewarded_at: datetime | None = None) -> int:
        """Attach many rewards at once (columns ``decision_id, reward``); returns rows matched."""
        missing = {"decision_id", "reward"} - set(rewards.columns)
        if missing:
            raise UserInputError(f"rewards need columns decision_id and reward (missing {', '.join(sorted(missing))})")
        frame = rewards[["decision_id", "reward"]].astype({"decision_id": str, "reward": float})
        con = self.wh.con
        with self.wh.transaction():
            con.register("_rewards", frame)
            matched = con.execute(
                "SELECT count(*) FROM decisions d JOIN _rewards r USING (decision_id)").fetchall()[0][0]
            con.execute(
                "UPDATE decisions SET reward = r.reward, rewarded_at = ? FROM _rewards r "
                "WHERE decisions.decision_id = r.decision_id", [rewarded_at or utcnow()])
            con.unregister("_rewards")
        return int(matched)

    def frame(self, policy: str | None = None, decision_type: str | None = None, rewarded_only: bool = False,
              since: datetime | None = None) -> pd.DataFrame:
        where, params = ["TRUE"], []
        if policy is not None:
            where.append("policy = ?")
            params.append(policy)
        if decision_type is not None:
            where.append("decision_type = ?")
            params.append(decision_type)
        if rewarded_only:
            where.append("reward IS NOT NULL")
        if since is not None:
            where.append("rewarded_at > ?")
            params.append(since)
        # rowid keeps insertion order among decisions logged at the same instant (ids are random)
        return self.wh.query(f"SELECT * FROM decisions WHERE {' AND '.join(where)} ORDER BY occurred_at, rowid",
                             params)

    def feedback(self, policy: str | None = None, decision_type: str | None = None) -> LoggedFeedback:
        """Rewarded decisions as :class:`LoggedFeedback` for off-policy evaluation (contexts unpacked)."""
        frame = self.frame(policy, decision_type, rewarded_only=True)
        if frame.empty:
            raise InsufficientDataError("no rewarded decisions in the log yet (attach rewards with `decide log-reward`)")
        codes, names = pd.factorize(frame["action"], sort=True)
        context = pd.DataFrame([json.loads(c) if isinstance(c, str) else {} for c in frame["context"]])
        position = frame["position"].fillna(0).astype(int).to_numpy() if frame["position"].notna().any() else None
        return LoggedFeedback(codes, frame["reward"].to_numpy(float), frame["propensity"].to_numpy(float), len(names),
                              position=position, context=context if context.shape[1] else None,
                              action_names=list(names))


class Decider:
    """Consent-aware, logged decisions of one policy for the shop's customers.

    >>> from shoplens.decide.policies import LinearTS
    >>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
    >>> d = Decider(wh, LinearTS(seed=1), name="offer-bandit")
    >>> [slot] = d.decide("17850", {"recency_days": 12}, ["free-shipping", "10-percent"])
    >>> slot["customer_id"], slot["action"], slot["personalised"]
    ('17850', '10-percent', True)
    >>> d.log.log_reward(slot["decision_id"], 1.0)  # the customer used the offer
    >>> d.learn()  # rewards learned
    1
    """

    def __init__(self, wh: Warehouse, policy: Policy, *, name: str, version: str = "1",
                 decision_type: str = "offer", seed: int = 0) -> None:
        self.wh = wh
        self.policy = policy
        self.name = name
        self.version = version
        self.decision_type = decision_type
        self.log = DecisionLog(wh)
        self._rng = np.random.default_rng(seed)
        self.learned_until: datetime | None = None

    def decide(self, customer_id: str | None, context: Mapping[str, Any] | None, actions: Sequence[Hashable],
               k: int = 1) -> list[dict[str, Any]]:
        """Choose ``k`` actions (slots) for a customer (the shop's id) and log them.

        Returns one dict per slot: decision_id, action, propensity, position, personalised.
        """
        if not actions:
            raise UserInputError("decide needs at least one action")
        internal = to_internal(self.wh, [customer_id])[0] if customer_id is not None else None
        personalised = internal is None or bool(allowed(self.wh, [internal], "personalization"))
        base = uuid.uuid4().hex
        if personalised:
            # the policy and the log see actions as text, so rewards read back from the log reach the same arm
            by_text = {str(a): a for a in actions}
            names = list(by_text)
            chosen = self.policy.choose_slate(context, names, k) if k > 1 else [self.policy.choose(context, names)]
            slots = [(by_text[str(a)], p) for a, p in chosen]
            policy, version, ctx = self.name, self.version, context
        else:
            # no profiling: a context-free uniformly random slate (exact propensities, still useful for OPE)
            order = self._rng.permutation(len(actions))[:k]
            # the chance of an action in a given slot of a uniformly random ranking is 1/K
            slots = [(actions[i], 1.0 / len(actions)) for i in order]
            policy, version, ctx = NON_PERSONALISED, "uniform", None
        out = []
        for j, (action, propensity) in enumerate(slots):
            did = base if k == 1 else f"{base}-{j}"
            self.log.record(action=action, propensity=propensity, policy=policy, policy_version=version,
                            customer_id=internal, context=ctx, position=j if k > 1 else None,
                            decision_type=self.decision_type, decision_id=did)
            out.append({"decision_id": did, "action": action, "propensity": propensity,
                        "position": j if k > 1 else None, "personalised": personalised,
                        "customer_id": to_external(self.wh, [internal])[0] if internal is not None else None})
        return out

    def decide_batch(self, customer_ids: Sequence[str | None], contexts: Sequence[Mapping[str, Any] | None],
                     actions: Sequence[Hashable]) -> list[dict[str, Any]]:
        """One decision per (customer, context), with one consent check and one log insert for
        the whole batch; the policy state is the same for the batch (rewards come later)."""
        if len(customer_ids) != len(contexts):
            raise UserInputError("customer_ids and contexts must have the same length")
        if not actions:
            raise UserInputError("decide needs at least one action")
        known = [c for c in customer_ids if c is not None]
        internal_known = iter(to_internal(self.wh, known)) if known else iter(())
        internal = [next(internal_known) if c is not None else None for c in customer_ids]
        consented = set(allowed(self.wh, [c for c in internal if c is not None], "personalization"))
        by_text = {str(a): a for a in actions}
        names = list(by_text)
        rows, out = [], []
        now = utcnow()
        for shop_id, cid, context in zip(customer_ids, internal, contexts):
            did = uuid.uuid4().hex
            personalised = cid is None or cid in consented
            if personalised:
                action, propensity = self.policy.choose(context, names)
                policy, version = self.name, self.version
                ctx = json.dumps(dict(context), default=str, sort_keys=True) if context is not None else None
            else:
                action, propensity = names[int(self._rng.integers(len(names)))], 1.0 / len(names)
                policy, version, ctx = NON_PERSONALISED, "uniform", None
            rows.append({"decision_id": did, "occurred_at": now, "customer_id": cid, "context": ctx,
                         "action": str(action), "propensity": float(propensity), "policy": policy,
                         "policy_version": version, "decision_type": self.decision_type})
            out.append({"decision_id": did, "action": by_text[str(action)], "propensity": float(propensity),
                        "position": None, "personalised": personalised, "customer_id": shop_id})
        self.log.record_many(pd.DataFrame(rows))
        return out

    def learn(self) -> int:
        """Update the policy with every reward logged for its decisions since it last learned
        (delayed rewards joined by decision id); returns the number of rewards learned."""
        frame = self.log.frame(self.name, self.decision_type, rewarded_only=True, since=self.learned_until)
        for row in frame.itertuples(index=False):  # a bandit learns one event at a time, in order
            ctx = json.loads(row.context) if isinstance(row.context, str) else None
            pos = None if pd.isna(row.position) else int(row.position)
            self.policy.update(ctx, str(row.action), float(row.reward), pos)
        if len(frame):
            self.learned_until = pd.Timestamp(frame["rewarded_at"].max()).to_pydatetime()
        return len(frame)
