"""Privacy and data governance: PII detection and masking, keyed pseudonyms, consent, erasure.

The Python API (the CLI and REST call the same functions)::

    from shoplens import privacy
    privacy.scan_text("我叫张伟，手机13812345678")          # [Finding(type='PERSON', ...), Finding(type='PHONE', ...)]
    privacy.mask_texts(["call 13812345678"], "mask")        # ['call *******5678']
    privacy.scan_file("chats.csv", "text")                  # [{"row": 0, "type": "PHONE", ...}]
    privacy.erase(wh, "12348"); privacy.verify(wh, "12348").clean
    privacy.register_table(wh, "campaign_targets", "member")  # erasure reaches it
    privacy.allowed(wh, ["12348", "x"], "marketing")       # ConsentCheck(allowed=[...], refused=[...], unknown=['x'])
    privacy.export_customers(wh, ["12348"], "winback")      # ExportResult(path, exported, consent)

Every public function takes and returns the shop's own customer ids; warehouse ids
(pseudonyms) stay inside (helpers taking them are private, e.g. ``consent._check_internal``).

Names are imported lazily so ``import shoplens.privacy.ids`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "PiiScanner": "detect", "Finding": "detect", "scan_text": "detect", "PII_TYPES": "detect",
    "apply_operator": "operators", "pseudonym": "operators", "mask_value": "operators",
    "scan_file": "files", "mask_file": "files", "scan_texts": "files", "mask_texts": "files",
    "erase": "erasure", "verify": "erasure", "register_table": "erasure", "audit_log": "erasure",
    "allowed": "consent", "consent_filter_sql": "consent", "consent_default": "consent",
    "ConsentCheck": "consent", "ACTIONS": "consent", "ExportResult": "export",
    "to_internal": "ids", "to_external": "ids", "export_customers": "export", "Policy": "policy",
    "raw_pii_leaks": "audit", "evaluate": "evaluate",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(f"shoplens.privacy.{_API[name]}"), name)
    raise AttributeError(f"module 'shoplens.privacy' has no attribute {name!r}")
