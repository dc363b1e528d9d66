"""Consent: the one place every action asks who may be marketed to or personalised for.

Two purposes, one column each in ``customers``:

- ``marketing`` (``consent_marketing``): offers, ads, campaign assignments, audience
  exports;
- ``personalization`` (``consent_personalization``): recommendations, next best
  actions, bandit decisions that use the customer's context, per-customer scores.

:data:`ACTIONS` says which purposes each action needs; :func:`_check_internal` is the
one function every action path calls (with warehouse ids), and :func:`consent_filter_sql`
is the same rule as a SQL condition for set-based paths. The rule fails closed:

- a customer whose consent column is false is refused;
- a customer whose consent is NULL (never asked, ingested without consent columns, or
  known only from their orders, events, reviews or messages) follows the policy's
  ``consent_default`` for that purpose: out of the box ``marketing = false`` (opt-in)
  and ``personalization = true`` (legitimate interest, see docs/privacy.md);
  configurable per purpose in ``[privacy]``;
- an id that is not a customer of the warehouse (in none of the tables above) is never
  allowed: it is reported as unknown.

The public function :func:`allowed` takes and returns the shop's own ids; warehouse ids
never cross it.

>>> consent_filter_sql("marketing", column="o.customer_id", default=False)
'o.customer_id IN (SELECT customer_id FROM customers WHERE coalesce(consent_marketing, FALSE))'
>>> purposes_for("offer"), purposes_for("recommendation")
(('marketing',), ('personalization',))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shoplens.errors import UserInputError
from shoplens.store.warehouse import Warehouse

Purpose = Literal["personalization", "marketing"]
COLUMNS = {"personalization": "consent_personalization", "marketing": "consent_marketing"}

# What each action shoplens takes for a customer needs (docs/privacy.md prints this table).
ACTIONS: dict[str, tuple[Purpose, ...]] = {
    "offer": ("marketing",),                 # decide choose / POST /decisions (offer, ad, coupon... decision types)
    "ad": ("marketing",),
    "campaign": ("marketing",),              # ab assign, rule tags whose action contacts the customer
    "audience_export": ("marketing",),       # export_customers, POST /segments/{id}/export
    "recommendation": ("personalization",),  # recs recommend/score, GET /recommendations
    "next_best_action": ("personalization",),
    "personalised_decision": ("personalization",),  # a bandit choosing with the customer's context
    "profile": ("personalization",),         # per-customer scores, segment members, rule tags
}
# Decision types (``decisions.decision_type``) that personalise without contacting the
# customer with an offer; every other decision type is an offer and needs marketing
# consent (fail closed: an unlisted type counts as marketing).
PERSONALISATION_ONLY_DECISIONS = frozenset({"recommendation", "ranking", "content", "layout", "price"})

# Tables whose customer ids make a customer known (the decision log is not one: it also
# records ids that were never customers).
ACTIVITY_TABLES = ("orders", "events", "reviews", "support_messages")
# Every table consent_filter_sql may read (a Transform using it declares these as inputs).
CONSENT_TABLES = ("customers", *ACTIVITY_TABLES)

Default = bool | Mapping[str, bool] | None
Need = str | Sequence[str]


def _column(purpose: str) -> str:
    try:
        return COLUMNS[purpose]
    except KeyError:
        raise UserInputError(f"unknown consent purpose {purpose!r}; choose one of: {', '.join(COLUMNS)}") from None


def purposes_for(need: Need) -> tuple[Purpose, ...]:
    """The purposes an action (see :data:`ACTIONS`), a purpose, or a list of either needs."""
    items = [need] if isinstance(need, str) else list(need)
    out: list[Purpose] = []
    for item in items:
        if item in COLUMNS:
            found: tuple[Purpose, ...] = (item,)  # type: ignore[assignment]
        elif item in ACTIONS:
            found = ACTIONS[item]
        else:
            raise UserInputError(f"unknown consent purpose or action {item!r}; choose one of: "
                                 f"{', '.join([*COLUMNS, *ACTIONS])}")
        out += [p for p in found if p not in out]
    return tuple(out)


def decision_action(decision_type: str | None) -> str:
    """The :data:`ACTIONS` entry a logged decision of ``decision_type`` is (offers unless listed)."""
    return "personalised_decision" if decision_type in PERSONALISATION_ONLY_DECISIONS else "offer"


def consent_default(purpose: str, settings: Any = None) -> bool:
    """The policy's answer for customers whose consent is NULL (never asked)."""
    from shoplens.privacy.policy import Policy

    _column(purpose)
    if settings is None:
        from shoplens.config import load_settings

        settings = load_settings()
    return Policy.from_settings(settings).consent_default_for(purpose)


def _default_for(purpose: str, default: Default) -> bool:
    if default is None:
        return consent_default(purpose)
    if isinstance(default, Mapping):
        return bool(default[purpose]) if purpose in default else consent_default(purpose)
    return bool(default)


def _granted_sql(purpose: str, default: bool) -> str:
    """The rule for a known customer, in SQL: the consent column, NULL -> the default."""
    return f"coalesce({_column(purpose)}, {'TRUE' if default else 'FALSE'})"


def consent_filter_sql(purpose: Purpose | str, column: str = "customer_id", default: Default = None) -> str:
    """A SQL condition keeping only rows whose ``column`` (warehouse id) is a customer who
    allows ``purpose`` (a purpose or an action); ids that are not customers never pass."""
    purposes = purposes_for(purpose)
    defaults = [_default_for(p, default) for p in purposes]
    conditions = " AND ".join(_granted_sql(p, d) for p, d in zip(purposes, defaults))
    granted = f"SELECT customer_id FROM customers WHERE {conditions}"
    if all(defaults):  # customers known only from their activity were never asked: the default says yes
        granted += f" UNION ALL {_activity_only_sql()}"
    return f"{column} IN ({granted})"


def _activity_only_sql() -> str:
    """Ids of customers known from their activity but without a ``customers`` row."""
    known = " UNION ".join(f"SELECT customer_id FROM {t} WHERE customer_id IS NOT NULL" for t in ACTIVITY_TABLES)
    return (f"SELECT customer_id FROM ({known}) WHERE customer_id NOT IN "
            f"(SELECT customer_id FROM customers WHERE customer_id IS NOT NULL)")


@dataclass(frozen=True)
class ConsentCheck:
    """The answer for a list of ids: who is allowed, who refused, who is not a customer.

    ``defaulted``: customers never asked (NULL consent) whose answer came from the policy
    default; they are in ``allowed`` or ``refused`` too. ``reasons`` says, for every id
    that is not allowed, why. Iterating (or ``len``) goes over ``allowed``.
    """

    purposes: tuple[str, ...]
    allowed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    defaulted: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[str]:
        return iter(self.allowed)

    def __len__(self) -> int:
        return len(self.allowed)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in set(self.allowed)

    def is_allowed(self, customer_id: str) -> bool:
        return customer_id in self

    def reason(self, customer_id: str) -> str | None:
        """Why ``customer_id`` is not allowed (None when it is)."""
        return self.reasons.get(customer_id)

    def to_dict(self) -> dict[str, Any]:
        return {"purposes": list(self.purposes), "allowed": list(self.allowed), "refused": list(self.refused),
                "unknown": list(self.unknown), "never_asked": list(self.defaulted), "reasons": dict(self.reasons)}

    def renamed(self, names: Mapping[str, str]) -> ConsentCheck:
        """The same answer with every id replaced by ``names[id]`` (warehouse ids -> shop ids);
        an id without a name becomes None (a warehouse id never leaves under its own name)."""
        def rn(ids: list[str]) -> list[str]:
            return [names.get(c) for c in ids]  # type: ignore[misc]

        return ConsentCheck(self.purposes, rn(self.allowed), rn(self.refused), rn(self.unknown), rn(self.defaulted),
                            {names[k]: v for k, v in self.reasons.items() if k in names})


def _refusal(purpose: str, value: Any) -> str:
    if value is None:
        return f"no {purpose} consent: never given ({COLUMNS[purpose]} is empty and {purpose} is opt-in)"
    return f"no {purpose} consent ({COLUMNS[purpose]} is false)"


def _check_internal(wh: Warehouse, customer_ids: Iterable[str | None], need: Need,
                    default: Default = None) -> ConsentCheck:
    """THE consent check (warehouse ids): may each customer be used for ``need`` (an
    action of :data:`ACTIONS`, a purpose, or a list of them: all are needed)?

    Every action path calls this (or :func:`consent_filter_sql`, the same rule in SQL).
    Order is kept; ids that are not customers (and None) are ``unknown``.
    """
    purposes = purposes_for(need)
    defaults = {p: _default_for(p, default) for p in purposes}
    ids = ["" if c is None else str(c) for c in customer_ids]
    # per known id: (consent values, granted flags); the flags come from _granted_sql, the
    # same expression consent_filter_sql uses, so the two can never disagree
    found: dict[str, tuple[tuple[Any, ...], tuple[bool, ...]]] = {}
    present = sorted({c for c in ids if c})
    if present:
        n = len(purposes)
        values = ", ".join(_column(p) for p in purposes)
        granted = ", ".join(_granted_sql(p, defaults[p]) for p in purposes)
        # one id (every API request): a plain equality, a fraction of the cost of the unnest join
        which = "customer_id = ?" if len(present) == 1 else "customer_id IN (SELECT unnest(?::VARCHAR[]))"
        rows = wh.con.execute(f"SELECT customer_id, {values}, {granted} FROM customers WHERE {which}",
                              [present[0] if len(present) == 1 else present]).fetchall()
        found = {r[0]: (tuple(r[1:1 + n]), tuple(bool(g) for g in r[1 + n:])) for r in rows}
        missing = [c for c in present if c not in found]
        if missing:  # known only from activity: never asked, so coalesce(NULL, default) = the default
            known = " UNION ".join(f"SELECT customer_id FROM {t} WHERE customer_id IN (SELECT unnest($1::VARCHAR[]))"
                                   for t in ACTIVITY_TABLES)
            never = ((None,) * n, tuple(defaults[p] for p in purposes))
            found |= {r[0]: never for r in wh.con.execute(known, [missing]).fetchall()}
    check = ConsentCheck(purposes)
    for cid in ids:
        if cid not in found:
            check.unknown.append(cid)
            check.reasons[cid] = "unknown customer: not in the warehouse, so no consent is on record"
            continue
        values, flags = found[cid]
        if any(v is None for v in values):
            check.defaulted.append(cid)
        refusals = [_refusal(p, v) for p, v, ok in zip(purposes, values, flags) if not ok]
        if refusals:
            check.refused.append(cid)
            check.reasons[cid] = "; ".join(refusals)
        else:
            check.allowed.append(cid)
    return check


def _allowed_internal(wh: Warehouse, customer_ids: Iterable[str | None], need: Need,
                      default: Default = None) -> list[str]:
    """The warehouse ids of :func:`_check_internal` that are allowed, order kept."""
    return _check_internal(wh, customer_ids, need, default).allowed


def allowed(wh: Warehouse, customer_ids: Iterable[str], purpose: Purpose | str,
            default: Default = None) -> ConsentCheck:
    """Which of the shop's customers (the shop's own ids) may be used for ``purpose``
    (a purpose or an action of :data:`ACTIONS`).

    Returns a :class:`ConsentCheck` over the ids as given: ``.allowed``, ``.refused``,
    ``.unknown`` (not a customer: never allowed), ``.reasons``. ``default`` overrides the
    policy's answer for never-asked customers (a bool, or one per purpose).

    >>> allowed(demo_warehouse(), ["12348", "not-a-customer"], "marketing").unknown
    ['not-a-customer']
    """
    from shoplens.privacy.ids import to_internal

    given = [str(c) for c in customer_ids]
    internal = [i or "" for i in to_internal(wh, given)]
    check = _check_internal(wh, internal, purpose, default)
    status = {c: "allowed" for c in check.allowed} | {c: "refused" for c in check.refused}
    never_asked = set(check.defaulted)
    # answered in the caller's ids (two spellings of one id, e.g. " 12348", each as given)
    pairs = list(zip(given, internal))
    return ConsentCheck(check.purposes,
                        [g for g, i in pairs if status.get(i) == "allowed"],
                        [g for g, i in pairs if status.get(i) == "refused"],
                        [g for g, i in pairs if i not in status],
                        [g for g, i in pairs if i in never_asked],
                        {g: check.reasons[i] for g, i in pairs if i in check.reasons})
