"""The report on any warehouse: what it shows, what it never changes, how it labels money and ids."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shoplens.customers.cohorts import compute_cohorts
from shoplens.customers.rfm import compute_rfm
from shoplens.errors import ConfigError, UserInputError
from shoplens.insights.shop_report import FILL, build_shop_report, write_shop_report
from shoplens.privacy.ids import to_external
from shoplens.store.files import written_files
from shoplens.store.warehouse import Warehouse

SECRET = "test-secret-key-for-the-demo-suite-0123456789"  # the demo fixture's key (conftest.py)


def _visible(html: str, key: str) -> str:
    """The text of one section, without scripts and tags."""
    body = re.search(rf'<section id="{key}">(.*?)</section>', html, re.S).group(1)
    body = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def _tables_digest(path: Path) -> dict[str, str]:
    """A hash of every table's rows (in a stable order), except the record of written files."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for (name,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            if name == "_written_files":
                continue
            rows = sorted(map(repr, con.execute(f'SELECT * FROM "{name}"').fetchall()))
            out[name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SHOPLENS_SECRET": SECRET}
    return subprocess.run([sys.executable, "-m", "shoplens.cli", *args], capture_output=True, text=True, env=env)


def test_ingested_only_warehouse_names_the_command_for_each_missing_section(demo_wh):
    r = build_shop_report(demo_wh)
    present = {s.key for s in r.sections if s.present}
    assert present == {"summary", "overview", "data"}
    html = r.to_html()
    assert [s.key for s in r.sections][0] == "summary"  # what changed, why, what to do comes first
    summary = _visible(html, "summary")
    assert "Last 30 days" in summary and "Net revenue" in summary and "shoplens customers rules" in summary
    for s in r.sections:
        if not s.present:
            assert s.fill == FILL[s.key]
            assert f"run `{s.fill}`" in _visible(html, s.key)
    assert "1,113" in _visible(html, "overview")  # customers with a purchase (shoplens.metrics)


def test_sections_appear_once_their_analyses_ran(demo_wh):
    compute_rfm(demo_wh)
    compute_cohorts(demo_wh)
    r = build_shop_report(demo_wh)
    assert r.section("rfm").present and r.section("cohorts").present
    assert not r.section("churn").present
    html = r.to_html()
    assert "Champions" in _visible(html, "rfm") and "run `" not in _visible(html, "rfm")
    assert "run `shoplens customers churn`" in _visible(html, "churn")


def test_report_never_changes_the_warehouse_and_records_its_file(demo_wh, tmp_path):
    compute_rfm(demo_wh)
    path = demo_wh.path
    demo_wh.close()
    before_bytes = _tables_digest(path)
    out = tmp_path / "out" / "report.html"
    res = _cli("-w", str(path), "report", "--output", str(out), "--json")
    assert res.returncode == 0, res.stderr
    assert out.exists() and (out.stat().st_mode & 0o077) == 0  # owner-only like every shoplens file
    assert _tables_digest(path) == before_bytes
    with Warehouse(path, read_only=True) as wh:
        recorded = {f.path.resolve(): f for f in written_files(wh)}
    assert recorded[out.resolve()].kind == "report" and recorded[out.resolve()].names_customers
    assert '"key": "rfm", "title": "RFM segments", "present": true' in res.stdout


def test_builds_on_a_read_only_warehouse(demo_wh):
    path = demo_wh.path
    demo_wh.close()
    with Warehouse(path, read_only=True) as wh:
        assert build_shop_report(wh).section("overview").present


def test_chinese_labels(demo_wh):
    r = build_shop_report(demo_wh, lang="zh")
    html = r.to_html()
    assert "shoplens 报告" in html and "RFM 分群" in html
    assert "尚未计算：运行 `shoplens customers rfm` 以生成本节。" in _visible(html, "rfm")
    assert "净收入" in _visible(html, "overview")


def _chrome(html: str) -> str:
    """The report's own words: titles, headers, the summary's sentences and notes (not the shop's data)."""
    html = re.sub(r"<script.*?</script>|<td.*?</td>|<code>.*?</code>", " ", html, flags=re.S)
    parts = re.findall(r"<(h1|h2|h3|th|dt|p|li)[^>]*>(.*?)</\1>", html, re.S)
    import html as html_lib

    return html_lib.unescape(" ".join(re.sub(r"<[^>]+>", " ", text) for _, text in parts))


def test_chinese_report_has_little_latin_text(demo_wh):
    """In zh, titles, headers, the summary and notes are Chinese: Latin letters other than commands,
    units, currency codes and the shop's names (segment, product and category names) stay a small share."""
    compute_rfm(demo_wh)
    compute_cohorts(demo_wh)
    html = build_shop_report(demo_wh, lang="zh").to_html()
    text = _chrome(html)
    names = demo_wh.con.execute("SELECT DISTINCT name FROM products UNION SELECT DISTINCT category FROM products").fetchall()
    for name in sorted((n for (n,) in names if n and len(n) > 3), key=len, reverse=True):
        text = text.replace(name, " ")
    text = re.sub(r"`[^`]*`|\b(RFM|CLV|PSI|shoplens|[A-Z]{3})\b|“[^”]*”|「[^」]*」|\S+\.duckdb", " ", text)
    latin, cjk = len(re.findall(r"[A-Za-z]", text)), len(re.findall(r"[\u4e00-\u9fff]", text))
    assert latin / max(1, latin + cjk) < 0.15, text
    # the same check fails on the English report
    en = re.sub(r"`[^`]*`", " ", _chrome(build_shop_report(demo_wh, lang="en").to_html()))
    assert len(re.findall(r"[A-Za-z]", en)) > 10 * len(re.findall(r"[\u4e00-\u9fff]", en))


def test_unknown_language_is_refused(demo_wh):
    with pytest.raises(UserInputError, match="lang must be one of en, zh"):
        build_shop_report(demo_wh, lang="fr")  # type: ignore[arg-type]
    res = _cli("-w", str(demo_wh.path), "report", "--lang", "fr")
    assert res.returncode == 2 and "--lang must be en or zh" in res.stderr and "Traceback" not in res.stderr


def test_money_is_labelled_in_the_orders_currency(demo_wh):
    demo_wh.con.execute("UPDATE orders SET currency = 'USD'")
    compute_cohorts(demo_wh)
    r = build_shop_report(demo_wh)
    html = r.to_html()
    assert r.currency == "USD"
    assert "US$2," in _visible(html, "overview") and "(USD)" in _visible(html, "overview")
    for key in ("overview", "cohorts"):
        assert "GBP" not in _visible(html, key) and "£" not in _visible(html, key)


def test_customers_appear_under_shop_ids_never_pseudonyms(demo_wh):
    from shoplens.customers.clv import fit_clv

    fit_clv(demo_wh)
    internal = [r[0] for r in demo_wh.con.execute("SELECT customer_id FROM customer_clv").fetchall()]
    assert internal and all(i not in set(to_external(demo_wh, internal)) for i in internal[:5])
    text = _visible(build_shop_report(demo_wh).to_html(), "clv")
    shown = re.findall(r"\b\d{5}\b", text)
    assert shown and set(shown) <= set(to_external(demo_wh, internal))
    assert not any(i in text for i in internal)


def test_user_text_is_escaped(demo_wh):
    top = demo_wh.con.execute("SELECT product_id FROM order_items GROUP BY 1 "
                              "ORDER BY sum(quantity * unit_price) DESC LIMIT 1").fetchall()[0][0]
    demo_wh.con.execute("UPDATE products SET name = '<script>alert(1)</script>' WHERE product_id = ?", [top])
    html = build_shop_report(demo_wh).to_html()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html


def test_refuses_to_overwrite_a_file_shoplens_did_not_write(demo_wh, tmp_path):
    built = build_shop_report(demo_wh)
    foreign = tmp_path / "mine.html"
    foreign.write_text("the shop's own file")
    with pytest.raises(ConfigError, match="did not write"):
        write_shop_report(demo_wh, foreign, built)
    assert foreign.read_text() == "the shop's own file"
    ours = write_shop_report(demo_wh, tmp_path / "ours.html", built)
    assert write_shop_report(demo_wh, ours, built) == ours  # its own, unchanged file may be replaced
    demo_wh.close()
    res = _cli("-w", str(demo_wh.path), "report", "--output", str(foreign))
    assert res.returncode == 2 and "did not write" in res.stderr and foreign.read_text() == "the shop's own file"


def test_a_copied_warehouse_folder_reports_beside_itself(demo_wh, tmp_path):
    dst = tmp_path / "copy"
    dst.mkdir()
    demo_wh.close()
    shutil.copy(demo_wh.path, dst / "warehouse.duckdb")
    res = _cli("-w", str(dst / "warehouse.duckdb"), "report")
    assert res.returncode == 0, res.stderr
    assert (dst / "report.html").exists()


def test_rule_tables_show_product_names_with_ids(demo_wh):
    import pandas as pd

    from shoplens.insights.shop_report import _with_names

    pid, name = demo_wh.con.execute("SELECT product_id, name FROM products WHERE name IS NOT NULL LIMIT 1").fetchone()
    rules = pd.DataFrame({"antecedent": [pid], "consequent": ["no-such-product"], "lift": [2.0]})
    shown = _with_names(demo_wh, rules, ("antecedent", "consequent"))
    assert shown.iloc[0].tolist() == [f"{name} ({pid})", "no-such-product", 2.0]


def test_the_shops_own_currency_and_name_come_first(demo_wh):
    from shoplens.store.shop import set_shop

    set_shop(demo_wh, name="Corner <Grocer>", currency="eur")
    r = build_shop_report(demo_wh)
    html = r.to_html()
    assert r.currency == "EUR"  # the orders say GBP; the shop says EUR
    overview = _visible(html, "overview")
    assert "€2," in overview and "£" not in overview and "GBP" not in overview
    assert "<title>shoplens report: Corner &lt;Grocer&gt;</title>" in html


def test_campaigns_section_reports_each_campaigns_lift_read_only(demo_wh, tmp_path):
    from datetime import timedelta

    from shoplens.campaigns.assign import assign_campaign
    from shoplens.campaigns.campaign import Campaign, create_campaign, parse_arm
    from shoplens.campaigns.report import campaign_report, data_until
    from shoplens.store.warehouse import Warehouse

    empty = build_shop_report(demo_wh)
    assert "shoplens campaign create" in _visible(empty.report.to_html(), "campaigns")
    as_of = f"{data_until(demo_wh) - timedelta(days=60):%Y-%m-%d}"
    create_campaign(demo_wh, Campaign("winback", "all", (parse_arm("discount_10", 2.0),), control=0.3,
                                      goal="conversion", window_days=30))
    assign_campaign(demo_wh, "winback", as_of=as_of)
    expected = campaign_report(demo_wh, "winback")["conclusion"]["en"]
    path = demo_wh.path
    demo_wh.close()
    with Warehouse(path, read_only=True) as wh:  # what `shoplens report` opens: a write would fail
        built = build_shop_report(wh)
    section = html.unescape(_visible(built.report.to_html(), "campaigns"))
    assert "winback" in section and expected[:40] in section and "discount_10" in section


def test_every_column_header_of_the_chinese_report_is_chinese(demo_wh):
    """The zh report names every column in Chinese (units and acronyms aside), also the tables of
    cohorts, trends, anomalies and drift, whose columns had English fallbacks."""
    from shoplens.monitor.drift import check_drift

    compute_rfm(demo_wh)
    compute_cohorts(demo_wh)
    check_drift(demo_wh)
    page = build_shop_report(demo_wh, lang="zh").to_html()
    page = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    headers = [html.unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", page, re.S)]
    assert len(headers) > 20
    english = [h for h in headers if re.search(r"[A-Za-z]{3,}", re.sub(r"\b(PSI|CLV|RFM|[A-Z]{3})\b", "", h))]
    assert english == [], english


def test_chinese_report_describes_segments_and_churn_reasons_in_chinese(demo_wh):
    """The zh report's segment descriptions and churn reasons are the Chinese texts generated from the
    same numbers (description_zh, reasons_zh), not the English sentences; the en report keeps English."""
    from shoplens.customers.churn import fit_churn
    from shoplens.customers.segments import build_segments

    profiles = build_segments(demo_wh).profiles
    fit_churn(demo_wh)
    zh, en = build_shop_report(demo_wh, lang="zh").to_html(), build_shop_report(demo_wh, lang="en").to_html()
    segments_zh, segments_en = html.unescape(_visible(zh, "segments")), html.unescape(_visible(en, "segments"))
    for row in profiles.itertuples():
        assert row.description_zh in segments_zh and row.description not in segments_zh
        assert row.description in segments_en
    churn_zh = html.unescape(_visible(zh, "churn"))
    assert "流失风险" in churn_zh and "risk by" not in churn_zh
    assert "risk by" in html.unescape(_visible(en, "churn"))
