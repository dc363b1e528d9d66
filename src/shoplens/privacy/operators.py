"""Masking operators applied to PII values and to findings in texts.

- ``placeholder``: ``<PHONE>``;
- ``mask``: keep the last 4 letters/digits (none for values shorter than 8), the rest becomes ``*``;
- ``redact``: remove the value;
- ``pseudonym``: keyed HMAC-SHA256 token (same value -> same token, so joins work);
- ``encrypt``: AES-GCM ciphertext into the vault; the text keeps a ``<TYPE:token>``.

Pseudonyms can also be computed inside DuckDB (:func:`pseudonym_sql`), set-based,
with the same result as :func:`pseudonym`.

>>> mask_value("13812345678")
'*******5678'
>>> apply_operator("call 13812345678", [Finding("PHONE", 5, 16, 0.9, "r")], "placeholder")
'call <PHONE>'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Literal

from shoplens.errors import UserInputError
from shoplens.privacy.detect import Finding
from shoplens.privacy.keys import derive_key

Operator = Literal["placeholder", "mask", "redact", "pseudonym", "encrypt"]
OPERATORS = ("placeholder", "mask", "redact", "pseudonym", "encrypt")
TOKEN_HEX = 20  # 80 bits: collisions negligible below ~10^11 distinct values


def check_operator(operator: str) -> str:
    if operator not in OPERATORS:
        raise UserInputError(f"unknown operator {operator!r}; choose one of: {', '.join(OPERATORS)}")
    return operator


def pseudonym(value: str, secret: bytes, prefix: str = "p") -> str:
    """Keyed pseudonym of ``value`` (HMAC-SHA256 with the shop secret's pseudonym key)."""
    key = derive_key(secret, "pseudonym")
    return prefix + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def pseudonym_sql(expr: str, secret: bytes, prefix: str = "p") -> str:
    """The same pseudonym as :func:`pseudonym`, as a DuckDB SQL expression over ``expr``.

    HMAC is spelled out with ``sha256`` on blobs (ipad/opad), so it runs set-based
    inside the database; NULL stays NULL.
    """
    key = derive_key(secret, "pseudonym").ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    inner = f"unhex(sha256(unhex('{ipad}') || encode(CAST({expr} AS VARCHAR))))"
    return f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE '{prefix}' || left(sha256(unhex('{opad}') || {inner}), {TOKEN_HEX}) END"


def mask_value(value: str, keep: int = 4) -> str:
    """Replace every letter/digit except the last ``keep`` with ``*``; separators stay.

    Values with fewer than ``2 * keep`` letters/digits (a name like 张伟) are masked
    completely: keeping 4 of them would reveal most of the value.

    >>> mask_value("张伟")
    '**'
    """
    chars = list(value)
    alnum = [i for i, c in enumerate(chars) if c.isalnum()]
    if len(alnum) < 2 * keep:
        keep = 0
    for i in alnum[: max(len(alnum) - keep, 0)]:
        chars[i] = "*"
    return "".join(chars)


def apply_operator(
    text: str,
    findings: Sequence[Finding],
    operator: str = "placeholder",
    *,
    secret: bytes | None = None,
    encrypt: Callable[[str, str], str] | None = None,
) -> str:
    """``text`` with each finding replaced by ``operator`` (findings must not overlap)."""
    check_operator(operator)
    if not findings:
        return text
    if operator == "pseudonym" and secret is None:
        raise UserInputError("the pseudonym operator needs the shop secret (SHOPLENS_SECRET or secret_file)")
    if operator == "encrypt" and encrypt is None:
        raise UserInputError("the encrypt operator needs a vault (mask inside a warehouse)")
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: f.start):
        out.append(text[pos:f.start])
        value = text[f.start:f.end]
        if operator == "placeholder":
            out.append(f"<{f.type}>")
        elif operator == "mask":
            out.append(mask_value(value))
        elif operator == "pseudonym":
            out.append(f"<{f.type}:{pseudonym(value, secret, prefix='')}>")  # type: ignore[arg-type]
        elif operator == "encrypt":
            out.append(f"<{f.type}:{encrypt(value, f.type)}>")  # type: ignore[misc]
        pos = f.end
    out.append(text[pos:])
    return "".join(out)
