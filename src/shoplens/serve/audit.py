"""The server's access audit log; kept in :mod:`shoplens.privacy.access_log` because
erasure (a lower layer than serving) records its events in the same chain.

>>> from shoplens.serve.audit import AuditLog, verify_chain
>>> AuditLog.__module__
'shoplens.privacy.access_log'
"""

from __future__ import annotations

from shoplens.privacy.access_log import GENESIS, AuditLog, verify_chain

__all__ = ["GENESIS", "AuditLog", "verify_chain"]
