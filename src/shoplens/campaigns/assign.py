"""Who is in a campaign's audience, and which arm each customer gets.

Assignment is sticky and reproducible: the arm comes from the hash of campaign and
customer (:func:`shoplens.decide.abtest.assign`, GrowthBook's scheme), so the same
customer always lands in the same arm of a campaign (under ``--policy bandit`` the control
group is the same hash and the offer is learned: :mod:`shoplens.campaigns.bandit`), and a customer assigned once keeps
their arm and ``assigned_at`` when the campaign is assigned again (later versions included).
Every new assignment is logged in the decision log with its propensity (policy
``campaign:NAME``, decision type ``campaign``), so other policies can be evaluated on it; every
run first posts the goal metric of the windows closed by then as their rewards
(:func:`shoplens.campaigns.report.post_rewards`, idempotent).

Before randomisation, and so independent of the arm, customers are excluded and counted:

- without marketing consent (consent action ``campaign``; fails closed) or unknown ids;
- over the frequency cap: already given an offer (a non-control arm) by ``frequency_cap``
  other campaigns in the ``cap_days`` before the assignment;
- over the budget (after randomisation, but as a cut of the audience's order, whatever the later
  customers' arms): once the expected cost of the offers given (cost per use x the expected use,
  :func:`expected_use`) would pass ``budget``, no one new is assigned (:func:`budget_cut`).

Customers assigned earlier who have since withdrawn consent stay in the analysis
(intention to treat) but are left out of the file handed to the e-mail or ad tool.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from shoplens.campaigns.campaign import (
    CONTROL,
    Campaign,
    _date,
    audience_kind,
    ensure_tables,
    get_campaign,
)
from shoplens.decide.abtest import assign as hashed_arm
from shoplens.errors import InputFileError, NotComputedError, UserInputError
from shoplens.privacy.consent import Default, _check_internal
from shoplens.privacy.ids import to_external, to_internal
from shoplens.store.warehouse import Warehouse, utcnow

CONSENT_ACTION = "campaign"
DECISION_TYPE = "campaign"
MIN_CLOSED = 30  # closed windows of an arm before its observed use rate replaces the worst case


def policy_name(campaign: str) -> str:
    """The decision log's policy name of a campaign's assignments."""
    return f"campaign:{campaign}"


def salt(campaign: str) -> str:
    return f"campaign:{campaign}"


def arm_of(customer_id: str, campaign: Campaign) -> str:
    """The arm of a (warehouse) customer id in ``campaign``: a pure function of the two.

    >>> from shoplens.campaigns.campaign import parse_arm
    >>> c = Campaign("winback", "all", (parse_arm("free_shipping"),), control=0.5)
    >>> arm_of("c42", c) == arm_of("c42", c)
    True
    """
    weights = campaign.weights()
    names = campaign.arm_names
    return hashed_arm(customer_id, names, salt=salt(campaign.name), weights=[weights[n] for n in names])


# -- audiences ------------------------------------------------------------------------------------
def _known_customers(wh: Warehouse) -> list[str]:
    rows = wh.con.execute("""SELECT customer_id FROM customers WHERE customer_id IS NOT NULL
                             UNION SELECT customer_id FROM orders WHERE customer_id IS NOT NULL ORDER BY 1""").fetchall()
    return [r[0] for r in rows]


def _table_members(wh: Warehouse, table: str, column: str, value: str, command: str) -> list[str]:
    if not wh.has_table(table):
        raise NotComputedError(f"no {table} table yet: run `{command}` first")
    values = [str(v) for v in wh.query(f'SELECT DISTINCT CAST("{column}" AS VARCHAR) AS v FROM "{table}"')["v"]]
    if value not in values:
        raise UserInputError(f"{column} {value!r} not found; choose one of: {', '.join(sorted(values))}")
    rows = wh.con.execute(f'SELECT DISTINCT customer_id FROM "{table}" WHERE CAST("{column}" AS VARCHAR) = ? '
                          "ORDER BY 1", [value]).fetchall()
    return [r[0] for r in rows]


def profile_sql(end: datetime, attributes: str | None = None) -> str:
    """The customer profile an audience ``sql:`` condition filters: the shop's value metrics
    (:func:`shoplens.metrics.customer_value_sql`) with ``days_since_last_order`` and the customer's
    ``country`` and ``language``; with ``attributes`` (:func:`shoplens.customers.attributes.wide_sql`)
    also one typed column ``attr_<name>`` per customer attribute (NULL for a customer without it)."""
    from shoplens.metrics import customer_value_sql

    end_sql = f"TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"
    extra = ", a.* EXCLUDE (customer_id)" if attributes else ""
    join = f" LEFT JOIN ({attributes}) a USING (customer_id)" if attributes else ""
    return f"""SELECT v.*, date_diff('day', v.last_order_at, {end_sql}) AS days_since_last_order,
                      c.country, c.language{extra}
               FROM ({customer_value_sql(end_sql)}) v LEFT JOIN customers c USING (customer_id){join}"""


def audience_members(wh: Warehouse, audience: str, as_of: datetime) -> list[str]:
    """Warehouse ids of the customers ``audience`` names as of ``as_of`` (see :func:`audience_kind`)."""
    kind, arg = audience_kind(audience)
    if kind == "all":
        return _known_customers(wh)
    if kind == "rfm":
        from shoplens.customers.rfm import SEGMENTS, compute_rfm

        names = {s.lower(): s for s in SEGMENTS}
        if arg.lower() not in names:
            raise UserInputError(f"RFM segment {arg!r} not found; choose one of: {', '.join(SEGMENTS)}")
        rfm = compute_rfm(wh, as_of=as_of.date(), write=False)
        return sorted(rfm.loc[rfm["segment"] == names[arg.lower()], "customer_id"].astype(str))
    if kind == "segment":
        table = "customer_segments"
        column = "segment_id" if arg.isdigit() else "segment_name"
        return _table_members(wh, table, column, arg, "shoplens customers segments")
    if kind == "rule":
        return _table_members(wh, "customer_rule_tags", "rule_id", arg, "shoplens customers rules --apply")
    if kind == "sql":
        if ";" in arg:
            raise UserInputError("an audience sql: condition is one WHERE condition, without ';'")
        from shoplens.customers.attributes import wide_sql

        profile = profile_sql(as_of, wide_sql(wh))
        try:
            rows = wh.con.execute(f"SELECT customer_id FROM ({profile}) p WHERE ({arg}) ORDER BY 1").fetchall()
        except duckdb.Error as exc:  # a parser/binder error in the user's condition
            cols = ", ".join(wh.con.execute(f"DESCRIBE {profile}").df()["column_name"])
            raise UserInputError(f"audience condition {arg!r} does not run: {str(exc).splitlines()[0]} "
                                 f"(columns: {cols})") from None
        return [r[0] for r in rows]
    if kind == "uplift":
        return uplift_audience(wh, arg, as_of)
    from shoplens.files import read_user_csv

    frame = read_user_csv(arg, dtype=str)
    if "customer_id" not in frame.columns:
        raise InputFileError(arg, "no customer_id column", hint="give one shop customer id per row under customer_id")
    given = [c for c in frame["customer_id"].dropna().astype(str)]
    return [i for i in dict.fromkeys(to_internal(wh, given)) if i]


MIN_UPLIFT_CLOSED = 10  # closed windows per group (offers, control) before an uplift model is fitted


def uplift_audience(wh: Warehouse, arg: str, as_of: datetime) -> list[str]:
    """``CAMPAIGN:FRACTION``: the share FRACTION of the shop's customers with the highest uplift
    predicted by a T-learner (:class:`~shoplens.campaigns.uplift.UpliftModel`) fitted on campaign
    CAMPAIGN's closed windows (any offer against control, its goal metric) on the bandit's
    context features (:data:`shoplens.campaigns.bandit.FEATURES`), each scored as of ``as_of``."""
    import numpy as np

    from shoplens.campaigns.bandit import FEATURES, contexts
    from shoplens.campaigns.report import attribute
    from shoplens.campaigns.uplift import UpliftModel
    from shoplens.errors import InsufficientDataError

    source_name, _, fraction_text = arg.rpartition(":")
    try:
        fraction = float(fraction_text)
    except ValueError:
        fraction = -1.0
    if not source_name or not 0 < fraction <= 1:
        raise UserInputError(f"audience uplift:{arg}: use uplift:CAMPAIGN:FRACTION, FRACTION in (0, 1] "
                             "(e.g. uplift:winback:0.4)")
    source = get_campaign(wh, source_name)
    frame = attribute(wh, source, as_of=as_of)
    frame = frame[frame["window_closed"]]
    treated = (frame["arm"] != CONTROL).to_numpy()
    if treated.sum() < MIN_UPLIFT_CLOSED or (~treated).sum() < MIN_UPLIFT_CLOSED:
        raise InsufficientDataError(
            f"campaign {source_name!r} has {int(treated.sum())} offer and {int((~treated).sum())} control customers "
            f"whose window has closed by {as_of:%Y-%m-%d}; an uplift audience needs {MIN_UPLIFT_CLOSED} of each "
            "(wait for the windows to close)")
    X = np.vstack([contexts(wh, rows["customer_id"].tolist(), pd.Timestamp(at).to_pydatetime())[list(FEATURES)]
                   .to_numpy(float) for at, rows in frame.groupby("assigned_at")])
    order = np.concatenate([rows.index.to_numpy() for _, rows in frame.groupby("assigned_at")])
    frame = frame.loc[order]
    model = UpliftModel("t").fit(X, (frame["arm"] != CONTROL).to_numpy(), frame[source.goal].to_numpy(float))
    candidates = _known_customers(wh)
    scores = model.predict(contexts(wh, candidates, as_of)[list(FEATURES)].to_numpy(float))
    keep = int(np.ceil(fraction * len(candidates)))
    top = np.argsort(-scores, kind="stable")[:keep]
    return sorted(candidates[i] for i in top)


# -- assignment ---------------------------------------------------------------------------------------
@dataclass
class Assignment:
    """The outcome of :func:`assign_campaign`: the rows to hand over (shop ids) and the counts."""

    campaign: str
    version: int
    rows: pd.DataFrame  # customer_id (shop id), arm, propensity, assigned_at
    counts: dict[str, int] = field(default_factory=dict)
    path: Path | None = None
    rewards_posted: int = 0  # rewards of closed windows written to the decision log by this run


    def to_dict(self) -> dict[str, Any]:
        by_arm = self.rows["arm"].value_counts().to_dict() if len(self.rows) else {}
        return {"campaign": self.campaign, "version": self.version, **self.counts,
                "arms": {str(k): int(v) for k, v in sorted(by_arm.items())},
                "rewards_posted": self.rewards_posted,
                "output": None if self.path is None else str(self.path)}


def _capped(wh: Warehouse, campaign: Campaign, ids: list[str], at: datetime) -> set[str]:
    """Customers already given an offer by ``frequency_cap`` other campaigns in the cap period."""
    if campaign.frequency_cap is None or not ids:
        return set()
    rows = wh.con.execute(
        """SELECT customer_id FROM campaign_assignments
           WHERE campaign <> ? AND arm <> ? AND assigned_at > ? AND assigned_at <= ?
             AND customer_id IN (SELECT unnest(?::VARCHAR[]))
           GROUP BY customer_id HAVING count(DISTINCT campaign) >= ?""",
        [campaign.name, CONTROL, at - timedelta(days=campaign.cap_days), at, ids, campaign.frequency_cap]).fetchall()
    return {r[0] for r in rows}


def _inactive_reason(campaign: Campaign, at: datetime) -> str | None:
    """Why ``campaign`` assigns no one at ``at`` (None while it does)."""
    name = campaign.name
    if campaign.status != "active":
        return (f"campaign {name!r} is {campaign.status}; it assigns no one (create a new version "
                "with `campaign create --replace` to restart it)")
    if campaign.start and at.date() < _date(campaign.start, "start"):
        return f"campaign {name!r} starts on {campaign.start}; assign on or after that day (--as-of)"
    if campaign.end and at.date() > _date(campaign.end, "end"):
        return f"campaign {name!r} ended on {campaign.end}; it assigns no one after that day"
    return None


def _at(as_of: str | None) -> datetime:
    return utcnow() if as_of is None else datetime.combine(_date(as_of, "--as-of"), datetime.min.time())


def _plan(wh: Warehouse, campaign: Campaign, ids: list[str], at: datetime) -> pd.DataFrame:
    """The arm each of ``ids`` (warehouse ids, eligible, not yet assigned) would get at ``at``:
    ``customer_id, arm, propensity, context`` (context: the bandit's, as JSON; None under the split)."""
    if campaign.policy == "bandit":
        from shoplens.campaigns.bandit import choose

        return choose(wh, campaign, ids, at)
    weights = campaign.weights()
    new = pd.DataFrame({"customer_id": ids, "arm": [arm_of(c, campaign) for c in ids]})
    new["propensity"] = new["arm"].map(weights).astype(float)
    new["context"] = None
    return new


def expected_use(wh: Warehouse, campaign: Campaign, at: datetime) -> dict[str, float]:
    """The expected share of an arm's customers who use the offer (and so cost it): the arm's
    conversion rate on this campaign's windows closed before ``at`` once at least
    ``MIN_CLOSED`` have closed, otherwise 1 (every offer used: the worst case)."""
    from shoplens.campaigns.report import attribute

    out = {a.name: 1.0 for a in campaign.arms}
    if wh.con.execute("SELECT count(*) FROM campaign_assignments WHERE campaign = ?", [campaign.name]).fetchall()[0][0]:
        closed = attribute(wh, campaign, as_of=at)
        closed = closed[closed["window_closed"]]
        for arm, rows in closed.groupby("arm"):
            if arm in out and len(rows) >= MIN_CLOSED:
                out[str(arm)] = float(rows["conversion"].mean())
    return out


def budget_cut(wh: Warehouse, campaign: Campaign, planned: pd.DataFrame, at: datetime) -> tuple[pd.DataFrame, int]:
    """``planned`` up to the first customer whose offer would take the expected cost of all the
    campaign's offers over its budget, and how many were left out (that one and all after, whatever
    their arm, so the customers assigned stay a random sample of the audience)."""
    if campaign.budget is None or planned.empty:
        return planned, 0
    use = expected_use(wh, campaign, at)
    unit = {a.name: a.cost * use[a.name] for a in campaign.arms}
    assigned = wh.query("SELECT arm, count(*) AS n FROM campaign_assignments WHERE campaign = ? GROUP BY arm",
                        [campaign.name])
    committed = float(sum(unit.get(str(a), 0.0) * n for a, n in zip(assigned["arm"], assigned["n"])))
    running = committed + planned["arm"].map(unit).fillna(0.0).cumsum().to_numpy()
    over = running > campaign.budget + 1e-9
    keep = int(over.argmax()) if over.any() else len(planned)
    return planned.iloc[:keep].reset_index(drop=True), len(planned) - keep


def _record(wh: Warehouse, campaign: Campaign, new: pd.DataFrame, at: datetime) -> pd.DataFrame:
    """Store and log planned assignments (:func:`_plan`) at ``at`` with their propensities (and the
    bandit's contexts) in the decision log."""
    from shoplens.decide.log import DecisionLog

    new = new.copy()
    context = new.pop("context")
    new["assigned_at"] = pd.Timestamp(at)
    if len(new):
        new["decision_id"] = [uuid.uuid4().hex for _ in range(len(new))]
        new["campaign"], new["version"] = campaign.name, campaign.version
        with wh.transaction() as con:
            con.register("_new", new)
            con.execute("INSERT INTO campaign_assignments BY NAME SELECT * FROM _new")
            con.unregister("_new")
        DecisionLog(wh).record_many(pd.DataFrame({
            "decision_id": new["decision_id"], "occurred_at": new["assigned_at"], "customer_id": new["customer_id"],
            "action": new["arm"], "propensity": new["propensity"], "context": context.astype(object),
            "policy": policy_name(campaign.name),
            "policy_version": str(campaign.version), "decision_type": DECISION_TYPE}))
    return new


def assign_campaign(wh: Warehouse, name: str, *, as_of: str | None = None,
                    consent_default: Default = None) -> Assignment:
    """Assign the audience of campaign ``name`` (as of ``as_of``, YYYY-MM-DD; default now) to arms.

    Returns the current assignment of every audience member who may be contacted (shop ids),
    with counts: ``audience``, ``assigned`` (rows returned), ``newly_assigned``,
    ``already_assigned``, ``excluded_no_consent``, ``excluded_unknown``, ``excluded_frequency_cap``,
    ``excluded_budget`` (see :func:`budget_cut`).
    ``consent_default`` overrides the policy's answer for never-asked customers (the server passes
    the one it read at start).
    """
    campaign = get_campaign(wh, name)
    at = _at(as_of)
    why = _inactive_reason(campaign, at)
    if why:
        raise UserInputError(why)
    ensure_tables(wh)
    from shoplens.campaigns.report import post_rewards

    rewards = post_rewards(wh, name, as_of=at)  # the windows closed by now: rewards into the decision log
    members = list(dict.fromkeys(audience_members(wh, campaign.audience, at)))
    existing = wh.query("SELECT customer_id, arm, propensity, assigned_at FROM campaign_assignments "
                        "WHERE campaign = ?", [name])
    done = set(existing["customer_id"])
    # consent is asked for everyone in the audience: earlier assignees who withdrew are not handed over
    check = _check_internal(wh, members, CONSENT_ACTION, consent_default)
    allowed = set(check.allowed)
    fresh = [c for c in members if c not in done and c in allowed]
    capped = _capped(wh, campaign, fresh, at)
    fresh = [c for c in fresh if c not in capped]
    planned, over_budget = budget_cut(wh, campaign, _plan(wh, campaign, fresh, at), at)
    new = _record(wh, campaign, planned, at)
    member_set = set(members)
    current = pd.concat([existing[existing["customer_id"].isin(member_set & allowed)],
                         new[["customer_id", "arm", "propensity", "assigned_at"]]], ignore_index=True)
    current = current.sort_values(["assigned_at", "customer_id"], kind="stable").reset_index(drop=True)
    current["customer_id"] = to_external(wh, current["customer_id"].tolist())
    current = current[current["customer_id"].notna()].reset_index(drop=True)  # erased: never leaves as a pseudonym
    counts = {"audience": len(members), "assigned": len(current), "newly_assigned": len(new),
              "already_assigned": int(sum(c in done for c in members)),
              "excluded_no_consent": len(check.refused), "excluded_unknown": len(check.unknown),
              "excluded_frequency_cap": len(capped), "excluded_budget": over_budget}
    wh.con.execute("INSERT INTO campaign_runs BY NAME SELECT ? AS campaign, ? AS version, ? AS run_at, ? AS as_of, "
                   "? AS audience, ? AS assigned, ? AS newly_assigned, ? AS excluded_no_consent, "
                   "? AS excluded_unknown, ? AS excluded_frequency_cap, ? AS excluded_budget",
                   [name, campaign.version, utcnow(), at, counts["audience"], counts["assigned"],
                    counts["newly_assigned"], counts["excluded_no_consent"], counts["excluded_unknown"],
                    counts["excluded_frequency_cap"], over_budget])
    return Assignment(name, campaign.version, current, counts, rewards_posted=rewards["posted"])


def write_assignments(wh: Warehouse, result: Assignment, path: str | Path) -> Path:
    """The assignment file for the e-mail or ad tool: ``customer_id, arm, propensity, assigned_at``
    (shop ids), written owner-only and recorded for erasure."""
    from shoplens.store.files import write_export

    frame = result.rows[["customer_id", "arm", "propensity", "assigned_at"]].copy()
    frame["assigned_at"] = pd.to_datetime(frame["assigned_at"]).dt.strftime("%Y-%m-%dT%H:%M:%S")
    result.path = write_export(wh, path, frame, kind="campaign_assignments", id_column="customer_id")
    return result.path


def live_offer(wh: Warehouse, name: str, customer_id: str, *, as_of: str | None = None,
               consent_default: Default = None) -> dict[str, Any]:
    """The offer of campaign ``name`` for one customer (the shop's id), for the storefront.

    A known customer who consents to marketing and is in the audience gets their sticky arm:
    the one stored if already assigned (batch or live), otherwise the same hash the batch uses,
    stored and logged now (``newly_assigned``), so the orders that follow are attributed.
    ``arm`` is null, with a ``reason``, for a stopped (or not yet started, or ended) campaign, an
    unknown id, a customer without marketing consent, one not in the audience or over the
    frequency cap; an assigned customer in ``control`` gets ``arm`` ``control`` and ``offer`` null
    (show nothing). ``customer_id`` comes back as given.

    For example ``live_offer(wh, "winback", "12348")["arm"]`` is the arm's name, such as
    ``'free_shipping'`` (``tests/serve/test_campaigns_api.py`` runs it through the storefront route).
    """
    campaign = get_campaign(wh, name)
    at = _at(as_of)
    out: dict[str, Any] = {"campaign": name, "version": campaign.version, "customer_id": customer_id, "arm": None,
                           "offer": None, "propensity": None, "assigned_at": None, "newly_assigned": False,
                           "reason": None}
    why = _inactive_reason(campaign, at)
    if why:
        return out | {"reason": why}
    internal = to_internal(wh, [customer_id])[0]
    check = _check_internal(wh, [internal], CONSENT_ACTION, consent_default)
    if not check.allowed:
        return out | {"reason": check.reason(internal or "") or "unknown customer"}
    ensure_tables(wh)
    if internal not in set(audience_members(wh, campaign.audience, at)):
        return out | {"reason": f"not in the audience of campaign {name!r} ({campaign.audience})"}
    stored = wh.query("SELECT arm, propensity, assigned_at FROM campaign_assignments WHERE campaign = ? "
                      "AND customer_id = ? ORDER BY assigned_at LIMIT 1", [name, internal])
    if stored.empty:
        if internal in _capped(wh, campaign, [internal], at):
            return out | {"reason": f"over the frequency cap: offers from {campaign.frequency_cap} other campaign(s) "
                                    f"in the {campaign.cap_days} days before"}
        planned, over_budget = budget_cut(wh, campaign, _plan(wh, campaign, [internal], at), at)
        if over_budget:
            return out | {"reason": f"over the budget of campaign {name!r} ({campaign.budget:g}): it assigns no "
                                    "one new"}
        stored = _record(wh, campaign, planned, at)
        out["newly_assigned"] = True
    row = stored.iloc[0]
    arm = str(row["arm"])
    offer = next(({"name": a.name, "kind": a.kind, "value": a.value, "cost": a.cost}
                  for a in campaign.arms if a.name == arm), None)
    return out | {"arm": arm, "offer": offer, "propensity": float(row["propensity"]),
                  "assigned_at": pd.Timestamp(row["assigned_at"]).to_pydatetime(),
                  "reason": "control group: show no offer" if arm == CONTROL else None}
