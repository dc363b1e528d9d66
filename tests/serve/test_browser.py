"""The dashboard in a real browser (Debian's headless Chromium driven by Selenium): log in with a key,
every page loads with data, charts render, no console errors, one screenshot per page."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.serve.app import create_app
from shoplens.serve.keys import KeyStore
from shoplens.serve.settings import ServeSettings

from tests.serve.serve_helpers import copy_with_models

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="Chromium is not installed (apt-get install -y chromium chromium-driver; .ci/run does this)",
)
DEMO_SECRET = "test-secret-key-for-the-demo-suite-0123456789"
# safety net only, never a speed check: a page that never loads or never gets ready is the
# failure; on a loaded machine a page may take many times longer than alone
HANG = 600
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]


@pytest.fixture(scope="module")
def dashboard(customers_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """(base url, viewer key, a customer id) of a live server over the demo warehouse with results."""

    from shoplens.decide.log import Decider
    from shoplens.decide.policies import make_policy
    from shoplens.monitor.drift import check_drift
    from shoplens.privacy.ids import to_external
    from shoplens.store.registry import ModelRegistry
    from shoplens.store.warehouse import Warehouse

    path = tmp_path_factory.mktemp("browser") / "warehouse.duckdb"
    copy_with_models(customers_warehouse_path, path)
    with Warehouse(path) as wh:
        check_drift(wh)
        policy = make_policy("bernoulli-ts", seed=1)
        ModelRegistry(wh).register("offers", policy, kind="bernoulli-ts")
        decider = Decider(wh, policy, name="offers")
        for i in range(40):
            slot = decider.decide(None, None, ["free-shipping", "ten-off", "gift"])[0]
            decider.log.log_reward(slot["decision_id"], float(slot["action"] == "ten-off" or i % 3 == 0))
        internal = wh.con.execute("SELECT customer_id FROM customer_segments s JOIN customers c USING (customer_id) "
                                  "WHERE c.consent_personalization ORDER BY 1 LIMIT 1").fetchone()[0]
        customer = to_external(wh, [internal])[0]
        product = wh.con.execute("SELECT antecedent FROM association_rules ORDER BY lift DESC LIMIT 1").fetchone()[0]
    key = KeyStore.for_warehouse(path).create("analyst")
    app = create_app(Settings(warehouse=path, secret=DEMO_SECRET), ServeSettings(allow_weak_secret=True))
    with serving(app) as base:
        yield base, key, customer, product


@contextmanager
def serving(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """``app`` served by uvicorn on a free local port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(HANG)
    yield driver
    driver.quit()


def console_errors(driver, allowed: tuple[str, ...] = ()) -> list[str]:
    logs = driver.get_log("browser")
    return [e["message"] for e in logs if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]


def wait_ready(driver, page: str, timeout: float = HANG) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC  # noqa: N812
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#page[data-state="ready"][data-page="{page}"]')))


def rendered_charts(driver) -> int:
    """Plotly charts that drew at least one data mark (bars or lines)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].filter("
        "p => p.querySelectorAll('.bars path, .scatterlayer .trace path').length > 0).length")


def raw_headers(driver) -> list[str]:
    """Table headers and chart titles that are raw field names (snake_case)."""
    return [h for h in driver.execute_script(
        "return [...document.querySelectorAll('#page th, #page h2')].map(e => e.textContent)") if "_" in h]


def chrome_text(driver) -> str:
    """The page's own words (titles, headers, labels, sentences), not the shop's data (names, ids)."""
    return " ".join(driver.execute_script(
        "return [...document.querySelectorAll('nav a, #page h1, #page h2, #page h3, #page th, #page dt, #page .label, "
        "#page .period, #page .empty, #page .notice')].map(e => e.textContent)"))


def latin_share(driver) -> float:
    """Share of Latin letters among the letters of the page's own words, commands in backticks and
    units (PSI, RFM, CLV, API) left out."""
    import re

    text = re.sub(r"`[^`]*`|\b(PSI|RFM|CLV|API|id|[A-Z]{3})\b", " ", chrome_text(driver))  # units, currency codes
    latin = len(re.findall(r"[A-Za-z]", text))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return latin / max(1, latin + cjk)


def open_page(driver, base: str, page: str, shots: Path) -> None:
    driver.get(f"{base}/#{page}")
    wait_ready(driver, page)
    time.sleep(0.3)  # let Plotly finish drawing before the screenshot
    suffix = "-zh" if driver.execute_script("return document.documentElement.lang") == "zh-CN" else ""
    driver.save_screenshot(str(shots / f"{page}{suffix}.png"))


def test_dashboard_pages(dashboard, browser, tmp_path):
    from selenium.webdriver.common.by import By

    base, key, customer, product = dashboard
    driver = browser
    driver.get(base + "/")
    assert driver.find_element(By.ID, "login").is_displayed()
    driver.find_element(By.ID, "api-key").send_keys("slk_wrong_key")
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    time.sleep(0.5)
    assert "refused" in driver.find_element(By.ID, "login-error").text
    driver.get_log("browser")  # the refused login's 401 is expected
    driver.find_element(By.ID, "api-key").clear()
    driver.find_element(By.ID, "api-key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_ready(driver, "overview")

    shots = tmp_path / "screenshots"
    shots.mkdir()
    open_page(driver, base, "overview", shots)
    assert len(driver.find_elements(By.CSS_SELECTOR, "#kpis .kpi")) == 7
    assert "£" in driver.find_element(By.ID, "kpis").text and ".00" not in driver.find_element(By.ID, "kpis").text
    summary = driver.find_element(By.ID, "summary").text
    assert "Last 30 days" in summary and "What changed" in summary and "What to do" in summary
    assert rendered_charts(driver) == 4  # what changed, why, revenue by month, by category
    assert raw_headers(driver) == []

    open_page(driver, base, "segments", shots)
    assert rendered_charts(driver) == 2
    ticks = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "#page .xtick text")]
    assert ticks and all(t.endswith("customers") or " customers " in t for t in ticks if t)  # names, not ids
    assert "customers" in driver.find_element(By.CSS_SELECTOR, "#page table").text.lower()
    assert raw_headers(driver) == []

    open_page(driver, base, "customer", shots)
    driver.find_element(By.ID, "customer-id").send_keys(customer)
    driver.find_element(By.CSS_SELECTOR, "#customer-form button").click()
    for _ in range(100):
        if driver.find_elements(By.CSS_SELECTOR, "#customer-out .card"):
            break
        time.sleep(0.1)
    time.sleep(0.3)
    driver.save_screenshot(str(shots / "customer.png"))
    text = driver.find_element(By.ID, "customer-out").text
    assert customer in text and "***" in text  # masked personal data
    assert "segment_name" not in text and "Segment" in text and "Churn risk and why" in text and "days" in text
    assert [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#customer-out h2")].count("Profile") == 0
    assert rendered_charts(driver) == 1 and raw_headers(driver) == []

    open_page(driver, base, "experiments", shots)
    assert rendered_charts(driver) == 1 and "ten-off" in driver.find_element(By.ID, "page").text

    open_page(driver, base, "quality", shots)
    assert rendered_charts(driver) >= 1  # drift PSI bars (no rows were quarantined in the demo)
    assert "order_value" in driver.find_element(By.ID, "page").text
    assert "Nothing quarantined since" in driver.find_element(By.ID, "page").text  # an empty state in words
    assert raw_headers(driver) == []
    assert console_errors(driver) == []

    open_page(driver, base, "recs", shots)
    driver.find_element(By.ID, "recs-customer").send_keys(customer)
    driver.find_element(By.ID, "recs-product").send_keys(product)
    driver.find_element(By.CSS_SELECTOR, "#recs-form button").click()
    for _ in range(100):
        if len(driver.find_elements(By.CSS_SELECTOR, "#recs-out .card")) >= 4:
            break
        time.sleep(0.1)
    time.sleep(0.3)
    driver.save_screenshot(str(shots / "recs.png"))
    out = driver.find_element(By.ID, "recs-out").text
    assert "recs" in out or "1" in out
    assert rendered_charts(driver) == 1 and len(driver.find_elements(By.CSS_SELECTOR, "#recs-out table")) == 3
    assert console_errors(driver) == []

    open_page(driver, base, "reviews", shots)
    assert rendered_charts(driver) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#page .complaint blockquote")) >= 3  # quotes
    assert console_errors(driver) == []

    # Chinese
    from selenium.webdriver.support.ui import Select

    driver.get(f"{base}/#overview")
    wait_ready(driver, "overview")
    Select(driver.find_element(By.ID, "lang")).select_by_value("zh")
    time.sleep(0.5)
    wait_ready(driver, "overview")
    assert driver.find_element(By.ID, "nav-overview").text == "概览"
    assert "净收入" in driver.find_element(By.ID, "kpis").text
    time.sleep(0.3)
    driver.save_screenshot(str(shots / "overview-zh.png"))
    assert "最近 30 天" in driver.find_element(By.ID, "summary").text
    for page in ("overview", "segments", "quality", "experiments"):
        if page != "overview":
            open_page(driver, base, page, shots)
        assert latin_share(driver) < 0.1, (page, chrome_text(driver))
    assert console_errors(driver) == []
    assert len(list(shots.glob("*.png"))) == 11


def test_api_docs_render_offline(dashboard, browser, tmp_path):
    """/api/v1/docs draws its operations from locally served Swagger UI assets, with the server's CSP
    (no inline script, no CDN) and no console errors."""
    from selenium.webdriver.common.by import By

    base = dashboard[0]
    driver = browser
    driver.get_log("browser")
    driver.get(f"{base}/api/v1/docs")
    for _ in range(HANG * 10):
        if driver.find_elements(By.CSS_SELECTOR, ".opblock"):
            break
        time.sleep(0.1)
    driver.save_screenshot(str(tmp_path / "api-docs.png"))
    operations = driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    paths = {o.get_attribute("data-path") or o.text for o in operations}
    assert len(operations) >= 10 and any("/customers/" in p for p in paths)
    sources = driver.execute_script("return [...document.scripts].map(s => s.src)")
    assert sources and all(s.startswith(base + "/assets/") for s in sources)  # no CDN, no inline script
    assert console_errors(driver) == []


def test_drill_downs_and_metric_tooltips(dashboard, browser, tmp_path):
    """A click on a category bar opens its products, a product its page (sales, reviews), a segment bar its
    customers and a customer id the profile; every KPI and chart metric explains itself in its tooltip
    (the definition of shoplens.metrics), in English and Chinese."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from shoplens.metrics import metric_tooltips

    base, key, customer, product = dashboard
    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('shoplens.key', arguments[0]); localStorage.setItem('shoplens.lang', 'en');", key)
    driver.get(base + "/#overview")
    driver.refresh()
    wait_ready(driver, "overview")
    driver.get_log("browser")
    en = metric_tooltips("en")
    kpis = {k.get_attribute("data-metric"): k.get_attribute("title") for k in driver.find_elements(By.CSS_SELECTOR, "#kpis .kpi[data-metric]")}
    assert kpis == {k: en[k] for k in ("customers", "orders", "revenue", "average_order_value", "repeat_purchase_rate", "cancellations")}
    titles = [h.get_attribute("title") for h in driver.find_elements(By.CSS_SELECTOR, "#page .card[data-metric='revenue'] h2")]
    assert len(titles) >= 3 and set(titles) == {en["revenue"]}  # why, by month, by category
    assert driver.find_element(By.CSS_SELECTOR, "#summary strong[data-metric='complaints']").get_attribute("title") == en["complaints"]

    # overview -> a category (click its bar) -> a product (click its name)
    time.sleep(0.5)
    bars = driver.find_elements(By.CSS_SELECTOR, "#page .chart.drillable .bars path")
    category_chart = [b for b in bars if b.find_element(By.XPATH, "ancestor::div[contains(@class,'card')]").find_element(
        By.TAG_NAME, "h2").text.startswith("Revenue by category")]
    ActionChains(driver).move_to_element(category_chart[0]).click().perform()
    wait_ready(driver, "category")
    top_category = driver.execute_script("return decodeURIComponent(location.hash.split('/')[1])")
    assert driver.find_element(By.ID, "category-name").text == top_category
    assert rendered_charts(driver) == 1 and raw_headers(driver) == []
    driver.save_screenshot(str(shots / "category.png"))
    first = driver.find_element(By.CSS_SELECTOR, "#page table a.drill")
    name = first.text
    first.click()
    wait_ready(driver, "product")
    assert driver.find_element(By.ID, "product-name").text == name
    assert driver.find_element(By.LINK_TEXT, top_category).get_attribute("href").endswith("#category/" + driver.execute_script(
        "return encodeURIComponent(arguments[0])", top_category))
    assert {k.get_attribute("data-metric") for k in driver.find_elements(By.CSS_SELECTOR, "#product-kpis .kpi[data-metric]")} \
        >= {"revenue", "orders", "customers"}
    driver.save_screenshot(str(shots / "product.png"))

    # reviews -> the product a complaint is about -> its reviews
    driver.get(base + "/#reviews")
    wait_ready(driver, "reviews")
    complaint = driver.find_element(By.CSS_SELECTOR, "#page .complaint a.drill")
    complained = complaint.text
    complaint.click()
    wait_ready(driver, "product")
    assert driver.find_element(By.ID, "product-name").text.strip() == complained.strip()
    assert driver.find_elements(By.CSS_SELECTOR, "#product-reviews blockquote")  # the reviews of that product
    assert "SOURCE.md" in driver.find_element(By.ID, "product-reviews").text  # the demo's links are said to be assigned

    # segments -> a segment's customers (click its bar) -> one customer's profile
    driver.get(base + "/#segments")
    wait_ready(driver, "segments")
    time.sleep(0.5)
    assert driver.find_element(By.CSS_SELECTOR, "#page .card[data-metric='customers'] h2").get_attribute("title") == en["customers"]
    bar = driver.find_element(By.CSS_SELECTOR, "#page .card[data-metric='customers'] .bars path")
    ActionChains(driver).move_to_element(bar).click().perform()
    WebDriverWait(driver, HANG).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#segment-members table a.drill"))
    assert driver.execute_script("return location.hash").startswith("#segments/")
    headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#segment-members th")]
    assert headers[0] == "Customer" and ("Churn risk" in headers or "12-month CLV" in headers)
    driver.save_screenshot(str(shots / "segment-members.png"))
    member = driver.find_element(By.CSS_SELECTOR, "#segment-members table a.drill")
    member_id = member.text
    member.click()
    wait_ready(driver, "customer")
    WebDriverWait(driver, HANG).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#customer-out .card"))
    assert member_id in driver.find_element(By.ID, "customer-out").text
    profile_tips = {e.get_attribute("data-metric"): e.get_attribute("title")
                    for e in driver.find_elements(By.CSS_SELECTOR, "#customer-out [data-metric]")}
    assert profile_tips and all(profile_tips[k] == en[k] for k in profile_tips) and "clv" in profile_tips
    assert console_errors(driver) == []

    # Chinese: the same definitions in Chinese, the drill-down pages in Chinese words
    zh = metric_tooltips("zh")
    driver.get(base + "/#overview")
    wait_ready(driver, "overview")
    Select(driver.find_element(By.ID, "lang")).select_by_value("zh")
    time.sleep(0.5)
    wait_ready(driver, "overview")
    assert driver.find_element(By.CSS_SELECTOR, "#kpis .kpi[data-metric='revenue']").get_attribute("title") == zh["revenue"]
    driver.get(base + "/#segments/0")
    driver.refresh()
    wait_ready(driver, "segments")
    WebDriverWait(driver, HANG).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#segment-members table"))
    assert "该分群的客户" in driver.find_element(By.ID, "segment-members").text and latin_share(driver) < 0.1, chrome_text(driver)
    driver.get(base + f"/#product/{product}")
    driver.refresh()
    wait_ready(driver, "product")
    assert driver.find_element(By.CSS_SELECTOR, "#product-kpis .kpi[data-metric='revenue']").get_attribute("title") == zh["revenue"]
    assert "评论" in driver.find_element(By.ID, "product-reviews").text
    driver.save_screenshot(str(shots / "product-zh.png"))
    assert console_errors(driver) == []
