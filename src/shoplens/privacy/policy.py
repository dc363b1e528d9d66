"""The privacy policy: what ingest does with personal data.

Read from the ``[privacy]`` section of ``shoplens.toml`` (``settings.privacy``);
defaults protect by default::

    [privacy]
    pseudonymize_customer_id = true    # customer ids become keyed pseudonyms
    threshold = 0.5                    # PII score threshold for texts
    consent_default = {marketing = false, personalization = true}   # NULL (never asked) consent
    [privacy.columns]                  # structured PII: pseudonym | vault | mask | redact | keep
    "customers.email" = "pseudonym"
    "customers.name" = "vault"
    [privacy.text_columns]             # free text: placeholder | mask | redact | pseudonym | encrypt | keep
    "support_messages.text" = "placeholder"

>>> Policy.from_settings(None).columns["customers.name"]
'redact'
>>> p = Policy.from_settings(None)
>>> p.consent_default_for("marketing"), p.consent_default_for("personalization")
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shoplens.errors import ConfigError
from shoplens.schema import TABLES

# Out of the box, marketing is opt-in (a customer never asked is not marketed to) and
# personalisation is the shop's legitimate interest (docs/privacy.md says why).
DEFAULT_CONSENT = {"marketing": False, "personalization": True}
COLUMN_ACTIONS = ("pseudonym", "vault", "mask", "redact", "keep")
TEXT_ACTIONS = ("placeholder", "mask", "redact", "pseudonym", "encrypt", "keep")


def _default_columns() -> dict[str, str]:
    out = {}
    for t in TABLES.values():
        for c in t.columns:
            if c.pii:
                out[f"{t.name}.{c.name}"] = "pseudonym" if c.name in ("email", "phone") else "redact"
    out["events.anonymous_id"] = "pseudonym"  # a device's id: joins with itself, never readable
    return out


DEFAULT_TEXT_COLUMNS = {
    "reviews.text": "placeholder",
    "reviews.title": "placeholder",
    "support_messages.text": "placeholder",
    "events.query": "placeholder",
    # a free-text attribute (notes, tags) can hold personal data in values the column screen did not
    # sample (it reads 2,000 distinct values): each stored value is masked like a review
    "customer_attributes.value": "placeholder",
}


@dataclass
class Policy:
    """Privacy policy (see module doc)."""

    pseudonymize_customer_id: bool = True
    threshold: float = 0.5
    consent_default: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_CONSENT))
    columns: dict[str, str] = field(default_factory=_default_columns)
    text_columns: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_TEXT_COLUMNS))

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        raw: dict[str, Any] = dict(getattr(settings, "privacy", None) or {})
        p = cls()
        known = {"pseudonymize_customer_id", "threshold", "consent_default", "columns", "text_columns"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"[privacy]: unknown setting(s) {sorted(unknown)}; known: {', '.join(sorted(known))}")
        if "pseudonymize_customer_id" in raw:
            p.pseudonymize_customer_id = bool(raw["pseudonymize_customer_id"])
        if "threshold" in raw:
            t = raw["threshold"]
            if not isinstance(t, (int, float)) or not 0 <= t <= 1:
                raise ConfigError(f"[privacy] threshold must be a number between 0 and 1, not {t!r}")
            p.threshold = float(t)
        if "consent_default" in raw:
            cd = raw["consent_default"]
            if isinstance(cd, dict):
                bad = set(cd) - {"personalization", "marketing"}
                if bad:
                    raise ConfigError(f"[privacy] consent_default: unknown purpose(s) {sorted(bad)}")
                bad_values = {k: v for k, v in cd.items() if not isinstance(v, bool)}
                if bad_values:
                    raise ConfigError(f"[privacy] consent_default: use true or false, not {bad_values}")
                p.consent_default = {**DEFAULT_CONSENT, **cd}
            elif isinstance(cd, bool):
                p.consent_default = dict.fromkeys(DEFAULT_CONSENT, cd)
            else:
                raise ConfigError(f"[privacy] consent_default must be true/false or a table per purpose, not {cd!r}")
        for key, allowed, target in (("columns", COLUMN_ACTIONS, p.columns), ("text_columns", TEXT_ACTIONS, p.text_columns)):
            for col, action in (raw.get(key) or {}).items():
                table, _, column = col.partition(".")
                if table not in TABLES or column not in TABLES[table].column_names:
                    raise ConfigError(f"[privacy.{key}] {col!r} is not a canonical table.column (e.g. customers.email)")
                if action not in allowed:
                    raise ConfigError(f"[privacy.{key}] {col} = {action!r}; choose one of: {', '.join(allowed)}")
                target[col] = action
        return p

    def consent_default_for(self, purpose: str) -> bool:
        """The answer for a customer never asked about ``purpose`` (NULL consent)."""
        return self.consent_default.get(purpose, False)
