"""Every dashboard page in headless Chromium, in English and Chinese, with data and on an empty
warehouse: each page gets ready without console errors, draws no chart without data (an empty state
in words instead) and none in more than 8 colours, shows no raw field names in its headers, and in Chinese its own words (titles,
headers, labels, sentences, empty states, form labels, buttons, choices) are Chinese: visible Latin
letters other than names, ids, commands and units stay under 10 %. One screenshot per page."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from shoplens.config import Settings
from shoplens.serve.app import create_app
from shoplens.serve.keys import KeyStore
from shoplens.serve.settings import ServeSettings

from tests.serve.serve_helpers import copy_with_models
from tests.serve.test_browser import (  # noqa: F401 (browser: the imported fixture)
    DEMO_SECRET, browser, console_errors, pytestmark, raw_headers, serving, wait_ready)
from tests.serve.test_behaviour import EVENTS

# every page of the menu (app.js PAGES) and the two drill-down pages
MENU = ("overview", "segments", "customer", "reviews", "recs", "rules", "behaviour", "campaigns", "experiments", "quality", "alerts")
MAX_LATIN = 0.1


@pytest.fixture(scope="module")
def full(customers_warehouse_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """(base url, analyst key, a product id, a category) over the demo warehouse with results, behaviour
    events, drift, a campaign with its report and alerts: every page has data."""
    from shoplens.campaigns.assign import assign_campaign
    from shoplens.campaigns.campaign import Campaign, create_campaign, parse_arm
    from shoplens.campaigns.report import data_until
    from shoplens.customers.rules import apply_rules, generate_rules
    from shoplens.monitor.drift import check_drift
    from shoplens.services import check_alerts
    from shoplens.store.warehouse import Warehouse

    path = tmp_path_factory.mktemp("every-page") / "warehouse.duckdb"
    copy_with_models(customers_warehouse_path, path)
    settings = Settings(warehouse=path, secret=DEMO_SECRET)
    with Warehouse(path) as wh:
        check_drift(wh)
        generate_rules(wh)
        apply_rules(wh)
        wh.con.execute(EVENTS)
        as_of = f"{data_until(wh) - timedelta(days=60):%Y-%m-%d}"
        create_campaign(wh, Campaign("winback", "all", (parse_arm("discount_10", 2.0),), control=0.3,
                                     goal="conversion", window_days=30))
        assign_campaign(wh, "winback", as_of=as_of)
        wh.con.execute("DELETE FROM orders WHERE date_trunc('month', ordered_at) = DATE '2011-11-01' "
                       "AND hash(order_id) % 5 <> 0")
        assert check_alerts(settings, wh)["new"]
        product, category = wh.con.execute(
            "SELECT p.product_id, p.category FROM association_rules r JOIN products p ON p.product_id = r.antecedent "
            "WHERE p.category IS NOT NULL ORDER BY r.lift DESC, p.product_id LIMIT 1").fetchone()
    key = KeyStore.for_warehouse(path).create("analyst")
    with serving(create_app(settings, ServeSettings(allow_weak_secret=True))) as base:
        yield base, key, product, category


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory):
    """(base url, analyst key) over a warehouse that holds nothing yet."""
    from shoplens.store.warehouse import Warehouse

    path = tmp_path_factory.mktemp("empty-page") / "warehouse.duckdb"
    with Warehouse(path):
        pass
    key = KeyStore.for_warehouse(path).create("analyst")
    with serving(create_app(Settings(warehouse=path, secret=DEMO_SECRET), ServeSettings(allow_weak_secret=True))) as base:
        yield base, key


def own_words(driver) -> str:
    """The page's own words: navigation, titles, headers, labels, sentences, empty states, notices,
    form labels, buttons and choices; not the shop's data (names, ids, quotes; the title of a product's
    or category's page is its name; the campaign picker lists campaign names)."""
    return " ".join(driver.execute_script(
        "return [...document.querySelectorAll('nav a, #page h1, #page h2:not(#product-name):not(#category-name), #page h3, #page th, #page dt, #page .label, "
        "#page .period, #page .empty, #page .notice, #page .hint, #page label, #page button, #page summary, "
        "#page option:not(#campaign-pick option), #page .verdict, #page .gtitle')].map(e => e.textContent)"))


def latin_share(text: str) -> float:
    """Share of Latin letters among the letters of ``text``; commands in backticks, ids (words with a
    digit or an underscore: arm and product ids), units, currency codes and the names of products
    shoplens works with left out."""
    import re

    text = re.sub(r"`[^`]*`|shoplens [a-z -]+|\b\w*[_\d]\w*\b|\b(PSI|RFM|CLV|API|UTC|id|p|[A-Z]{3}|Segment|RudderStack|"
                  r"Webhook)\b", " ", text)
    latin = len(re.findall(r"[A-Za-z]", text))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", text))
    return latin / max(1, latin + cjk)


def bare_charts(driver) -> int:
    """Plotly charts that drew no data mark (bare axes)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelectorAll("
        "'.bars path, .scatterlayer .trace path, .scatterlayer .point, .funnellayer path, .heatmaplayer image').length === 0).length")


def most_colours(driver) -> int:
    """The most distinct colours any chart of the page draws its marks in (bars, points, lines)."""
    return driver.execute_script(
        "return Math.max(0, ...[...document.querySelectorAll('.js-plotly-plot')].map(p => new Set("
        "[...p.querySelectorAll('.bars path, .scatterlayer .point')].map(e => e.style.fill).concat("
        "[...p.querySelectorAll('.scatterlayer .js-line')].map(e => e.style.stroke))).size))")


def settled(driver, element):  # type: ignore[no-untyped-def]
    """``element`` once its place stops moving (Plotly's automargin redraws a chart after its labels are
    measured; a click before that lands on another bar)."""
    last = None
    for _ in range(100):
        rect = driver.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.width, r.height]",
                                     element)
        if rect == last:
            return element
        last = rect
        time.sleep(0.3)
    return element


def visit(driver, base: str, page: str, lang: str, shots: Path) -> str:
    """Open ``#page`` in ``lang``; the page's own words."""
    driver.execute_script("localStorage.setItem('shoplens.lang', arguments[0])", lang)
    driver.get(f"{base}/#{page}")
    driver.refresh()
    name = page.split("/")[0]
    wait_ready(driver, name)
    time.sleep(0.4)  # let Plotly draw
    driver.save_screenshot(str(shots / f"{name}-{lang}.png"))
    return own_words(driver)


def login(driver, base: str, key: str) -> None:
    driver.get(base + "/")
    driver.execute_script("sessionStorage.setItem('shoplens.key', arguments[0])", key)


def test_every_page_with_data_in_english_and_chinese(full, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    base, key, product, category = full
    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    login(driver, base, key)
    driver.get_log("browser")
    pages = [*MENU, f"product/{product}", f"category/{category}", "segments/0", "rules/R01"]
    for lang in ("en", "zh"):
        for page in pages:
            words = visit(driver, base, page, lang, shots)
            assert driver.find_elements(By.CSS_SELECTOR, "#page h1"), page
            assert bare_charts(driver) == 0, (page, lang)
            assert most_colours(driver) <= 8, (page, lang)
            if page == "overview":  # the check counts colours: a chart of three colours added to the page
                driver.execute_script(
                    "const d = document.createElement('div'); d.id = 'probe'; document.getElementById('page').append(d);"
                    "return Plotly.newPlot(d, [{type: 'bar', x: ['a', 'b', 'c'], y: [1, 2, 3],"
                    " marker: {color: ['#111111', '#222222', '#333333']}}]).then(() => true)")
                assert most_colours(driver) == 3
                driver.execute_script("Plotly.purge('probe'); document.getElementById('probe').remove()")
            assert raw_headers(driver) == [], (page, lang, raw_headers(driver))
            if lang == "zh":
                assert latin_share(words) < MAX_LATIN, (page, words)
            assert console_errors(driver) == [], (page, lang)
    assert len(list(shots.glob("*.png"))) == 2 * (len(MENU) + 2)


def test_every_page_of_an_empty_warehouse_says_what_to_do(empty, browser, tmp_path):  # noqa: F811
    """Nothing loaded yet: every page says so in words (in both languages), draws no bare axes and
    logs nothing but the API's own answers that a result is not computed."""
    from selenium.webdriver.common.by import By

    base, key = empty
    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    login(driver, base, key)
    driver.get_log("browser")
    for lang in ("en", "zh"):
        for page in (*MENU, "product/85123A", "category/kitchen"):
            words = visit(driver, base, page, lang, shots)
            text = driver.find_element(By.ID, "page").text
            assert bare_charts(driver) == 0, (page, lang)
            assert driver.find_elements(By.CSS_SELECTOR, "#page .empty, #page .notice, #page input"), (page, lang, text)
            assert raw_headers(driver) == [], (page, lang, raw_headers(driver))
            assert not driver.find_elements(By.CSS_SELECTOR, "#page .error"), (page, lang, text)
            if lang == "zh":
                assert latin_share(words) < MAX_LATIN, (page, words)
            # the browser logs each 404/409 answer itself; no script error
            assert [e for e in console_errors(driver) if "status of 40" not in e] == [], (page, lang)


def test_rules_page_names_products_and_drills_into_a_rule(full, browser, tmp_path):  # noqa: F811
    """The rules page: the cross-sell chart's bars are named by the products (ids on hover, never as the
    label); a click on a customer rule's bar lists the customers it tags, each leading to the profile;
    a click on a cross-sell bar opens the first product's page; in English and Chinese."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, key, product, category = full
    driver = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    login(driver, base, key)
    driver.get_log("browser")  # what earlier tests left in the log
    for lang in ("en", "zh"):
        visit(driver, base, "rules", lang, shots)
        cards = driver.find_elements(By.CSS_SELECTOR, "#page .card")
        cross = next(c for c in cards if c.get_attribute("data-metric") == "lift")
        ticks = [t.text for t in cross.find_elements(By.CSS_SELECTOR, ".ytick text")]
        assert ticks and all(" → " in t for t in ticks), ticks
        assert not any(t.replace(" → ", "").replace(" ", "").isdigit() for t in ticks), ticks  # names, not ids
        cells = driver.find_elements(By.CSS_SELECTOR, "#page td[title^='id ']")
        assert cells and all(c.text and not c.text.startswith("id ") for c in cells)  # the id on hover
        rules = next(c for c in cards if c.get_attribute("data-metric") == "lift_later")
        labels = [t.text for t in rules.find_elements(By.CSS_SELECTOR, ".ytick text")]
        assert labels and all(label.startswith("R") and " · " in label for label in labels), labels
        if lang == "zh":
            assert any("订单" in label for label in labels), labels  # the conditions in Chinese
        # a customer rule's bar -> its customers -> a profile
        bar = settled(driver, rules.find_element(By.CSS_SELECTOR, ".bars path"))
        ActionChains(driver).move_to_element(bar).click().perform()
        WebDriverWait(driver, 600).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rule-members table a.drill"))
        assert driver.execute_script("return location.hash").startswith("#rules/R")
        members = driver.find_element(By.ID, "rule-members").text
        assert ("Customers this rule tags today" if lang == "en" else "该规则今天标记的客户") in members
        driver.save_screenshot(str(shots / f"rule-members-{lang}.png"))
        member = driver.find_element(By.CSS_SELECTOR, "#rule-members table a.drill")
        member_id = member.text
        member.click()
        wait_ready(driver, "customer")
        WebDriverWait(driver, 600).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#customer-out .card"))
        assert member_id in driver.find_element(By.ID, "customer-out").text
        # a cross-sell bar -> the first product's page
        visit(driver, base, "rules", lang, shots)
        cross = next(c for c in driver.find_elements(By.CSS_SELECTOR, "#page .card") if c.get_attribute("data-metric") == "lift")
        ticks = cross.find_elements(By.CSS_SELECTOR, ".ytick text")  # the top bar's label: the strongest rule
        first = min(ticks, key=lambda e: e.rect["y"]).text.split(" → ")[0]
        bar = settled(driver, cross.find_element(By.CSS_SELECTOR, ".bars path"))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
        ActionChains(driver).move_to_element(settled(driver, bar)).click().perform()
        wait_ready(driver, "product")
        assert driver.find_element(By.ID, "product-name").text == first
        assert console_errors(driver) == []
