"""The dashboard's Alerts page in headless Chromium: an empty state in words, then each alert with its
message, when it was found and its evidence; English and Chinese; no console errors; screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.serve.app import create_app
from shoplens.serve.keys import KeyStore
from shoplens.serve.settings import ServeSettings
from shoplens.services import check_alerts

from tests.serve.test_browser import DEMO_SECRET, browser, console_errors, pytestmark, serving, wait_ready  # noqa: F401


@pytest.fixture()
def live(demo_warehouse_path: Path, tmp_path: Path):
    """(base url, viewer key, the app) of a live server over a copy of the demo warehouse."""
    import shutil


    path = tmp_path / "w" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_warehouse_path, path)
    key = KeyStore.for_warehouse(path).create("viewer")
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    app = create_app(settings, ServeSettings(allow_weak_secret=True))
    with serving(app) as base:
        yield base, key, app, settings


def test_the_alerts_page(live, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from shoplens.serve.deps import warehouse_cursor

    base, key, app, settings = live
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver = browser
    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('shoplens.key', arguments[0]); localStorage.setItem('shoplens.lang', 'en');", key)
    driver.get(base + "/#alerts")
    wait_ready(driver, "alerts")
    assert "shoplens alerts check" in driver.find_element(By.ID, "alerts-none").text
    driver.save_screenshot(str(shots / "alerts-empty.png"))

    with warehouse_cursor(app.state.warehouse) as wh:  # through the server's own connection (the one writer)
        wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                       "AND hash(order_id) % 5 <> 0")
        new = check_alerts(settings, wh)["new"]
    driver.refresh()
    wait_ready(driver, "alerts")
    cards = driver.find_elements(By.CSS_SELECTOR, "#alerts .alert")
    assert len(cards) == len(new) > 0
    text = driver.find_element(By.ID, "alerts").text
    assert "Net revenue fell beyond its usual range" in text and "UTC" in text and "KPI drop" in text
    driver.find_element(By.CSS_SELECTOR, "#alerts .alert-critical details summary").click()
    assert "usual_range" in driver.find_element(By.CSS_SELECTOR, "#alerts .alert-critical details").text
    driver.save_screenshot(str(shots / "alerts.png"))

    Select(driver.find_element(By.ID, "lang")).select_by_value("zh")
    wait_ready(driver, "alerts")
    assert driver.find_element(By.ID, "nav-alerts").text == "告警" and "指标下降" in driver.find_element(By.ID, "alerts").text
    zh = driver.find_element(By.ID, "alerts").text  # the alerts' own words in Chinese, not only the page's
    assert "净收入下降超出正常范围" in zh and "Net revenue fell" not in zh and "beyond its usual range" not in zh
    driver.save_screenshot(str(shots / "alerts-zh.png"))
    assert console_errors(driver) == []
    assert len(list(shots.glob("*.png"))) == 3
