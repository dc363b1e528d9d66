"""A campaign: a stored, versioned object in the warehouse.

A campaign names its audience, its arms (offers with a cost per use), the share held out
as the control group (the arm named ``control``), the policy that splits the rest, the
goal and the attribution window, and its guardrails (marketing consent always; an
optional frequency cap across campaigns; optional start and end dates; an optional budget for
the offers' expected cost).

Every change (create, replace, stop) appends a version to the ``campaigns`` table, so a
report always says which version assigned whom (``campaign_assignments.version``).

>>> parse_arm("discount_10", 2.5)
Arm(name='discount_10', kind='discount', value=10.0, cost=2.5)
>>> parse_arm("free_shipping")
Arm(name='free_shipping', kind='free_shipping', value=None, cost=0.0)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd

from shoplens.errors import NotFoundError, UserInputError
from shoplens.store.warehouse import Warehouse, utcnow

CONTROL = "control"
GOALS = ("conversion", "revenue", "margin")
POLICIES = ("split", "bandit")
STATUSES = ("active", "stopped")
AUDIENCE_KINDS = ("all", "rfm", "segment", "rule", "sql", "file", "uplift")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

CAMPAIGNS_SQL = """CREATE TABLE IF NOT EXISTS campaigns (
    name VARCHAR, version INTEGER, status VARCHAR, spec VARCHAR, created_at TIMESTAMP)"""
ASSIGNMENTS_SQL = """CREATE TABLE IF NOT EXISTS campaign_assignments (
    campaign VARCHAR, version INTEGER, customer_id VARCHAR, arm VARCHAR, propensity DOUBLE,
    assigned_at TIMESTAMP, decision_id VARCHAR)"""
RUNS_SQL = """CREATE TABLE IF NOT EXISTS campaign_runs (
    campaign VARCHAR, version INTEGER, run_at TIMESTAMP, as_of TIMESTAMP, audience BIGINT, assigned BIGINT,
    newly_assigned BIGINT, excluded_no_consent BIGINT, excluded_unknown BIGINT, excluded_frequency_cap BIGINT,
    excluded_budget BIGINT)"""


def ensure_tables(wh: Warehouse) -> None:
    """Create the campaign tables when missing (they hold warehouse customer ids: erasure reaches them
    through their ``customer_id`` column)."""
    if wh.read_only:  # reading (a report): nothing to create; a missing table reads as no campaign
        return
    for sql in (CAMPAIGNS_SQL, ASSIGNMENTS_SQL, RUNS_SQL):
        wh.con.execute(sql)
    have = {r[0] for r in wh.con.execute("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = 'campaign_runs'").fetchall()}
    if "excluded_budget" not in have:  # a warehouse from before budgets
        wh.con.execute("ALTER TABLE campaign_runs ADD COLUMN excluded_budget BIGINT")


@dataclass(frozen=True)
class Arm:
    """An offer: ``kind`` and ``value`` read from its name (``discount_10``: a 10 % discount),
    ``cost`` per use (charged once per converting customer in the margin)."""

    name: str
    kind: str
    value: float | None = None
    cost: float = 0.0


def parse_arm(name: str, cost: float = 0.0) -> Arm:
    """An arm from its name: a trailing ``_NUMBER`` is the offer's value."""
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise UserInputError(f"arm name {name!r}: use letters, digits, '_', '-' or '.' (e.g. discount_10)")
    if name == CONTROL:
        raise UserInputError("'control' is the held-out group's name; set its share with --control, not in --arms")
    if cost < 0:
        raise UserInputError(f"the cost of arm {name!r} must not be negative")
    m = re.fullmatch(r"(.+?)_(\d+(?:\.\d+)?)", name)
    return Arm(name, m.group(1), float(m.group(2)), float(cost)) if m else Arm(name, name, None, float(cost))


@dataclass(frozen=True)
class Campaign:
    """One version of a campaign (see the module doc); :func:`create_campaign` stores it."""

    name: str
    audience: str
    arms: tuple[Arm, ...]
    control: float = 0.1
    goal: str = "conversion"
    window_days: int = 14
    policy: str = "split"
    frequency_cap: int | None = None
    cap_days: int = 30
    start: str | None = None
    end: str | None = None
    budget: float | None = None
    version: int = 1
    status: str = "active"
    created_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise UserInputError(f"campaign name {self.name!r}: use letters, digits, '_', '-' or '.' "
                                 "(at most 64, starting with a letter or digit)")
        audience_kind(self.audience)
        if not self.arms:
            raise UserInputError("a campaign needs at least one arm (--arms free_shipping,discount_10)")
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise UserInputError(f"arm names must be unique, got {', '.join(names)}")
        if not 0 < self.control < 1:
            raise UserInputError(f"--control is the share held out, strictly between 0 and 1 (e.g. 0.1), not {self.control}")
        if self.goal not in GOALS:
            raise UserInputError(f"--goal must be one of {', '.join(GOALS)}, not {self.goal!r}")
        if self.policy not in POLICIES:
            raise UserInputError(f"--policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if not 1 <= self.window_days <= 366:
            raise UserInputError(f"--window is the attribution window in days, 1 to 366, not {self.window_days}")
        if self.frequency_cap is not None and self.frequency_cap < 1:
            raise UserInputError("--frequency-cap is the most campaigns a customer may get per period, at least 1")
        if self.budget is not None and not self.budget >= 0:
            raise UserInputError(f"--budget is the most the offers may cost, in the orders' currency, not {self.budget}")
        if self.cap_days < 1:
            raise UserInputError("--cap-days must be at least 1")
        for what, value in (("--start", self.start), ("--end", self.end)):
            if value is not None:
                _date(value, what)
        if self.start and self.end and _date(self.end, "--end") < _date(self.start, "--start"):
            raise UserInputError(f"--end {self.end} is before --start {self.start}")

    @property
    def arm_names(self) -> list[str]:
        """The control first, then the offers."""
        return [CONTROL, *(a.name for a in self.arms)]

    def weights(self) -> dict[str, float]:
        """The planned share of each arm (the split policy's propensities)."""
        share = (1 - self.control) / len(self.arms)
        return {CONTROL: self.control, **{a.name: share for a in self.arms}}

    def cost(self, arm: str) -> float:
        return next((a.cost for a in self.arms if a.name == arm), 0.0)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["arms"] = [asdict(a) for a in self.arms]
        out["weights"] = self.weights()
        return out

    def spec_json(self) -> str:
        d = self.to_dict()
        for k in ("name", "version", "status", "created_at", "weights"):
            d.pop(k)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_row(cls, name: str, version: int, status: str, spec: str, created_at: datetime) -> Campaign:
        d = json.loads(spec)
        d["arms"] = tuple(Arm(**a) for a in d["arms"])
        return cls(name=name, version=int(version), status=status, created_at=created_at, **d)


def _date(value: str | date, what: str) -> date:
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserInputError(f"{what}: {value!r} is not a date; use YYYY-MM-DD") from None


def audience_kind(audience: str) -> tuple[str, str]:
    """(kind, argument) of an audience: ``all``, ``rfm:SEGMENT``, ``segment:ID``, ``rule:ID``,
    ``sql:CONDITION``, ``file:PATH`` or ``uplift:CAMPAIGN:FRACTION``.

    >>> audience_kind("rfm:At Risk")
    ('rfm', 'At Risk')
    """
    kind, _, arg = audience.partition(":")
    kind = kind.strip().lower()
    if kind == "all" and not arg:
        return "all", ""
    if kind not in AUDIENCE_KINDS or not arg.strip():
        raise UserInputError(f"--audience {audience!r}: use all, rfm:SEGMENT, segment:ID, rule:ID, sql:CONDITION, "
                             "file:PATH or uplift:CAMPAIGN:FRACTION")
    return kind, arg.strip()


def create_campaign(wh: Warehouse, campaign: Campaign, *, replace: bool = False) -> Campaign:
    """Store ``campaign`` as version 1, or, with ``replace``, as the next version of an existing one."""
    ensure_tables(wh)
    latest = _latest_version(wh, campaign.name)
    if latest and not replace:
        raise UserInputError(f"campaign {campaign.name!r} exists (version {latest}); pass --replace to store a new "
                             "version (customers already assigned keep their arm)")
    return _append(wh, campaign, latest + 1, "active")


def stop_campaign(wh: Warehouse, name: str) -> Campaign:
    """Stop a campaign: a new version with status ``stopped``; it assigns no one any more."""
    current = get_campaign(wh, name)
    if current.status == "stopped":
        return current
    return _append(wh, current, current.version + 1, "stopped")


def _append(wh: Warehouse, campaign: Campaign, version: int, status: str) -> Campaign:
    now = utcnow()
    wh.con.execute("INSERT INTO campaigns VALUES (?, ?, ?, ?, ?)",
                   [campaign.name, version, status, campaign.spec_json(), now])
    return Campaign.from_row(campaign.name, version, status, campaign.spec_json(), now)


def _latest_version(wh: Warehouse, name: str) -> int:
    rows = wh.con.execute("SELECT max(version) FROM campaigns WHERE name = ?", [name]).fetchall()
    return int(rows[0][0] or 0)


def get_campaign(wh: Warehouse, name: str, version: int | None = None) -> Campaign:
    """The latest version of campaign ``name`` (or the given version)."""
    if not wh.has_table("campaigns"):
        raise NotFoundError(f"no campaign {name!r}: create one with `shoplens campaign create`")
    sql = "SELECT name, version, status, spec, created_at FROM campaigns WHERE name = ?"
    params: list[Any] = [name]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    rows = wh.con.execute(sql + " ORDER BY version DESC LIMIT 1", params).fetchall()
    if not rows:
        known = list_campaigns(wh)["name"].tolist()
        hint = f"; campaigns: {', '.join(known)}" if known else ": create one with `shoplens campaign create`"
        raise NotFoundError(f"no campaign {name!r}" + (f" version {version}" if version else "") + hint)
    return Campaign.from_row(*rows[0])


def list_campaigns(wh: Warehouse) -> pd.DataFrame:
    """One row per campaign (its latest version) with how many customers it assigned."""
    if not wh.has_table("campaigns"):
        return pd.DataFrame(columns=["name", "version", "status", "goal", "audience", "arms", "assigned", "created_at"])
    ensure_tables(wh)
    frame = wh.query("""
        SELECT c.name, c.version, c.status, c.spec, c.created_at, coalesce(a.n, 0) AS assigned
        FROM campaigns c JOIN (SELECT name, max(version) AS version FROM campaigns GROUP BY name) l USING (name, version)
        LEFT JOIN (SELECT campaign, count(*) AS n FROM campaign_assignments GROUP BY campaign) a ON a.campaign = c.name
        ORDER BY c.created_at, c.name""")
    specs = [json.loads(s) for s in frame.pop("spec")]
    frame.insert(3, "goal", [s["goal"] for s in specs])
    frame.insert(4, "audience", [s["audience"] for s in specs])
    frame.insert(5, "arms", [",".join([CONTROL, *(a["name"] for a in s["arms"])]) for s in specs])
    return frame


def versions(wh: Warehouse, name: str) -> list[dict[str, Any]]:
    """Every version of a campaign, oldest first."""
    get_campaign(wh, name)
    rows = wh.con.execute("SELECT version, status, created_at FROM campaigns WHERE name = ? ORDER BY version",
                          [name]).fetchall()
    return [{"version": v, "status": s, "created_at": t} for v, s, t in rows]


def campaign_runs(wh: Warehouse, name: str) -> pd.DataFrame:
    """The assignment runs of campaign ``name``, oldest first (counts only, no customer ids)."""
    get_campaign(wh, name)
    ensure_tables(wh)
    return wh.query("SELECT * EXCLUDE (campaign) FROM campaign_runs WHERE campaign = ? ORDER BY run_at", [name])


def campaign_detail(wh: Warehouse, name: str) -> dict[str, Any]:
    """A campaign's latest version with its version history and its assignment runs (what
    ``campaign show --json`` and ``GET /api/v1/campaigns/{name}`` answer)."""
    from shoplens.jsonsafe import records

    campaign = get_campaign(wh, name)
    return {**campaign.to_dict(), "versions": versions(wh, name), "runs": records(campaign_runs(wh, name))}
