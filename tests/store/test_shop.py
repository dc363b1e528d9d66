"""The shop's settings: stored in the warehouse, validated, shown, and used for local time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shoplens.errors import UserInputError
from shoplens.store.shop import ShopSettings, read_shop, set_shop
from shoplens.store.warehouse import Warehouse


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shoplens.cli", *args], capture_output=True, text=True, check=False)


def test_defaults_before_anything_is_set(tmp_wh):
    assert read_shop(tmp_wh) == ShopSettings(name=None, currency=None, timezone="UTC", locale=None)


def test_set_keeps_what_is_not_given_and_survives_reopening(tmp_path):
    with Warehouse(tmp_path / "w.duckdb") as wh:
        set_shop(wh, name="  Corner   Grocer ", currency="usd", timezone="America/New_York")
        set_shop(wh, locale="ZH")
    with Warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert read_shop(wh) == ShopSettings("Corner Grocer", "USD", "America/New_York", "zh")


@pytest.mark.parametrize("kwargs, message", [
    ({"currency": "XYZ"}, "not an ISO 4217 currency code"),
    ({"currency": "dollars"}, "not an ISO 4217 currency code"),
    ({"timezone": "Mars/Base"}, "not an IANA time zone"),
    ({"timezone": "EST5EDT "}, None),
    ({"locale": "fr"}, "--locale must be one of en, zh"),
    ({"name": "  "}, "--name must not be empty"),
    ({}, "nothing to set"),
])
def test_mistakes_are_one_clear_line(tmp_wh, kwargs, message):
    if message is None:
        assert set_shop(tmp_wh, **kwargs).timezone == "EST5EDT"
        return
    with pytest.raises(UserInputError, match=message):
        set_shop(tmp_wh, **kwargs)
    assert read_shop(tmp_wh) == ShopSettings()


def test_cli_set_and_show(tmp_path):
    wh = str(tmp_path / "w.duckdb")
    shown = _cli("--warehouse", wh, "shop", "set", "--name", "[bold]Shop", "--currency", "cny", "--timezone",
                 "Asia/Shanghai", "--locale", "zh")
    assert shown.returncode == 0, shown.stderr
    assert "[bold]Shop" in shown.stdout and "Asia/Shanghai" in shown.stdout  # names are text, never markup
    out = _cli("--warehouse", wh, "shop", "show", "--json")
    assert json.loads(out.stdout) == {"name": "[bold]Shop", "currency": "CNY", "timezone": "Asia/Shanghai",
                                      "locale": "zh"}
    bad = _cli("--warehouse", wh, "shop", "set", "--timezone", "Beijing")
    assert bad.returncode == 2 and "not an IANA time zone" in bad.stderr and "Traceback" not in bad.stderr
