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


def test_the_shops_own_currency_labels_every_output(tmp_wh, tmp_path):
    """Set with `shop set`, the shop's currency wins over what its orders state: KPIs (CLI overview,
    API, dashboard), the report, the summary and product pages (was: the orders' currency only)."""
    from shoplens.ingest import ingest
    from shoplens.insights.overview import kpis
    from shoplens.insights.shop_report import build_shop_report, shop_currency
    from shoplens.insights.summary import shop_summary

    (tmp_path / "o.csv").write_text("order_id,customer_id,ordered_at,total_amount,currency\n"
                                    "O1,c1,2024-01-05,12.5,GBP\nO2,c2,2024-02-05,20,GBP\n")
    ingest(tmp_wh, [tmp_path / "o.csv"], table="orders", privacy="off")
    assert kpis(tmp_wh)["currency"] == shop_currency(tmp_wh) == "GBP"  # unset: what the orders state
    set_shop(tmp_wh, currency="usd")
    assert kpis(tmp_wh)["currency"] == shop_currency(tmp_wh) == "USD"
    assert shop_summary(tmp_wh).currency == "USD"
    html = build_shop_report(tmp_wh).to_html()
    assert "US$32.50" in html and "£" not in html and "GBP" not in html
