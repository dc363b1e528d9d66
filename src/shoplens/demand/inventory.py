"""Inventory advice from the forecast distribution: reorder point, order quantity,
expected stock-outs and excess stock per product (continuous review, (s, Q) policy).

For each product, over the lead time ``L`` (in forecast periods, may be fractional):

- demand during lead time has mean ``mu_L`` = the sum of the forecasts and standard
  deviation ``sigma_L`` = the root of the summed per-period variances, each read off
  the 80 % interval (``(hi80 - lo80) / (2 * 1.2816)``, errors taken as independent);
- reorder point ``s = mu_L + z * sigma_L`` with ``z`` the normal quantile of the
  cycle service level; safety stock ``z * sigma_L``;
- order quantity ``Q``: the economic order quantity ``sqrt(2 D K / (h c))`` when an
  ordering cost ``K`` and a yearly holding rate ``h`` are given and the unit cost
  ``c`` (or price) is known, else the forecast demand over ``cover`` periods;
- expected units short per cycle ``sigma_L * G(z)`` (standard normal loss
  function), fill rate ``1 - short / Q``, and expected excess stock left when the
  order arrives ``s - mu_L + short``.

>>> import pandas as pd
>>> fc = pd.DataFrame({"key": ["A"] * 4, "period_start": pd.date_range("2024-01-01", periods=4, freq="W-MON"),
...                    "forecast": [10.0] * 4, "lo80": [5.0] * 4, "hi80": [15.0] * 4})
>>> advice = reorder_advice(fc, lead_time_periods=2, service_level=0.95, cover_periods=4)
>>> round(float(advice.loc[0, "reorder_point"]), 1)
30.0
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from shoplens.errors import UserInputError

Z80 = float(norm.ppf(0.9))  # half-width of an 80 % normal interval in standard deviations


def reorder_advice(
    forecast: pd.DataFrame,
    *,
    lead_time_periods: float,
    service_level: float = 0.95,
    cover_periods: float = 4,
    unit_cost: pd.Series | None = None,
    order_cost: float | None = None,
    holding_rate: float | None = None,
    periods_per_year: float = 52,
    on_hand: pd.Series | None = None,
) -> pd.DataFrame:
    """Reorder point, order quantity, expected stock-outs and excess per ``key``.

    ``forecast``: ``key, period_start, forecast, lo80, hi80`` starting at the next
    period; it must cover the lead time and the cover periods.
    ``unit_cost``/``on_hand``: optional Series indexed by key.
    """
    if not 0.5 <= service_level < 1:
        raise UserInputError(f"service level {service_level!r}: give a share between 0.5 and 0.999, e.g. 0.95")
    if lead_time_periods <= 0:
        raise UserInputError(f"lead time {lead_time_periods!r}: must be positive")
    if cover_periods <= 0:
        raise UserInputError(f"cover {cover_periods!r}: must be positive")
    if (order_cost is None) != (holding_rate is None):
        raise UserInputError("give both --order-cost and --holding-rate for the economic order quantity, or neither")
    fc = forecast.sort_values(["key", "period_start"]).copy()
    step = fc.groupby("key").cumcount()
    # share of each period inside the lead time / cover window (fractional last period)
    fc["in_lead"] = np.clip(lead_time_periods - step, 0, 1)
    fc["in_cover"] = np.clip(cover_periods - step, 0, 1)
    sigma = (fc["hi80"] - fc["lo80"]).clip(lower=0) / (2 * Z80)
    fc["lead_mean"] = fc["forecast"] * fc["in_lead"]
    fc["lead_var"] = (sigma * fc["in_lead"]) ** 2
    fc["cover_mean"] = fc["forecast"] * fc["in_cover"]
    g = fc.groupby("key")
    out = pd.DataFrame({
        "lead_time_demand": g["lead_mean"].sum(),
        "lead_time_sd": np.sqrt(g["lead_var"].sum()),
        "demand_per_period": g["forecast"].mean(),
        "cover_demand": g["cover_mean"].sum(),
    })
    z = float(norm.ppf(service_level))
    out["safety_stock"] = z * out["lead_time_sd"]
    out["reorder_point"] = out["lead_time_demand"] + out["safety_stock"]
    if order_cost is not None and holding_rate is not None:
        if unit_cost is None:
            raise UserInputError("the economic order quantity needs unit costs or prices of the products")
        cost = unit_cost.reindex(out.index)
        yearly = out["demand_per_period"] * periods_per_year
        eoq = np.sqrt(2 * yearly * order_cost / (holding_rate * cost))
        out["order_quantity"] = eoq.where(cost > 0, out["cover_demand"]).fillna(out["cover_demand"])
        out["order_rule"] = np.where(cost > 0, "economic order quantity", "cover")
    else:
        out["order_quantity"] = out["cover_demand"]
        out["order_rule"] = f"cover {cover_periods:g} periods"
    out["order_quantity"] = np.ceil(out["order_quantity"].clip(lower=1))
    out["reorder_point"] = np.ceil(out["reorder_point"])
    loss = norm.pdf(z) - z * (1 - norm.cdf(z))  # standard normal loss function G(z)
    out["expected_short_per_cycle"] = out["lead_time_sd"] * loss
    out["fill_rate"] = (1 - out["expected_short_per_cycle"] / out["order_quantity"]).clip(lower=0)
    out["expected_excess_at_arrival"] = out["reorder_point"] - out["lead_time_demand"] + out["expected_short_per_cycle"]
    out["average_stock"] = out["order_quantity"] / 2 + out["safety_stock"]
    if on_hand is not None:
        stock = on_hand.reindex(out.index)
        out["on_hand"] = stock
        out["order_now"] = np.where(stock.notna() & (stock <= out["reorder_point"]), out["order_quantity"], 0.0)
    out["service_level"] = service_level
    out["lead_time_periods"] = lead_time_periods
    out.index.name = "key"
    return out.reset_index().sort_values("lead_time_demand", ascending=False, kind="stable").reset_index(drop=True)
