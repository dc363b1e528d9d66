"""A simulated offer environment, for the demo, tests and benchmarks: real customer
contexts (or random ones) and a hidden click model whose true policy values are known,
so off-policy estimates can be checked against the truth.

The demo shop has no logged offers, so the responses are simulated; the contexts
(recency, frequency, spend of the shop's customers) are real.

>>> env = OfferEnvironment.random(n_customers=100, seed=1)
>>> logs = env.log_uniform(500)
>>> sorted(logs.columns)[:2]
['action', 'customer_id']
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shoplens.store.warehouse import Warehouse

OFFERS = ("free-shipping", "10-percent-off", "bundle", "no-offer")

CUSTOMER_CONTEXT_SQL = """
SELECT o.customer_id,
       date_diff('day', max(o.ordered_at), (SELECT max(ordered_at) FROM orders)) AS recency_days,
       count(DISTINCT o.order_id) AS orders,
       ln(1 + greatest(sum(o.total_amount), 0)) AS log_spend
FROM orders o WHERE o.customer_id IS NOT NULL AND o.status = 'completed'
GROUP BY o.customer_id ORDER BY o.customer_id
"""


@dataclass
class OfferEnvironment:
    """Customers (context columns) and a logistic click model per offer."""

    customers: pd.DataFrame  # customer_id + numeric context columns
    weights: np.ndarray  # (n_offers, n_features + 1)
    offers: tuple[str, ...] = OFFERS
    seed: int = 0

    @classmethod
    def random(cls, n_customers: int = 1000, seed: int = 0) -> OfferEnvironment:
        rng = np.random.default_rng(seed)
        customers = pd.DataFrame({
            "customer_id": [f"c{i}" for i in range(n_customers)],
            "recency_days": rng.exponential(90, n_customers).round(),
            "orders": rng.poisson(3, n_customers) + 1,
            "log_spend": rng.normal(6, 1, n_customers),
        })
        return cls(customers, _default_weights(), seed=seed)

    @classmethod
    def from_warehouse(cls, wh: Warehouse, seed: int = 0) -> OfferEnvironment:
        """Contexts of the warehouse's customers (recency, orders, log spend), computed in SQL."""
        return cls(wh.query(CUSTOMER_CONTEXT_SQL), _default_weights(), seed=seed)

    @property
    def features(self) -> list[str]:
        return [c for c in self.customers.columns if c != "customer_id"]

    def _standardised(self, ctx: pd.DataFrame) -> np.ndarray:
        x = ctx[self.features].to_numpy(float)
        ref = self.customers[self.features].to_numpy(float)
        return np.column_stack([(x - ref.mean(0)) / np.where(ref.std(0) > 0, ref.std(0), 1), np.ones(len(x))])

    def click_probabilities(self, ctx: pd.DataFrame) -> np.ndarray:
        """(n, n_offers): the true click chance of each offer."""
        return 1 / (1 + np.exp(-(self._standardised(ctx) @ self.weights.T)))

    def sample_contexts(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        return self.customers.iloc[rng.integers(0, len(self.customers), n)].reset_index(drop=True)

    def log_uniform(self, n: int, seed: int | None = None) -> pd.DataFrame:
        """``n`` decisions of the uniform-random policy with simulated clicks (vectorised)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        ctx = self.sample_contexts(n, rng)
        k = len(self.offers)
        action = rng.integers(0, k, n)
        p = self.click_probabilities(ctx)[np.arange(n), action]
        reward = (rng.random(n) < p).astype(float)
        return ctx.assign(action=[self.offers[a] for a in action], reward=reward, propensity=1.0 / k)

    def reward(self, context: Mapping[str, Any], action: Hashable, rng: np.random.Generator) -> float:
        """One simulated click for one decision."""
        p = self.click_probabilities(pd.DataFrame([context]))[0, self.offers.index(str(action))]
        return float(rng.random() < p)

    def rewards(self, contexts: pd.DataFrame, actions: Sequence[Hashable], rng: np.random.Generator) -> np.ndarray:
        """Simulated clicks for a batch of decisions (vectorised)."""
        idx = np.array([self.offers.index(str(a)) for a in actions])
        p = self.click_probabilities(contexts)[np.arange(len(idx)), idx]
        return (rng.random(len(idx)) < p).astype(float)

    def true_value(self, policy_dist: Callable[[pd.DataFrame], np.ndarray], n: int = 20000, seed: int = 123) -> float:
        """Expected click rate of a policy given as a function contexts -> (n, n_offers) probabilities."""
        ctx = self.sample_contexts(n, np.random.default_rng(seed))
        return float((policy_dist(ctx) * self.click_probabilities(ctx)).sum(axis=1).mean())


def _default_weights() -> np.ndarray:
    # features: recency_days, orders, log_spend, intercept (standardised); chosen so the best
    # offer depends on the customer: lapsed customers answer discounts, loyal ones bundles.
    return np.array([
        [0.2, -0.3, 0.4, -2.2],   # free-shipping
        [0.9, -0.4, -0.3, -2.0],  # 10-percent-off
        [-0.6, 0.8, 0.5, -2.1],   # bundle
        [0.0, 0.0, 0.0, -3.0],    # no-offer
    ])
