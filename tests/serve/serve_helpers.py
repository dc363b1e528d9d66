"""Helpers shared by the serving tests."""

from __future__ import annotations

STRONG_SECRET = "Qm8v-3kZr_T1xw9LpY2nB7cJd0fHs5aE4gUi6oVt"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
