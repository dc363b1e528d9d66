"""The dashboard's Behaviour page in a real browser: the empty state in words, then, with events,
the funnel chart, the retention heatmap, the sessions summary and the live counters, in English
and Chinese, without console errors."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.serve.app import create_app
from shoplens.serve.keys import KeyStore
from shoplens.serve.settings import ServeSettings

from tests.serve.test_browser import DEMO_SECRET, browser, console_errors, pytestmark, serving, wait_ready  # noqa: F401
from tests.serve.test_behaviour import EVENTS


@pytest.fixture()
def served_page(demo_warehouse_path: Path, tmp_path: Path):

    path = tmp_path / "w" / "warehouse.duckdb"
    path.parent.mkdir()
    shutil.copy(demo_warehouse_path, path)
    key = KeyStore.for_warehouse(path).create("analyst")
    app = create_app(Settings(warehouse=path, secret=DEMO_SECRET), ServeSettings(allow_weak_secret=True))
    with serving(app) as base:
        yield base, key, app


def marks(driver, selector: str) -> int:
    return driver.execute_script(f"return document.querySelectorAll({selector!r}).length")


def test_behaviour_page(served_page, browser, tmp_path):  # noqa: F811 (the imported fixture)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, key, app = served_page
    driver = browser
    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('shoplens.key', arguments[0]); localStorage.setItem('shoplens.lang', 'en')", key)
    driver.get(base + "/#behaviour")
    wait_ready(driver, "behaviour")
    empty = driver.find_element(By.ID, "no-events").text
    assert "No behaviour events yet" in empty and "shoplens ingest events" in empty
    assert "5m" in driver.find_element(By.ID, "page").text  # the live counters, at zero

    app.state.warehouse.con.execute(EVENTS)
    driver.refresh()
    wait_ready(driver, "behaviour")
    time.sleep(0.5)  # let Plotly draw
    assert not driver.find_elements(By.ID, "no-events")
    assert marks(driver, ".funnellayer .trace path") >= 3      # one bar per step
    assert marks(driver, ".heatmaplayer image") == 1
    text = driver.find_element(By.ID, "page").text
    assert "bounce rate" in text and "Funnel" in text and "Live" in text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#session-kpis .kpi")) == 4
    driver.save_screenshot(str(tmp_path / "behaviour.png"))
    assert console_errors(driver) == []

    # the funnel broken down by channel: one bar per step and channel, and each group's counts
    # (a's counted attempt starts on the web; b viewed in the app and carted two days later, outside the window)
    Select(driver.find_element(By.ID, "funnel-by")).select_by_value("channel")
    for _ in range(50):
        if driver.find_elements(By.CSS_SELECTOR, "#funnel-breakdown table"):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let Plotly draw
    rows = [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#funnel-breakdown tbody tr")]
    assert rows == ["app 1 0 0 0.0 %", "web 1 1 1 100.0 %"]  # equal groups: by value
    assert marks(driver, "#funnel-breakdown .barlayer .trace") == 2      # one trace per channel
    Select(driver.find_element(By.ID, "funnel-by")).select_by_value("segment")  # not computed here: said so
    for _ in range(50):
        if "customers segments" in driver.find_element(By.ID, "funnel-breakdown").text:
            break
        time.sleep(0.1)
    assert "shoplens customers segments" in driver.find_element(By.ID, "funnel-breakdown").text
    Select(driver.find_element(By.ID, "funnel-by")).select_by_value("")
    assert [e for e in console_errors(driver) if "by=segment" not in e] == []  # the browser logs the 409 itself

    Select(driver.find_element(By.ID, "lang")).select_by_value("zh")
    time.sleep(0.5)
    wait_ready(driver, "behaviour")
    assert "跳出率" in driver.find_element(By.ID, "page").text and driver.find_element(By.ID, "nav-behaviour").text == "用户行为"
    assert console_errors(driver) == []
