"""The dashboard's Campaigns page in headless Chromium: an empty state in words, then the list and a
campaign's report with its one-sentence verdict above the numbers; English and Chinese; no console
errors; screenshots."""

from __future__ import annotations

from datetime import timedelta

from tests.serve.test_browser import browser, console_errors, pytestmark, wait_ready  # noqa: F401
from tests.serve.test_browser_alerts import live  # noqa: F401


def test_the_campaigns_page(live, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from shoplens.campaigns.assign import assign_campaign
    from shoplens.campaigns.campaign import Campaign, create_campaign, parse_arm
    from shoplens.campaigns.report import campaign_report, data_until
    from shoplens.serve.deps import warehouse_cursor

    base, key, app, settings = live
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver = browser
    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('shoplens.key', arguments[0]); localStorage.setItem('shoplens.lang', 'en');", key)
    driver.get(base + "/#campaigns")
    wait_ready(driver, "campaigns")
    assert "shoplens campaign create" in driver.find_element(By.ID, "campaigns-none").text
    driver.save_screenshot(str(shots / "campaigns-empty.png"))

    with warehouse_cursor(app.state.warehouse) as wh:  # through the server's own connection (the one writer)
        as_of = f"{data_until(wh) - timedelta(days=60):%Y-%m-%d}"  # windows that have closed
        create_campaign(wh, Campaign("winback", "all", (parse_arm("discount_10", 2.0),), control=0.3,
                                     goal="conversion", window_days=30))
        assign_campaign(wh, "winback", as_of=as_of)
        expected = campaign_report(wh, "winback")
    driver.refresh()
    wait_ready(driver, "campaigns")
    driver.find_element(By.ID, "campaign-verdict")  # the report is drawn after the list
    verdict = driver.find_element(By.ID, "campaign-verdict").text
    assert verdict and verdict == expected["conclusion"]["en"]
    assert "split matches the plan" in driver.find_element(By.ID, "campaign-srm").text or expected["srm"]["alarm"]
    report = driver.find_element(By.ID, "campaign-report").text
    assert "discount_10" in report and "control" in report
    driver.save_screenshot(str(shots / "campaigns.png"))

    Select(driver.find_element(By.ID, "lang")).select_by_value("zh")
    wait_ready(driver, "campaigns")
    driver.find_element(By.ID, "campaign-verdict")
    assert driver.find_element(By.ID, "nav-campaigns").text == "营销活动"
    assert driver.find_element(By.ID, "campaign-verdict").text == expected["conclusion"]["zh"]
    driver.save_screenshot(str(shots / "campaigns-zh.png"))
    assert console_errors(driver) == []
    assert len(list(shots.glob("*.png"))) == 3
