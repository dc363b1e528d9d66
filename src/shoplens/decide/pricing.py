"""Dynamic pricing: Thompson sampling over a price grid with a demand model, guardrails,
and a simulator calibrated on real price variation.

No standard pricing benchmark exists, so the simulator is built from the shop's own
history: products sold at different unit prices give a per-product constant-elasticity
demand curve ``demand(p) = base_demand * (p / base_price) ** elasticity`` (Poisson units
per day). Elasticities come from a within-product log-log regression, shrunk towards
the pooled elasticity (empirical Bayes), all in SQL.

Caveat (documented in docs/decisions.md): in wholesale-heavy data such as Online Retail,
part of the price variation is quantity discounts, which makes demand look more elastic
than it is; the calibrated curves are plausible scenarios, not causal estimates.

>>> policy = PriceTS(base_price=10.0, cost=6.0, seed=1)
>>> p = policy.choose_price()
>>> policy.update(p, units=3)
>>> p in policy.prices_
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shoplens.base import Model
from shoplens.errors import InsufficientDataError, UserInputError
from shoplens.store.warehouse import Warehouse

DEFAULT_GRID = (0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15, 1.2, 1.3)

# Per-product daily demand at each observed price: the one definition of the calibration (CTEs
# appended after a `lines` CTE),
# over a relation ``lines(product_id, day, quantity, unit_price)`` of completed sales.
CALIBRATION_SQL = """
daily AS (
    SELECT product_id, day, sum(quantity) AS units, sum(quantity * unit_price) / sum(quantity) AS price
    FROM lines WHERE quantity > 0 AND unit_price > 0 GROUP BY product_id, day
), active AS (
    SELECT product_id, count(*) AS days, count(DISTINCT round(price, 2)) AS prices,
           median(price) AS base_price, avg(units) AS base_demand
    FROM daily GROUP BY product_id
    HAVING count(*) >= ? AND count(DISTINCT round(price, 2)) >= 2
), fit AS (
    SELECT d.product_id, regr_slope(ln(d.units), ln(d.price)) AS slope, regr_count(ln(d.units), ln(d.price)) AS n,
           regr_r2(ln(d.units), ln(d.price)) AS r2
    FROM daily d JOIN active a USING (product_id) GROUP BY d.product_id
), pooled AS (  -- within-product (fixed-effects) slope over all products
    SELECT regr_slope(ln(d.units) - m.lu, ln(d.price) - m.lp) AS slope
    FROM daily d JOIN (SELECT product_id, avg(ln(units)) AS lu, avg(ln(price)) AS lp FROM daily
                       WHERE product_id IN (SELECT product_id FROM active) GROUP BY product_id) m USING (product_id)
)
SELECT a.product_id, a.days, a.prices, a.base_price, a.base_demand, f.slope AS raw_elasticity, f.r2,
       p.slope AS pooled_elasticity,
       -- empirical-Bayes shrinkage towards the pooled slope, then kept in a sane range
       least(greatest((f.n * coalesce(f.slope, p.slope) + ? * p.slope) / (f.n + ?), -4.0), -0.3) AS elasticity
FROM active a JOIN fit f USING (product_id), pooled p
ORDER BY a.days DESC, a.product_id
"""


def calibrate_from_warehouse(wh: Warehouse, *, min_days: int = 20, shrink: float = 30.0) -> pd.DataFrame:
    """Demand curves of the warehouse's products (completed orders, positive quantities)."""
    lines = ("SELECT i.product_id, date_trunc('day', o.ordered_at) AS day, i.quantity, i.unit_price "
             "FROM order_items i JOIN orders o USING (order_id) WHERE coalesce(o.status, 'completed') = 'completed'")
    return _calibrate(wh.con, lines, min_days, shrink)


def calibrate_from_online_retail(path: str | Path, *, min_days: int = 20, shrink: float = 30.0) -> pd.DataFrame:
    """Demand curves from the raw UCI Online Retail CSV (``../shared/data/online_retail``)."""
    import duckdb

    path = Path(path)
    if path.is_dir():
        path = path / "online_retail" / "online_retail.csv.gz" if (path / "online_retail").is_dir() else path / "online_retail.csv.gz"
    if not path.exists():
        raise UserInputError(f"{path}: Online Retail CSV not found (point --data-dir at ../shared/data)")
    lines = (f"SELECT StockCode AS product_id, date_trunc('day', CAST(InvoiceDate AS TIMESTAMP)) AS day, "
             f"Quantity AS quantity, UnitPrice AS unit_price FROM read_csv_auto('{path.as_posix()}') "
             "WHERE NOT starts_with(CAST(InvoiceNo AS VARCHAR), 'C') AND regexp_matches(StockCode, '^[0-9]{5}')")
    return _calibrate(duckdb.connect(), lines, min_days, shrink)


def _calibrate(con: Any, lines_sql: str, min_days: int, shrink: float) -> pd.DataFrame:
    frame = con.execute(f"WITH lines AS ({lines_sql}), {CALIBRATION_SQL}", [min_days, shrink, shrink]).df()
    if frame.empty:
        raise InsufficientDataError(
            f"no product was sold on at least {min_days} days at two or more prices; "
            "pricing needs products with real price variation")
    return frame


# -- pricing policy ----------------------------------------------------------------------
class PriceTS(Model):
    """Thompson sampling over a price grid with a log-linear Poisson demand model.

    Demand per step at price p: ``Poisson(exp(a + b * ln(p / base_price)))``. The posterior of
    (a, b) is a Laplace approximation refitted by Newton steps on the per-price sufficient
    statistics (units sold and steps at each grid price), so every observation informs every
    price. Each step samples (a, b) and picks the grid price with the highest sampled
    profit ``(p - cost) * demand(p)`` among the prices the guardrails allow:

    - ``min_margin``: ``p >= cost * (1 + min_margin)``;
    - ``max_change``: ``|p / previous - 1| <= max_change`` per step.
    """

    def __init__(self, base_price: float, cost: float, grid: tuple[float, ...] = DEFAULT_GRID,
                 min_margin: float = 0.1, max_change: float = 0.1, prior_elasticity: float = -1.5,
                 prior_sd: float = 1.0, seed: int = 0) -> None:
        self.base_price = base_price
        self.cost = cost
        self.grid = grid
        self.min_margin = min_margin
        self.max_change = max_change
        self.prior_elasticity = prior_elasticity
        self.prior_sd = prior_sd
        self.seed = seed

    def _init(self) -> None:
        if hasattr(self, "prices_"):
            return
        if self.base_price <= 0 or self.cost < 0:
            raise UserInputError("base_price must be positive and cost non-negative")
        self.prices_ = np.round(self.base_price * np.asarray(self.grid, dtype=float), 4)
        self.units_ = np.zeros(len(self.prices_))
        self.steps_ = np.zeros(len(self.prices_))
        self.rng_ = np.random.default_rng(self.seed)
        self.current_ = float(self.prices_[np.argmin(np.abs(np.asarray(self.grid) - 1.0))])
        self.mean_ = np.array([0.0, self.prior_elasticity])
        self.cov_ = np.diag([4.0**2, self.prior_sd**2])

    def allowed_prices(self) -> np.ndarray:
        self._init()
        ok = self.prices_ >= self.cost * (1 + self.min_margin)
        ok &= np.abs(self.prices_ / self.current_ - 1) <= self.max_change + 1e-9
        if not ok.any():  # guardrails exclude the whole grid: stay where we are
            ok = np.isclose(self.prices_, self.current_)
        return ok

    def choose_price(self) -> float:
        self._init()
        a, b = self.rng_.multivariate_normal(self.mean_, self.cov_)
        profit = (self.prices_ - self.cost) * np.exp(a + b * np.log(self.prices_ / self.base_price))
        profit[~self.allowed_prices()] = -np.inf
        self.current_ = float(self.prices_[int(np.argmax(profit))])
        return self.current_

    def update(self, price: float, units: float) -> None:
        self._init()
        k = int(np.argmin(np.abs(self.prices_ - price)))
        self.units_[k] += units
        self.steps_[k] += 1
        self._refit()

    def fit(self, prices: Sequence[float], units: Sequence[float]) -> PriceTS:
        """Learn from logged steps (the price shown, the units sold): a loop of :meth:`update`.

        >>> float(PriceTS(base_price=10.0, cost=6.0).fit([10.0, 10.5], [4, 3]).steps_.sum())
        2.0
        """
        for price, sold in zip(prices, units):
            self.update(price, sold)
        return self

    def _refit(self, iterations: int = 5) -> None:
        # Newton steps for the Poisson GLM posterior mode with a Gaussian prior (Laplace approximation).
        z = np.log(self.prices_ / self.base_price)
        X = np.column_stack([np.ones_like(z), z])
        prior_prec = np.diag([1 / 4.0**2, 1 / self.prior_sd**2])
        prior_mean = np.array([0.0, self.prior_elasticity])
        prior_mean[0] = self.mean_[0]
        w = self.mean_.copy()
        if self.steps_.sum() == 1:  # first observation: start the level at the observed demand
            w[0] = prior_mean[0] = np.log(self.units_.sum() + 0.5)
        for _ in range(iterations):
            rate = np.exp(np.clip(X @ w, -30, 30))
            grad = X.T @ (self.units_ - self.steps_ * rate) - prior_prec @ (w - prior_mean)
            hess = X.T @ (X * (self.steps_ * rate)[:, None]) + prior_prec
            step = np.linalg.solve(hess, grad)
            w = w + step / max(1.0, float(np.abs(step).max()))  # damped: at most 1 per step
        self.mean_ = w
        self.cov_ = np.linalg.inv(X.T @ (X * (self.steps_ * np.exp(np.clip(X @ w, -30, 30)))[:, None]) + prior_prec)


class GridTS(PriceTS):
    """Baseline: independent Gamma-Poisson demand per grid price (no demand model shared across prices)."""

    def choose_price(self) -> float:
        self._init()
        # prior: one pseudo-step at the average demand seen so far at any price (else untried prices never win)
        pooled = self.units_.sum() / self.steps_.sum() if self.steps_.sum() else 1.0
        rate = self.rng_.gamma(pooled + self.units_, 1.0 / (1.0 + self.steps_))
        profit = (self.prices_ - self.cost) * rate
        profit[~self.allowed_prices()] = -np.inf
        self.current_ = float(self.prices_[int(np.argmax(profit))])
        return self.current_

    def _refit(self, iterations: int = 5) -> None:
        pass


# -- simulator ----------------------------------------------------------------------------------
@dataclass
class PricingScenario:
    """One product's true demand curve."""

    product_id: str
    base_price: float
    base_demand: float
    elasticity: float
    cost: float

    def expected_units(self, price: np.ndarray | float) -> np.ndarray:
        return self.base_demand * (np.asarray(price, dtype=float) / self.base_price) ** self.elasticity

    def expected_profit(self, price: np.ndarray | float) -> np.ndarray:
        return (np.asarray(price, dtype=float) - self.cost) * self.expected_units(price)


def scenarios_from(calibration: pd.DataFrame, *, cost_share: float = 0.6, n_products: int | None = 50,
                   demand_scale: float = 1.0) -> list[PricingScenario]:
    """Scenarios from :func:`calibrate_from_warehouse` output. Online Retail has no unit costs,
    so cost = ``cost_share`` x base price (a stated assumption)."""
    rows = calibration.head(n_products) if n_products else calibration
    return [PricingScenario(str(r.product_id), float(r.base_price), float(r.base_demand) * demand_scale,
                            float(r.elasticity), float(r.base_price) * cost_share) for r in rows.itertuples()]


def simulate_pricing(scenarios: list[PricingScenario], *, steps: int = 180, seed: int = 0,
                     min_margin: float = 0.1, max_change: float = 0.1,
                     grid: tuple[float, ...] = DEFAULT_GRID) -> dict[str, Any]:
    """Run every pricing policy on every scenario; regret against the best fixed grid price.

    Returns ``curves`` (step, policy, cumulative regret averaged over products, as a share of
    the oracle's cumulative profit) and ``summary`` (per policy: profit / oracle profit).
    """
    if not scenarios:
        raise InsufficientDataError("no pricing scenarios to simulate")
    if steps < 1:
        raise UserInputError("steps must be at least 1")
    rng = np.random.default_rng(seed)
    names = ["price-ts (demand model)", "grid-ts (no model)", "current price"]
    regret = np.zeros((len(names), steps))
    profit = np.zeros(len(names))
    oracle_total = 0.0
    for i, sc in enumerate(scenarios):
        prices = np.round(sc.base_price * np.asarray(grid), 4)
        feasible = prices >= sc.cost * (1 + min_margin)
        best = float(np.max(np.where(feasible, sc.expected_profit(prices), -np.inf)))
        oracle_total += best * steps
        policies = [PriceTS(sc.base_price, sc.cost, grid, min_margin, max_change, seed=seed + i),
                    GridTS(sc.base_price, sc.cost, grid, min_margin, max_change, seed=seed + i)]
        demand_noise = rng.random((steps, 1))  # common random numbers across policies
        for k, name in enumerate(names):
            for t in range(steps):
                price = policies[k].choose_price() if k < 2 else sc.base_price
                lam = float(sc.expected_units(price))
                units = float(_poisson_from_uniform(lam, demand_noise[t, 0]))
                if k < 2:
                    policies[k].update(price, units)
                exp_profit = float(sc.expected_profit(price))
                regret[k, t] += best - exp_profit
                profit[k] += exp_profit
    cum = np.cumsum(regret, axis=1) / max(oracle_total / steps, 1e-12)  # in "oracle steps"
    curves = pd.DataFrame([{"step": t + 1, "policy": n, "cumulative_regret": float(cum[k, t]),
                            "regret_share": float(np.cumsum(regret[k])[t] / (oracle_total / steps * (t + 1)))}
                           for k, n in enumerate(names) for t in range(steps)])
    summary = pd.DataFrame({"policy": names, "profit_vs_best_fixed_price": profit / oracle_total,
                            "final_regret_share": [float(np.sum(regret[k]) / oracle_total) for k in range(len(names))]})
    return {"curves": curves, "summary": summary, "products": len(scenarios), "steps": steps}


def _poisson_from_uniform(lam: float, u: float) -> int:
    from scipy.stats import poisson

    return int(poisson.ppf(min(max(u, 1e-12), 1 - 1e-12), lam)) if lam > 0 else 0
