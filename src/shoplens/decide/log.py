"""The decision log: every decision in the ``decisions`` table with its propensity, so
that any other policy can later be evaluated on it; rewards arrive later and are
joined by decision id.

:class:`Decider` is the one entry point that serves a decision for a customer: it
checks consent (:func:`shoplens.privacy.consent._check_internal`), asks the policy, logs
the decision and, later, teaches the policy the rewards logged since it last learned.

- An offer (every decision type except the personalisation-only ones in
  :data:`shoplens.privacy.consent.PERSONALISATION_ONLY_DECISIONS`) needs marketing
  consent: a customer without it (refused, never asked under opt-in, or not a customer)
  gets no offer: ``action`` None and a ``reason`` naming the missing consent. The
  decision is still logged for auditing, under the policy name ``not-offered`` with
  the reason code as its version and no action.
- A customer without personalisation consent, or an id that is not a customer (cold
  start), gets a non-personalised (context-free, uniformly random) choice, logged under
  the policy name ``non-personalised`` with no context stored.
- Answers carry the customer id as it came in, never a warehouse id.

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
from shoplens.privacy.consent import Default, _check_internal, decision_action
from shoplens.privacy.ids import to_internal
from shoplens.store.warehouse import Warehouse, utcnow

REWARD_KINDS = ("click", "conversion", "revenue", "margin")
NON_PERSONALISED = "non-personalised"
NOT_OFFERED = "not-offered"  # the policy name of logged decisions where consent allowed no offer


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

    def record(self, *, action: Hashable | None, propensity: float, policy: str, policy_version: str = "1",
               customer_id: str | None = None, context: Mapping[str, Any] | None = None,
               position: int | None = None, decision_type: str = "offer", decision_id: str | None = None,
               occurred_at: datetime | None = None) -> str:
        """Insert one decision (warehouse customer id; ``action`` None: nothing was offered);
        returns its decision id."""
        if not 0 < propensity <= 1:
            raise UserInputError(f"propensity must lie in (0, 1], got {propensity}")
        decision_id = decision_id or uuid.uuid4().hex
        self.wh.con.execute(
            "INSERT INTO decisions (decision_id, occurred_at, customer_id, context, action, position, propensity, "
            "policy, policy_version, decision_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [decision_id, occurred_at or utcnow(), customer_id,
             json.dumps(dict(context), default=str, sort_keys=True) if context is not None else None,
             None if action is None else str(action), position, float(propensity), policy, policy_version,
             decision_type],
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

    def find(self, decision_id: str) -> tuple[str, str | None] | None:
        """``(policy, decision_type)`` of a logged decision, None for an unknown id."""
        row = self.wh.con.execute("SELECT policy, decision_type FROM decisions WHERE decision_id = ?",
                                  [decision_id]).fetchone()
        return None if row is None else (row[0], row[1])

    def arms(self) -> pd.DataFrame:
        """Per policy and arm (action): decisions served, rewards received, mean reward, last decision."""
        return self.wh.query(
            """SELECT policy, action AS arm, count(*) AS decisions, count(reward) AS rewards,
                      round(avg(reward), 4) AS mean_reward, max(occurred_at) AS last_decision
               FROM decisions GROUP BY ALL ORDER BY policy, decisions DESC""")

    def experiments(self) -> pd.DataFrame:
        """Per decision type (``experiment``; none logged: ``offer``), policy and version: decisions,
        rewards and mean reward, with when the first and last decision were made."""
        return self.wh.query(
            """SELECT coalesce(decision_type, 'offer') AS experiment, policy, policy_version,
                      count(*) AS decisions, count(reward) AS rewards, round(avg(reward), 4) AS mean_reward,
                      min(occurred_at) AS started, max(occurred_at) AS last_decision
               FROM decisions GROUP BY ALL ORDER BY experiment, policy""")

    def feedback(self, policy: str | None = None, decision_type: str | None = None) -> LoggedFeedback:
        """Rewarded decisions as :class:`LoggedFeedback` for off-policy evaluation (contexts unpacked)."""
        frame = self.frame(policy, decision_type, rewarded_only=True)
        frame = frame[frame["action"].notna()]  # not-offered decisions chose no action: nothing to evaluate
        if frame.empty:
            raise InsufficientDataError("no rewarded decisions in the log yet (attach rewards with `decide log-reward`)")
        codes, names = pd.factorize(frame["action"], sort=True)
        context = pd.DataFrame([json.loads(c) if isinstance(c, str) else {} for c in frame["context"]])
        position = frame["position"].fillna(0).astype(int).to_numpy() if frame["position"].notna().any() else None
        return LoggedFeedback(codes, frame["reward"].to_numpy(float), frame["propensity"].to_numpy(float), len(names),
                              position=position, context=context if context.shape[1] else None,
                              action_names=list(names))


def _reason_code(check: Any, customer_id: str) -> str:
    """A short code for the decision log: why nothing was offered."""
    if customer_id in check.unknown:
        return "unknown-customer"
    return "no-" + "-".join(p for p in check.purposes) + "-consent"


class Decider:
    """Consent-aware, logged decisions of one policy for the shop's customers.

    >>> from shoplens.decide.policies import LinearTS
    >>> wh = demo_warehouse()  # the bundled demo shop, loaded (see conftest.py)
    >>> d = Decider(wh, LinearTS(seed=1), name="offer-bandit")
    >>> [slot] = d.decide("12355", {"recency_days": 12}, ["free-shipping", "10-percent"])
    >>> slot["customer_id"], slot["action"], slot["personalised"]
    ('12355', '10-percent', True)
    >>> [refused] = d.decide("17850", {"recency_days": 12}, ["free-shipping", "10-percent"])
    >>> refused["action"], refused["reason"]  # offers need marketing consent
    (None, 'no marketing consent (consent_marketing is false)')
    >>> d.log.log_reward(slot["decision_id"], 1.0)  # the customer used the offer
    >>> d.learn()  # rewards learned
    1
    """

    def __init__(self, wh: Warehouse, policy: Policy, *, name: str, version: str = "1",
                 decision_type: str = "offer", seed: int = 0, consent_default: Default = None) -> None:
        self.wh = wh
        self.consent_default = consent_default  # the policy's answer for never-asked customers (None: settings)
        self.policy = policy
        self.name = name
        self.version = version
        self.decision_type = decision_type
        self.log = DecisionLog(wh)
        self._rng = np.random.default_rng(seed)
        self.learned_until: datetime | None = None

    def _consent(self, internal: Sequence[str | None]) -> tuple[Any, Any]:
        """(offer check or None when this decision type offers nothing, personalisation check)
        for the customers of a request."""
        ids = [c for c in internal if c is not None]
        if not ids:
            return None, None
        is_offer = decision_action(self.decision_type) == "offer"
        return (_check_internal(self.wh, ids, "offer", self.consent_default) if is_offer else None,
                _check_internal(self.wh, ids, "personalised_decision", self.consent_default))

    def decide(self, customer_id: str | None, context: Mapping[str, Any] | None, actions: Sequence[Hashable],
               k: int = 1) -> list[dict[str, Any]]:
        """Choose ``k`` actions (slots) for a customer (the shop's id; None: an anonymous visitor)
        and log them.

        Returns one dict per slot: decision_id, action (None when consent allows no offer),
        propensity, position, personalised, customer_id (as given), reason (why nothing
        was offered or nothing personalised; None otherwise).
        """
        if not actions:
            raise UserInputError("decide needs at least one action")
        internal = to_internal(self.wh, [customer_id])[0] if customer_id is not None else None
        offer, personal = self._consent([internal])
        base = uuid.uuid4().hex
        reason = None
        if internal is not None and offer is not None and internal not in offer:
            # no offer at all: logged for auditing, nothing chosen, no context kept
            reason = offer.reason(internal)
            slots: list[tuple[Hashable | None, float]] = [(None, 1.0)] * k
            policy, version, ctx = NOT_OFFERED, _reason_code(offer, internal), None
            personalised = False
        elif internal is None or internal in personal:
            # the policy and the log see actions as text, so rewards read back from the log reach the same arm
            by_text = {str(a): a for a in actions}
            names = list(by_text)
            chosen = self.policy.choose_slate(context, names, k) if k > 1 else [self.policy.choose(context, names)]
            slots = [(by_text[str(a)], p) for a, p in chosen]
            policy, version, ctx = self.name, self.version, context
            personalised = True
        else:
            # no profiling (refused, or an unknown id: cold start): a context-free uniformly random
            # slate (exact propensities, still useful for OPE)
            reason = personal.reason(internal)
            order = self._rng.permutation(len(actions))[:k]
            # the chance of an action in a given slot of a uniformly random ranking is 1/K
            slots = [(actions[i], 1.0 / len(actions)) for i in order]
            policy, version, ctx = NON_PERSONALISED, "uniform", None
            personalised = False
        out = []
        for j, (action, propensity) in enumerate(slots):
            did = base if k == 1 else f"{base}-{j}"
            self.log.record(action=action, propensity=propensity, policy=policy, policy_version=version,
                            customer_id=internal, context=ctx, position=j if k > 1 else None,
                            decision_type=self.decision_type, decision_id=did)
            out.append({"decision_id": did, "action": action, "propensity": propensity,
                        "position": j if k > 1 else None, "personalised": personalised,
                        "customer_id": customer_id, "reason": reason})
        return out

    def decide_batch(self, customer_ids: Sequence[str | None], contexts: Sequence[Mapping[str, Any] | None],
                     actions: Sequence[Hashable]) -> list[dict[str, Any]]:
        """One decision per (customer, context), with one consent check and one log insert for
        the whole batch; the policy state is the same for the batch (rewards come later).
        Consent works as in :meth:`decide`."""
        if len(customer_ids) != len(contexts):
            raise UserInputError("customer_ids and contexts must have the same length")
        if not actions:
            raise UserInputError("decide needs at least one action")
        known = [c for c in customer_ids if c is not None]
        internal_known = iter(to_internal(self.wh, known)) if known else iter(())
        internal = [next(internal_known) if c is not None else None for c in customer_ids]
        offer, personal = self._consent(internal)
        may_offer = set(offer) if offer is not None else {c for c in internal if c is not None}
        consented = set(personal) if personal is not None else set()
        by_text = {str(a): a for a in actions}
        names = list(by_text)
        rows, out = [], []
        now = utcnow()
        for shop_id, cid, context in zip(customer_ids, internal, contexts):
            did = uuid.uuid4().hex
            reason = None
            if cid is not None and cid not in may_offer:
                reason = offer.reason(cid)
                action, propensity, personalised = None, 1.0, False
                policy, version, ctx = NOT_OFFERED, _reason_code(offer, cid), None
            elif cid is None or cid in consented:
                action, propensity = self.policy.choose(context, names)
                policy, version, personalised = self.name, self.version, True
                ctx = json.dumps(dict(context), default=str, sort_keys=True) if context is not None else None
            else:
                reason = personal.reason(cid)
                action, propensity = names[int(self._rng.integers(len(names)))], 1.0 / len(names)
                policy, version, ctx, personalised = NON_PERSONALISED, "uniform", None, False
            rows.append({"decision_id": did, "occurred_at": now, "customer_id": cid, "context": ctx,
                         "action": None if action is None else str(action), "propensity": float(propensity),
                         "policy": policy, "policy_version": version, "decision_type": self.decision_type})
            out.append({"decision_id": did, "action": None if action is None else by_text[str(action)],
                        "propensity": float(propensity), "position": None, "personalised": personalised,
                        "customer_id": shop_id, "reason": reason})
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
