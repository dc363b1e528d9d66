"""Invariants of shoplens as a whole, checked on the demo shop built once, as a user builds it
(`shoplens demo` in a project folder), across the CLI (`--json`), Python, the REST API and the
report:

(a) every customer id in any output is one of the shop's own ids from the input files, never a
    pseudonym (the warehouse's internal ids: ``privacy.ids.CUSTOMER_PREFIX`` + hex);
(b) a metric shown in two places has one value: the overview KPIs, customer counts, segment
    sizes, revenue, a customer's net revenue and orders;
(c) no command but `erase` deletes or rewrites a file it did not create;
(d) consent holds for every action: a customer who refused marketing, or was never asked (marketing is
    opt-in), or an id that is not a customer, appears in no offer, campaign assignment, rule tag or
    audience export; one who refused personalisation (or an unknown id) in no personalised list,
    profile, segment member list or next best action. Consent is changed as a shop changes it: by
    ingesting its customers file;
(e) evaluation runs (CLV calibration/holdout, `recs evaluate`, `demand evaluate`, off-policy
    learning, and runs dated in the past: `--as-of`, `--until`) leave every served table and
    promoted model unchanged;
(f) `erase` changes exactly what its own report and audit record list, nothing else.

The demo is built once for the module (a few minutes); the main commands then run on one copy
of it holding a project's own files (`worked`), and the REST API is asked on that copy too;
consent, evaluation runs and erasure each work on a copy of their own.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shoplens.cli_common import fmt
from shoplens.datasets import demo_data_dir
from shoplens.formatting import header as column_header
from shoplens.privacy.ids import CUSTOMER_PREFIX
from shoplens.privacy.operators import TOKEN_HEX
from shoplens.store.warehouse import Warehouse
from tests.customers.test_segments import check_segment_texts

PSEUDONYM = re.compile(rf"\b{CUSTOMER_PREFIX}[0-9a-f]{{{TOKEN_HEX}}}\b")
# Files of the project the warehouse sits in: shoplens did not write them and must never touch them.
FOREIGN = {
    "notes.md": "# Notes\n\nMeeting about the shop: loyalty programme, Q4 plans.\n",
    "analysis.py": "import pandas as pd\n\norders = pd.read_csv('orders.csv')\nprint(orders.head())\n",
    "data/orders_export.csv": "order_id,customer_id,amount\nX1,guest,10\n",
    ".venv/lib/python3.11/site-packages/duckdb/_duckdb.cpython-311-x86_64-linux-gnu.so": b"\x7fELF\x02\x01\x01" * 64,
}


def shop_ids() -> set[str]:
    """The shop's own customer ids, from the demo's input files."""
    customers = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)["customer_id"]
    orders = pd.read_csv(demo_data_dir() / "online_retail_sample.csv.gz", dtype=str)["CustomerID"]
    # the streamed Taobao shoppers who sign in become customers under their own (Taobao) user id
    events = pd.read_csv(demo_data_dir() / "taobao_userbehavior_sample.csv.gz", dtype=str)["user_id"]
    return set(customers.dropna()) | set(orders.dropna()) | set(events.dropna())


def write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def snapshot(folder: Path, names: list[str]) -> dict[str, str | None]:
    """sha256 of each named file (None when it is gone)."""
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() if (folder / n).is_file() else None
            for n in names}


def cli(folder: Path, *args: str, cwd: Path | None = None, code: int = 0) -> subprocess.CompletedProcess:
    """The real console entry point, run from the project folder (or ``cwd``), with the demo's own key file;
    the exit code must be ``code``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPLENS_")}
    env["COLUMNS"] = "200"
    proc = subprocess.run([sys.executable, "-m", "shoplens.cli", "--warehouse", str(folder / "warehouse.duckdb"), *args],
                          check=False, capture_output=True, text=True, cwd=cwd or folder, env=env)
    assert proc.returncode == code, (args, proc.returncode, proc.stderr[-3000:])
    return proc


@contextmanager
def api(folder: Path, **settings: Any) -> Iterator[Callable[..., Any]]:
    """The REST API on the warehouse in ``folder``, asked as an admin: ``call(method, url, **kw)``
    returns the JSON of a 200 answer (anything else fails the test)."""
    from fastapi.testclient import TestClient

    from shoplens.config import Settings
    from shoplens.serve.app import create_app
    from shoplens.serve.keys import KeyStore
    from shoplens.serve.settings import ServeSettings

    path = folder / "warehouse.duckdb"
    admin = {"Authorization": f"Bearer {KeyStore.for_warehouse(path).create('admin')}"}
    app = create_app(Settings(warehouse=path, **settings),
                     ServeSettings(rate_limit_per_minute=60000, rate_limit_burst=10000))
    with TestClient(app, raise_server_exceptions=False) as client:
        def call(method: str, url: str, **kw: Any) -> Any:
            r = client.request(method, f"/api/v1{url}", headers=admin, **kw)
            assert r.status_code == 200, (method, url, r.status_code, r.text[:500])
            return r.json()

        yield call


def copy_shop(shop: Shop, folder: Path) -> Path:
    """A copy of the demo shop's folder (its models are the copy's own)."""
    shutil.copytree(shop.folder, folder)
    with Warehouse(folder / "warehouse.duckdb") as wh:
        wh.con.execute("UPDATE _models SET path = replace(path, ?, ?)", [str(shop.folder), str(folder)])
    return folder


@dataclass
class Shop:
    folder: Path
    demo_stdout: str
    foreign_before: dict[str, str | None]

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse.duckdb"


@dataclass
class Worked:
    """A copy of the demo shop with a project's files in it, after the main commands ran on it."""

    folder: Path
    foreign: list[str]
    foreign_before: dict[str, str | None]
    json: dict[str, Any] = field(default_factory=dict)
    rest: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    folder = tmp_path_factory.mktemp("invariants") / "shop"
    write_files(folder, FOREIGN)
    before = snapshot(folder, list(FOREIGN))
    proc = cli(folder, "demo", "--verbose")  # every step's detail: the console figures are checked too
    return Shop(folder, proc.stdout, before)


@pytest.fixture(scope="module")
def customer(shop: Shop) -> str:
    """A shop id of a customer with purchases who allows personalisation (shown in every view)."""
    consent = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)
    allowed = set(consent.loc[consent["consent_personalization"] == "True", "customer_id"])
    report = (shop.folder / "report.html").read_text(encoding="utf-8")
    # the report's churn table lists real, consenting customers: take the first one
    first = re.search(rf"<th>{re.escape(column_header('customer_id'))}</th>.*?<td>([^<]+)</td>", report, re.DOTALL)
    assert first and first[1] in allowed
    return first[1]


@pytest.fixture(scope="module")
def worked(shop: Shop, customer: str, tmp_path_factory: pytest.TempPathFactory) -> Worked:
    folder = tmp_path_factory.mktemp("worked") / "shop"
    shutil.copytree(shop.folder, folder)
    with Warehouse(folder / "warehouse.duckdb") as wh:  # the copy's models are its own
        wh.con.execute("UPDATE _models SET path = replace(path, ?, ?)", [str(shop.folder), str(folder)])
    # the project's files, now naming a real customer (as a user's notes and exports would)
    own = {"customer_notes.md": f"Customer {customer} called about an order.\n",
           "exports_by_hand/vip.csv": f"customer_id,note\n{customer},vip\n",
           "users.txt": f"{customer}\n",
           "more_orders.csv": "order_id,customer_id,ordered_at,status,total_amount,currency\n"
                              f"NEW1,{customer},2011-12-09 12:00:00,completed,25.5,GBP\n"}
    write_files(folder, own)
    names = list(FOREIGN) + list(own)
    out = Worked(folder, names, snapshot(folder, names))

    # CLI, read side first (every command still writes its own results to the warehouse)
    for name, args in {"status": ["status"], "rfm": ["customers", "rfm", "--limit", "5000"],
                       "segments": ["customers", "segments"], "churn": ["customers", "churn", "--limit", "5000"],
                       "cohorts": ["customers", "cohorts"], "profiles": ["customers", "profile", "--limit", "5000"],
                       "profile": ["customers", "profile", customer],
                       "recommend": ["recs", "recommend", "--users-file", "users.txt", "--output", "recs.csv"],
                       "trends": ["demand", "trends"], "quarantine": ["quarantine", "orders"]}.items():
        out.json[name] = json.loads(cli(folder, *args, "--json").stdout)
    out.files["recs.csv"] = (folder / "recs.csv").read_text(encoding="utf-8")

    # REST, before anything changes the data
    from fastapi.testclient import TestClient

    from shoplens.config import Settings
    from shoplens.serve.app import create_app
    from shoplens.serve.keys import KeyStore
    from shoplens.serve.settings import ServeSettings

    path = folder / "warehouse.duckdb"
    admin = {"Authorization": f"Bearer {KeyStore.for_warehouse(path).create('admin')}"}
    # the shop secret is the key file the demo created beside the warehouse
    app = create_app(Settings(warehouse=path), ServeSettings(rate_limit_per_minute=60000, rate_limit_burst=10000))
    with TestClient(app, raise_server_exceptions=False) as client:
        def get(url: str) -> Any:
            r = client.get(f"/api/v1{url}", headers=admin)
            assert r.status_code == 200, (url, r.text[:500])
            return r.json()

        out.rest["overview"] = get("/overview")
        out.rest["segments"] = get("/segments?limit=1000")
        out.rest["members"] = {s["segment_id"]: get(f"/segments/{s['segment_id']}/members?limit=1000")
                               for s in out.rest["segments"]["data"]}
        sample = [customer] + sorted({m["customer_id"] for p in out.rest["members"].values() for m in p["data"]})[:25]
        out.rest["customers"] = {c: get(f"/customers/{c}") for c in sample}
        out.rest["audit"] = get("/audit?limit=1000")
        # then the write side of the API
        r = client.post(f"/api/v1/segments/{out.rest['segments']['data'][0]['segment_id']}/export", headers=admin,
                        json={"name": "campaign"})
        assert r.status_code == 200, r.text
        out.rest["export"] = r.json()
        r = client.post("/api/v1/ingest", headers=admin, data={"table": "orders"},
                        files={"file": ("more.csv", (folder / "more_orders.csv").read_bytes(), "text/csv")})
        assert r.status_code == 200, r.text
    export = folder / out.rest["export"]["path"]
    out.files["export"] = export.read_text(encoding="utf-8") if export.is_file() else ""

    # CLI, write side: commands that change data or models
    cli(folder, "ingest", "orders", "more_orders.csv", "--json")
    cli(folder, "drift", "--json")
    cli(folder, "customers", "rules", "--apply", "--json")
    return out


# ---------------------------------------------------------------- (a) customer ids are shop ids


def _ids_in(obj: Any) -> list[str]:
    """Every value under a key naming a customer id, anywhere in a JSON document."""
    found: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("customer_id", "customer") and isinstance(v, (str, int)) and not isinstance(v, bool):
                found.append(str(v))
            elif k == "customers" and isinstance(v, list) and v and all(isinstance(x, str) for x in v):
                found.extend(v)  # the access audit's list of customers read
            else:
                found.extend(_ids_in(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(_ids_in(v))
    return found


def test_cli_outputs_name_shop_ids_only(worked: Worked) -> None:
    ids = shop_ids()
    for name, doc in worked.json.items():
        text = json.dumps(doc)
        assert not PSEUDONYM.search(text), (name, PSEUDONYM.search(text)[0])
        assert set(_ids_in(doc)) <= ids, (name, sorted(set(_ids_in(doc)) - ids)[:5])
    assert len(_ids_in(worked.json["rfm"]["customers"])) > 1000  # the check looked at real rows
    recs = pd.read_csv(io.StringIO(worked.files["recs.csv"]), dtype=str)
    assert set(recs["customer_id"]) <= ids and not PSEUDONYM.search(worked.files["recs.csv"])


def test_rest_outputs_name_shop_ids_only(worked: Worked) -> None:
    ids = shop_ids()
    for name, doc in worked.rest.items():
        text = json.dumps(doc)
        assert not PSEUDONYM.search(text), (name, PSEUDONYM.search(text)[0])
        if name != "audit":  # the access audit keeps its own hashed references to customers, by design
            assert set(_ids_in(doc)) <= ids, (name, sorted(set(_ids_in(doc)) - ids)[:5])
    members = [m["customer_id"] for page in worked.rest["members"].values() for m in page["data"]]
    assert len(members) > 500 and set(members) <= ids
    export = pd.read_csv(io.StringIO(worked.files["export"]), dtype=str)
    assert len(export) and set(export["customer_id"].str.lstrip("'")) <= ids


def test_report_and_console_name_shop_ids_only(shop: Shop) -> None:
    # the recommendations step also asks for an unknown visitor: answered with the id it asked with
    ids = shop_ids() | {"new-visitor"}
    report = (shop.folder / "report.html").read_text(encoding="utf-8")
    assert not PSEUDONYM.search(report) and not PSEUDONYM.search(shop.demo_stdout)
    in_tables = []
    for table in re.findall(r"<table.*?</table>", report, re.DOTALL):
        header = re.findall(r"<th>([^<]*)</th>", table)
        if column_header("customer_id") in header:  # the report's headers are for people (shoplens.formatting)
            col = header.index(column_header("customer_id"))
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL):
                cells = re.findall(r"<td>([^<]*)</td>", row)
                if cells:
                    in_tables.append(cells[col])
    assert in_tables and set(in_tables) <= ids
    console = re.findall(r"(?:Customer|customer) (\S+?):? ", shop.demo_stdout)
    assert {c for c in console if c[0].isdigit()} <= ids


def test_python_results_leave_with_shop_ids(shop: Shop) -> None:
    from shoplens.customers.output import exposable

    ids = shop_ids()
    with Warehouse(shop.warehouse, read_only=True) as wh:
        for table in ("customer_rfm", "customer_profile", "customer_churn", "customer_clv", "customer_segments"):
            shown = exposable(wh, wh.query(f"SELECT customer_id FROM {table}"))
            assert len(shown) > 500 and set(shown["customer_id"]) <= ids, table


# ---------------------------------------------------------------- (b) one value per metric


def _console_kpis(stdout: str) -> dict[str, str]:
    block = stdout[stdout.index("Shop overview"):]
    rows = re.findall(r"│ ([a-z /-]+?)\s+│ (.+?)\s+│", block[:block.index("└")])
    return dict(rows)


def test_overview_kpis_agree_everywhere(shop: Shop, worked: Worked) -> None:
    from shoplens.insights.overview import kpis

    with Warehouse(shop.warehouse, read_only=True) as wh:
        k = kpis(wh)
    api = worked.rest["overview"]["kpis"]
    for key in ("customers", "orders", "revenue", "average_order_value", "repeat_purchase_rate", "cancellations"):
        assert api[key] == pytest.approx(k[key]), key
    shown = {"customers": fmt(k["customers"]), "orders": fmt(k["orders"]), "net revenue": f"GBP {fmt(k['revenue'])}",
             "average order value": f"GBP {fmt(k['average_order_value'])}",
             "cancellations / returns": fmt(k["cancellations"])}
    report = (shop.folder / "report.html").read_text(encoding="utf-8")
    tiles = {label: value for value, label in re.findall(r'<div class="kpi"><b>([^<]*)</b>([^<]*)</div>', report)}
    console = _console_kpis(shop.demo_stdout)
    def figure(text: str) -> str:  # the number as shown, currency sign or code aside (£1,234.50 = GBP 1,234.50)
        return re.sub(r"[^\d.,-]", "", text)

    for label, value in shown.items():
        assert figure(tiles[label]) == figure(value) and figure(console[label]) == figure(value), label
    assert "£" in tiles["net revenue"] or "GBP" in tiles["net revenue"]
    months = pd.DataFrame(worked.rest["overview"]["revenue_by_month"])
    assert months["revenue"].sum() == pytest.approx(k["revenue"], abs=0.01 * len(months))
    assert months["orders"].sum() == k["orders"]


def test_customer_counts_and_segment_sizes_agree(shop: Shop, worked: Worked) -> None:
    from shoplens.customers.data import last_order_date
    from shoplens.customers.features import customer_features
    from shoplens.insights.overview import kpis

    with Warehouse(shop.warehouse, read_only=True) as wh:
        n = kpis(wh)["customers"]
        tables = {t: wh.query(f"SELECT count(*) FROM {t}").iloc[0, 0]
                  for t in ("customer_rfm", "customer_segments", "customer_clv", "customer_churn")}
        buyers = wh.query("SELECT count(*) FROM customer_profile WHERE orders IS NOT NULL").iloc[0, 0]
        per_segment = wh.query("SELECT segment_id, count(*) AS n FROM customer_segments GROUP BY 1")
        features = customer_features(wh, last_order_date(wh))
    assert all(v == n for v in tables.values()), tables
    assert buyers == n
    assert worked.rest["overview"]["kpis"]["customers"] == n
    segments = pd.DataFrame(worked.rest["segments"]["data"])
    assert segments["customers"].sum() == n
    assert segments.set_index("segment_id")["customers"].to_dict() == per_segment.set_index("segment_id")["n"].to_dict()
    assert {s["segment_id"]: s["customers"] for s in worked.json["segments"]["segments"]} == \
        segments.set_index("segment_id")["customers"].to_dict()
    assert sum(s["customers"] for s in worked.json["rfm"]["segments"]) == n
    first_month = [r for r in worked.json["cohorts"]["retention"] if r["months_since"] == 0]
    # retention counts complete months only: customers whose first purchase falls in the month
    # holding the cut-off (partial) are in no cohort yet
    with Warehouse(shop.warehouse, read_only=True) as wh:
        from shoplens.customers.data import purchases_sql

        as_of = pd.Timestamp(last_order_date(wh))  # the day after the last purchase
        newest = wh.con.execute(
            f"SELECT count(*) FROM (SELECT customer_id, min(ordered_at) AS first FROM ({purchases_sql('$as_of')}) "
            "GROUP BY 1) WHERE first >= date_trunc('month', $as_of::TIMESTAMP)", {"as_of": as_of.to_pydatetime()}).fetchone()[0]
    assert sum(r["cohort_customers"] for r in first_month) == n - newest
    assert max(r["cohort"] for r in first_month) < as_of.strftime("%Y-%m-01")
    check_segment_texts(segments, features)  # the API's segment names and texts quote its own numbers


def test_revenue_agrees_across_views(shop: Shop, worked: Worked) -> None:
    from shoplens.insights.overview import kpis, top_categories

    with Warehouse(shop.warehouse, read_only=True) as wh:
        k = kpis(wh)
        categories = top_categories(wh, n=1000).set_index("category")["revenue"]
        trends = wh.query("SELECT category, revenue_total FROM customer_category_trends").set_index("category")
        rfm_net = wh.query("SELECT sum(monetary) FROM customer_rfm").iloc[0, 0]
        profile_net = wh.query("SELECT sum(net_revenue) FROM customer_profile").iloc[0, 0]
    assert categories.sum() == pytest.approx(k["revenue"], abs=1.0)
    assert trends["revenue_total"].round(2).to_dict() == pytest.approx(categories.to_dict(), abs=0.006)
    assert profile_net == pytest.approx(rfm_net)
    assert 0 < rfm_net <= k["revenue"]  # guest checkouts count in the shop's total only
    report = (shop.folder / "report.html").read_text(encoding="utf-8")
    assert "fees &amp; services" in report


def test_a_customers_numbers_agree_across_views(shop: Shop, worked: Worked) -> None:
    """RFM monetary = profile net revenue = the API's purchase summary = the profile's own reason text."""
    from shoplens.privacy.ids import to_internal

    with Warehouse(shop.warehouse, read_only=True) as wh:
        ids = list(worked.rest["customers"])
        internal = dict(zip(to_internal(wh, ids), ids))
        rfm = wh.query("SELECT * FROM customer_rfm WHERE customer_id IN (SELECT unnest(?))", [list(internal)])
        profile = wh.query("SELECT * FROM customer_profile WHERE customer_id IN (SELECT unnest(?))", [list(internal)])
    rfm = rfm.assign(customer_id=rfm["customer_id"].map(internal)).set_index("customer_id")
    profile = profile.assign(customer_id=profile["customer_id"].map(internal)).set_index("customer_id")
    cli_rfm = {r["customer_id"]: r for r in worked.json["rfm"]["customers"]}
    cli_profiles = {r["customer_id"]: r for r in worked.json["profiles"]["data"]}
    checked = 0
    for shop_id, body in worked.rest["customers"].items():
        if shop_id not in rfm.index:
            continue
        checked += 1
        r, p, api = rfm.loc[shop_id], profile.loc[shop_id], body["purchases"]
        assert api["net_revenue"] == pytest.approx(r["monetary"], abs=0.006)
        assert p["net_revenue"] == pytest.approx(r["monetary"])
        assert api["orders"] == r["frequency"] == p["orders"]
        assert cli_rfm[shop_id]["monetary"] == pytest.approx(r["monetary"])
        assert cli_profiles[shop_id]["net_revenue"] == pytest.approx(p["net_revenue"])
        assert body["rfm"]["monetary"] == pytest.approx(r["monetary"])
        # the texts quote the same numbers
        orders = f"{p['orders']} order" + ("" if p["orders"] == 1 else "s")  # plurals as people write them
        days = f"{p['recency_days']} day" + ("" if p["recency_days"] == 1 else "s")
        assert p["segment_reason"].endswith(f"last order {days} ago, {orders}, "
                                            f"{p['net_revenue']:.0f} net spend")
        assert r["recency_days"] == p["recency_days"]
        days = re.search(r"(\d[\d,]*) days since the last order", p["churn_reasons"] or "")
        if days:
            assert int(days[1].replace(",", "")) == p["recency_days"]
    assert checked >= 20
    single = worked.json["profile"]
    assert single["net_revenue"] == pytest.approx(cli_profiles[single["customer_id"]]["net_revenue"])


# ---------------------------------------------------------------- (c) files shoplens did not create


def test_demo_leaves_the_projects_files_alone(shop: Shop) -> None:
    assert snapshot(shop.folder, list(FOREIGN)) == shop.foreign_before


def test_commands_leave_the_projects_files_alone(worked: Worked) -> None:
    """ingest, status, quarantine, customers *, recs recommend, demand trends, drift, rules, the REST API
    (reads, segment export, upload): none of them touches a file it did not write, even one naming a customer."""
    assert snapshot(worked.folder, worked.foreign) == worked.foreign_before




# ---------------------------------------------------------------- (d) consent, through every interface

OFFERS = ["free-shipping", "10-percent-off", "bundle", "no-offer"]  # the demo bandit's arms
CONTEXT = {"recency_days": 40, "orders": 3, "log_spend": 5.5}
UNKNOWN = ["not-a-customer", "99999999"]


@dataclass
class Consent:
    """A copy of the demo shop after the shop changed some customers' consent (shop ids)."""

    folder: Path
    no_marketing: list[str]       # consent_marketing false, personalisation true
    no_personalisation: list[str]  # consent_personalization false (marketing true, or false for the last one)
    never_asked: list[str]         # both consents emptied, plus a new customer ingested without consent columns
    consenting: list[str]          # both true: the control group every check must still serve
    json: dict[str, Any] = field(default_factory=dict)
    rest: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def everyone(self) -> list[str]:
        return self.no_marketing + self.no_personalisation + self.never_asked + self.consenting + UNKNOWN

    @property
    def not_marketable(self) -> set[str]:
        """No offer, campaign or export: refused or never asked (opt-in), and ids that are not customers."""
        return set(self.no_marketing) | {self.no_personalisation[-1]} | set(self.never_asked) | set(UNKNOWN)

    @property
    def not_personalisable(self) -> set[str]:
        """No personalised list, profile or score (never-asked customers follow the default: allowed)."""
        return set(self.no_personalisation) | set(UNKNOWN)


@pytest.fixture(scope="module")
def consent(shop: Shop, customer: str, tmp_path_factory: pytest.TempPathFactory) -> Consent:
    from shoplens.customers.output import exposable

    folder = copy_shop(shop, tmp_path_factory.mktemp("consent") / "shop")
    given = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)
    both = set(given.loc[(given["consent_marketing"] == "True") & (given["consent_personalization"] == "True"),
                         "customer_id"])
    # the report's first churn customer is the consenting control: say so if the demo ever picks another one
    assert customer in both, f"{customer} (first in the report's churn table) does not consent to both purposes"
    with Warehouse(shop.warehouse, read_only=True) as wh:
        members = exposable(wh, wh.query("SELECT customer_id FROM customer_segments"))
    pool = sorted((set(members["customer_id"]) & both) - {customer})
    step = len(pool) // 12
    picked = pool[::step][:11]  # spread over the id range (and so over segments)
    out = Consent(folder, no_marketing=picked[0:3], no_personalisation=picked[3:6], never_asked=picked[6:9] + ["NEW-77"],
                  consenting=[customer, picked[9], picked[10]])
    # the shop changes consent the way it keeps it: a customers export with consent columns
    rows = ([(c, "false", "true") for c in out.no_marketing] + [(c, "true", "false") for c in out.no_personalisation[:2]]
            + [(out.no_personalisation[2], "false", "false")] + [(c, "", "") for c in out.never_asked[:3]])
    (folder / "consent_update.csv").write_text(
        "customer_id,consent_marketing,consent_personalization\n" + "".join(f"{c},{m},{p}\n" for c, m, p in rows))
    (folder / "new_customers.csv").write_text("customer_id,country\nNEW-77,United Kingdom\n")
    res = json.loads(cli(folder, "ingest", "customers", "consent_update.csv", "--json").stdout)
    assert res["updated"] == len(rows), res
    res = json.loads(cli(folder, "ingest", "customers", "new_customers.csv", "--json").stdout)
    assert res["loaded"] == 1, res
    (folder / "everyone.txt").write_text("\n".join(out.everyone) + "\n")

    # CLI
    for who in (out.no_marketing[0], out.no_personalisation[0], out.no_personalisation[2], out.never_asked[0],
                out.never_asked[3], UNKNOWN[0], customer):
        out.json[f"choose:{who}"] = json.loads(cli(folder, "decide", "choose", "--customer", who, "--actions",
                                                   ",".join(OFFERS), "--json").stdout)
    out.json["assign"] = json.loads(cli(folder, "ab", "assign", *out.everyone, "--experiment", "spring-sale",
                                        "--json").stdout)
    out.json["recommend"] = json.loads(cli(folder, "recs", "recommend", "--users-file", "everyone.txt", "--output",
                                           "recs_everyone.csv", "--json").stdout)
    out.files["recommend"] = (folder / "recs_everyone.csv").read_text(encoding="utf-8")
    for name, args in {"rfm": ["customers", "rfm", "--limit", "5000"], "segments": ["customers", "segments"],
                       "churn": ["customers", "churn", "--limit", "5000"],
                       "profiles": ["customers", "profile", "--limit", "5000"],
                       "rules": ["customers", "rules", "--apply"], "score": ["recs", "score"]}.items():
        out.json[name] = json.loads(cli(folder, *args, "--json").stdout)
    refused = cli(folder, "customers", "profile", out.no_personalisation[0], "--json", code=2)
    out.json["profile:refused"] = {"stdout": refused.stdout, "stderr": refused.stderr}
    # a shop whose policy makes personalisation opt-in too: never-asked customers get the popular list
    strict = folder / "strict"
    strict.mkdir()
    (strict / "shoplens.toml").write_text("[privacy]\nconsent_default = {marketing = false, personalization = false}\n")
    out.json["recommend:strict"] = json.loads(cli(folder, "recs", "recommend", "--users-file", "../everyone.txt",
                                                  "--output", "recs_strict.csv", "--json", cwd=strict).stdout)
    out.files["recommend:strict"] = (strict / "recs_strict.csv").read_text(encoding="utf-8")

    # REST
    with Warehouse(folder / "warehouse.duckdb", read_only=True) as wh:
        from shoplens.privacy.ids import to_internal

        segments = wh.query("SELECT DISTINCT segment_id FROM customer_segments WHERE customer_id IN (SELECT unnest(?))",
                            [[i for i in to_internal(wh, out.everyone) if i]])["segment_id"].tolist()
    with api(folder) as call:
        out.rest["decisions"] = {c: call("POST", "/decisions", json={"policy": "offer-bandit", "actions": OFFERS,
                                                                     "customer_id": c, "context": CONTEXT})
                                 for c in out.everyone}
        out.rest["recommendations"] = {c: call("GET", f"/recommendations/{c}") for c in out.everyone}
        out.rest["customers"] = {c: call("GET", f"/customers/{c}") for c in out.everyone if c not in UNKNOWN}
        out.rest["members"] = {s: call("GET", f"/segments/{s}/members?limit=1000") for s in segments}
        out.rest["exports"] = {s: call("POST", f"/segments/{s}/export", json={"name": f"campaign-{s}"})
                               for s in segments}
    for s, answer in out.rest["exports"].items():
        out.files[f"export:{s}"] = (folder / answer["path"]).read_text(encoding="utf-8")
    return out


def _csv_ids(text: str) -> set[str]:
    return set(pd.read_csv(io.StringIO(text), dtype=str)["customer_id"].str.lstrip("'"))


def test_consent_changes_reach_the_warehouse(consent: Consent) -> None:
    """The shop's customers file set the consent columns (NULL when emptied); the other columns are kept."""
    from shoplens.privacy.ids import to_internal

    with Warehouse(consent.folder / "warehouse.duckdb", read_only=True) as wh:
        ids = consent.no_marketing + consent.no_personalisation + consent.never_asked
        rows = wh.query("SELECT customer_id, consent_marketing AS m, consent_personalization AS p, country "
                        "FROM customers WHERE customer_id IN (SELECT unnest(?))", [to_internal(wh, ids)])
    got = dict(zip(rows["customer_id"], zip(rows["m"], rows["p"])))
    with Warehouse(consent.folder / "warehouse.duckdb", read_only=True) as wh:
        got = {shop_id: got[i] for shop_id, i in zip(ids, to_internal(wh, ids))}
    assert all(got[c] == (False, True) for c in consent.no_marketing)
    assert [got[c] for c in consent.no_personalisation] == [(True, False), (True, False), (False, False)]
    assert all(pd.isna(got[c][0]) and pd.isna(got[c][1]) for c in consent.never_asked)
    assert rows["country"].notna().all()  # columns the file did not carry keep their values


def test_python_consent_fails_closed(consent: Consent) -> None:
    from shoplens import privacy

    with Warehouse(consent.folder / "warehouse.duckdb") as wh:
        marketing = privacy.allowed(wh, consent.everyone, "marketing")
        personal = privacy.allowed(wh, consent.everyone, "personalization")
        result = privacy.export_customers(wh, consent.everyone, "python-audience")
    assert set(marketing.allowed) == set(consent.everyone) - consent.not_marketable
    assert set(marketing.unknown) == set(UNKNOWN) and set(personal.unknown) == set(UNKNOWN)
    assert set(consent.never_asked) <= set(marketing.refused) & set(marketing.defaulted)
    assert all("never given" in marketing.reason(c) for c in consent.never_asked)
    assert set(personal.allowed) == set(consent.everyone) - consent.not_personalisable
    exported = _csv_ids(result.path.read_text(encoding="utf-8"))
    assert exported == set(consent.everyone) - consent.not_marketable and result.exported == len(exported)
    assert set(result.unknown) == set(UNKNOWN)


def test_no_offer_without_marketing_consent(consent: Consent) -> None:
    """decide choose (CLI) and POST /decisions (REST): no offer, a reason, the decision logged as not offered."""
    from shoplens.decide.log import NOT_OFFERED

    answers = {k.split(":", 1)[1]: v["decisions"][0] for k, v in consent.json.items() if k.startswith("choose:")}
    answers_rest = {c: v["data"][0] for c, v in consent.rest["decisions"].items()}
    for source in (answers, answers_rest):
        for who, d in source.items():
            assert d["customer_id"] == who  # as given, never a pseudonym
            if who in consent.not_marketable:
                assert d["action"] is None and not d["personalised"], (who, d)
                assert "consent" in d["reason"] or "unknown customer" in d["reason"], (who, d)
            else:
                assert d["action"] in OFFERS, (who, d)
                assert d["personalised"] == (who not in consent.not_personalisable), (who, d)
    assert set(answers_rest) == set(consent.everyone) and len(set(answers) & consent.not_marketable) >= 5
    ids = [d["decision_id"] for source in (answers, answers_rest) for d in source.values()]
    with Warehouse(consent.folder / "warehouse.duckdb", read_only=True) as wh:
        logged = wh.query("SELECT decision_id, action, policy FROM decisions WHERE decision_id IN (SELECT unnest(?))",
                          [ids]).set_index("decision_id")
    assert len(logged) == len(ids)  # every decision is logged, offered or not
    for source in (answers, answers_rest):
        for who, d in source.items():
            row = logged.loc[d["decision_id"]]
            assert (row["policy"] == NOT_OFFERED and pd.isna(row["action"])) == (who in consent.not_marketable), who


def test_no_campaign_or_audience_without_marketing_consent(consent: Consent) -> None:
    """ab assign, rule tags whose action contacts the customer, segment exports (REST) and the next best action."""
    from shoplens.customers.profile import MARKETING_ACTIONS as PROFILE_MARKETING
    from shoplens.customers.rules import MARKETING_ACTIONS as RULE_MARKETING
    from shoplens.privacy.ids import to_external

    assign = consent.json["assign"]
    assert set(assign["assignments"]) == set(consent.everyone) - consent.not_marketable
    assert set(assign["not_assigned"]) == consent.not_marketable
    exported = set().union(*(_csv_ids(t) for k, t in consent.files.items() if k.startswith("export:")))
    assert exported and not exported & consent.not_marketable
    assert set(consent.everyone) - consent.not_marketable <= exported  # every marketable customer asked about
    assert sum(a["excluded_without_consent"] for a in consent.rest["exports"].values()) >= \
        len(consent.not_marketable - set(UNKNOWN) - {"NEW-77"})
    with Warehouse(consent.folder / "warehouse.duckdb", read_only=True) as wh:
        tags = wh.query("SELECT customer_id, action FROM customer_rule_tags")
        tags["customer_id"] = to_external(wh, tags["customer_id"].tolist())
    assert len(tags) and tags["customer_id"].notna().all()
    marketing_tags = set(tags.loc[tags["action"].isin(RULE_MARKETING), "customer_id"])
    assert not marketing_tags & consent.not_marketable
    assert not set(tags["customer_id"]) & consent.not_personalisable
    profiles = {p["customer_id"]: p for p in consent.json["profiles"]["data"]}
    shown = set(profiles) & consent.not_marketable
    assert shown  # never-asked and marketing-refused customers still have a profile...
    assert all(profiles[c]["next_best_action"] not in PROFILE_MARKETING for c in shown)  # ...but no offer


def test_no_personalised_list_without_personalisation_consent(consent: Consent) -> None:
    """recs recommend (CLI, file), GET /recommendations (REST), recs score (table), the strict policy."""
    from shoplens.privacy.ids import to_external
    from shoplens.recs.service import NOT_PERSONALISED

    recs = pd.read_csv(io.StringIO(consent.files["recommend"]), dtype=str)
    personalised = recs.groupby("customer_id")["personalised"].agg(lambda s: (s == "True").any())
    assert set(personalised.index) == set(consent.everyone)
    assert not personalised[list(consent.not_personalisable)].any()
    assert (recs.loc[recs["customer_id"].isin(consent.not_personalisable), "reason"] == NOT_PERSONALISED).all()
    assert personalised[consent.consenting[0]]  # the control: a consenting customer with history is personalised
    for who, answer in consent.rest["recommendations"].items():
        assert answer["customer_id"] == who and answer["count"] > 0
        if who in consent.not_personalisable:
            assert not answer["personalised"] and all(r["reason"] == NOT_PERSONALISED for r in answer["data"]), who
    assert consent.rest["recommendations"][consent.consenting[0]]["personalised"]
    with Warehouse(consent.folder / "warehouse.duckdb", read_only=True) as wh:
        scored = wh.query("SELECT customer_id, bool_or(personalised) AS personalised FROM recommendations GROUP BY 1")
        scored["customer_id"] = to_external(wh, scored["customer_id"].tolist())
    scored = scored.set_index("customer_id")["personalised"]
    refused = [c for c in consent.no_personalisation if c in scored.index]
    assert refused and not scored[refused].any()
    # with personalisation opt-in ([privacy] consent_default), never-asked customers are not personalised either
    strict = pd.read_csv(io.StringIO(consent.files["recommend:strict"]), dtype=str)
    flags = strict.groupby("customer_id")["personalised"].agg(lambda s: (s == "True").any())
    assert not flags[list(consent.not_personalisable | set(consent.never_asked))].any()
    assert flags[consent.consenting[0]]
    assert not personalised[["NEW-77"]].any()  # a new customer has no history to personalise from
    assert personalised[consent.never_asked[:3]].any()  # under the default, never asked = legitimate interest


def test_no_profile_or_score_without_personalisation_consent(consent: Consent) -> None:
    """customers rfm/segments/churn/profile (CLI), GET /customers and segment members (REST)."""
    for name in ("rfm", "churn", "profiles"):
        ids = set(_ids_in(consent.json[name]))
        assert ids and not ids & consent.not_personalisable, name
        assert consent.consenting[0] in ids, name
    refused = consent.json["profile:refused"]
    assert refused["stdout"] == "" and "no personalization consent" in refused["stderr"]
    assert "Traceback" not in refused["stderr"]
    for who, body in consent.rest["customers"].items():
        assert body["customer_id"] == who
        allowed = who not in consent.not_personalisable
        assert body["personalization_allowed"] == allowed, who
        assert ("churn" in body and "clv" in body and "segment" in body) == allowed, who
    members = {m["customer_id"] for page in consent.rest["members"].values() for m in page["data"]}
    assert members and not members & consent.not_personalisable
    assert consent.consenting[0] in members


# ---------------------------------------------------------------- (e) evaluation runs never replace what is served


@dataclass
class Evaluated:
    folder: Path
    before: dict[str, Any]
    after: dict[str, Any]
    json: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def evaluated(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Evaluated:
    """Every evaluation command, on a copy of the demo shop, between two hashes of what it serves."""
    from tests.served_state import served_state

    folder = copy_shop(shop, tmp_path_factory.mktemp("evaluated") / "shop")
    path = folder / "warehouse.duckdb"
    out = Evaluated(folder, served_state(path), {})
    runs = {"clv": ["customers", "clv", "--calibration-end", "2011-08-31", "--holdout-end", "2011-12-09"],
            # the holdout runs to the last purchase day when only the calibration end is given
            "clv_days": ["customers", "clv", "--calibration-end", "2011-10-31", "--time-unit", "day"],
            "recs_temporal": ["recs", "evaluate", "--cutoff", "2011-11-01", "--models", "popularity,item_knn,buy_again"],
            "recs_last_basket": ["recs", "evaluate", "--protocol", "last-basket", "--models", "popularity,buy_again"],
            "demand": ["demand", "evaluate", "--origins", "2"],
            "demand_category": ["demand", "evaluate", "--level", "category", "--origins", "2"],
            "learn": ["decide", "learn", "--from-log", "uniform-logger", "--out", "learned.pkl"],
            # runs dated before the last order look back: backtests too
            "rfm_past": ["customers", "rfm", "--as-of", "2011-09-01"],
            "churn_past": ["customers", "churn", "--as-of", "2011-10-01"],
            "forecast_past": ["demand", "forecast", "--until", "2011-11-01", "--horizon", "2", "--level", "category"]}
    for name, args in runs.items():
        out.json[name] = json.loads(cli(folder, *args, "--json").stdout)
    # the same through Python
    from shoplens.customers.clv import fit_clv

    with Warehouse(path) as wh:
        out.json["clv_python"] = fit_clv(wh, calibration_end="2011-09-30", holdout_end="2011-12-09").summary()
    out.after = served_state(path)
    return out


def test_evaluation_runs_leave_served_tables_and_models_unchanged(evaluated: Evaluated) -> None:
    assert evaluated.after == evaluated.before
    assert {"customer_clv", "demand_forecast", "recommendations"} <= set(evaluated.before)
    assert {"model:clv_bgnbd", "model:recs", "model:offer-bandit"} <= set(evaluated.before)


def test_evaluation_runs_write_their_own_reports(evaluated: Evaluated) -> None:
    """The runs did evaluate (so the check above saw real work): CLV holdout figures, recs and demand
    metrics, the learned policy registered as a candidate only; their tables are eval_* tables."""
    from shoplens.store.warehouse import EVALUATION_PREFIX

    assert evaluated.json["clv"]["holdout"]["actual_total"] > 0
    assert evaluated.json["recs_temporal"]["models"] and evaluated.json["demand"]
    assert evaluated.json["learn"]["registered"]["name"] == "opl-uniform-logger"
    with Warehouse(evaluated.folder / "warehouse.duckdb", read_only=True) as wh:
        tables = set(wh.tables())
        status = dict(wh.con.execute("SELECT version, status FROM _models WHERE name = 'opl-uniform-logger'").fetchall())
        clv = wh.query(f"SELECT * FROM {EVALUATION_PREFIX}customer_clv")
    assert {f"{EVALUATION_PREFIX}customer_clv", f"{EVALUATION_PREFIX}demand_backtest", f"{EVALUATION_PREFIX}customer_rfm",
            f"{EVALUATION_PREFIX}customer_churn", f"{EVALUATION_PREFIX}demand_forecast"} <= tables
    assert evaluated.json["rfm_past"]["evaluation"] and evaluated.json["forecast_past"]["evaluation"]
    assert set(status.values()) == {"candidate"}
    assert clv["calibration_end"].max() == pd.Timestamp("2011-09-30")  # the last evaluation's report


# ---------------------------------------------------------------- (f) erase changes exactly what it reports


def _table_rows(path: Path) -> dict[str, list[str]]:
    """Every table's rows (sorted reprs)."""
    with Warehouse(path, read_only=True) as wh:
        return {t: sorted(repr(r) for r in wh.con.execute(f'SELECT * FROM "{t}"').fetchall()) for t in wh.tables()}


def _all_files(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder`` but the warehouse database itself (compared table by table)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith("warehouse.duckdb")}


@dataclass
class Erased:
    folder: Path
    customer: str
    other: str  # a customer in the same exports, who stays
    report: dict[str, Any]
    audit: list[dict[str, Any]]
    files_before: dict[str, str]
    files_after: dict[str, str]
    tables_before: dict[str, list[str]]
    tables_after: dict[str, list[str]]
    access_before: bytes
    access_after: bytes


@pytest.fixture(scope="module")
def erased(shop: Shop, customer: str, tmp_path_factory: pytest.TempPathFactory) -> Erased:
    """A copy of the demo shop with the project's own files and shoplens exports naming the customer; erase it."""
    folder = copy_shop(shop, tmp_path_factory.mktemp("erased") / "shop")
    given = pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)
    other = sorted(set(given.loc[given["consent_marketing"] == "True", "customer_id"]) - {customer})[0]
    write_files(folder, {"crm/notes.md": f"Call {customer} back.\n", "users.txt": f"{customer}\n{other}\n"})
    cli(folder, "recs", "recommend", "--users-file", "users.txt", "--output", "recs.csv", "--json")
    with Warehouse(folder / "warehouse.duckdb") as wh:
        from shoplens import privacy

        privacy.export_customers(wh, [customer, other], "vip")
    access = folder / "audit" / "access.jsonl"
    before = (_all_files(folder), _table_rows(folder / "warehouse.duckdb"), access.read_bytes())
    report = json.loads(cli(folder, "erase", "--customer", customer, "--json").stdout)
    audit = json.loads(cli(folder, "privacy", "audit", "--json").stdout)["data"]
    return Erased(folder, customer, other, report, [a for a in audit if a["erasure_id"] == report["erasure_id"]],
                  before[0], _all_files(folder), before[1], _table_rows(folder / "warehouse.duckdb"), before[2],
                  access.read_bytes())


def _listed(report: dict[str, Any], kind: str) -> dict[str, int]:
    return {k.split(":", 1)[1]: v for k, v in report["removed"].items() if k.startswith(f"{kind}:")}


def test_erase_changes_only_the_files_it_lists(erased: Erased) -> None:
    before, after = erased.files_before, erased.files_after
    changed = {p for p in before if after.get(p) != before[p]} | (set(after) - set(before))
    files = {p for p, n in _listed(erased.report, "file").items() if n}
    models = {p for p, n in _listed(erased.report, "model").items() if n}
    # the access log only grows, by the erasure's own event (see test_access_log_records_the_erasure)
    assert changed - {"audit/access.jsonl"} == files | models, (sorted(changed), erased.report["removed"])
    assert {"recs.csv", "exports/vip.csv"} <= files  # the exports shoplens wrote and recorded
    assert not set(after) - set(before)
    for p in files:
        if p in after:  # rewritten without the customer, everyone else kept
            text = (erased.folder / p).read_text(encoding="utf-8")
            assert erased.customer not in text and erased.other in text
    reported = {r["path"] for r in erased.report["reported"]}
    assert {"crm/notes.md", "users.txt"} <= reported and not reported & changed


def test_erase_changes_only_the_rows_it_lists(erased: Erased) -> None:
    """Each table only lost rows, exactly as many as the report says; bookkeeping aside, nothing else moved."""
    from collections import Counter

    removed: Counter[str] = Counter()
    for target, n in erased.report["removed"].items():
        if ":" in target:
            continue
        table = {"support_messages (same conversations)": "support_messages"}.get(target, target.split(".")[0])
        removed[table] += n
    own = {"_erasure_audit", "_written_files"}  # its own record, and the new hashes of the files it rewrote
    for table, rows in erased.tables_before.items():
        left = erased.tables_after.get(table)
        if table in own:
            continue
        assert left is not None, table
        lost = Counter(rows) - Counter(left)
        assert not Counter(left) - Counter(rows), table  # nothing added or rewritten
        assert sum(lost.values()) == removed[table], (table, sum(lost.values()), removed[table])
    assert set(erased.tables_after) - own == set(erased.tables_before) - own
    assert removed["orders"] > 0 and removed["customers"] == 1
    written = Counter(erased.tables_after["_written_files"]) - Counter(erased.tables_before["_written_files"])
    assert len(written) <= len(_listed(erased.report, "file"))


def test_erase_audit_record_matches_its_report(erased: Erased) -> None:
    record = {a["target"]: a["removed"] for a in erased.audit if not str(a["kind"]).startswith("reported")}
    assert record == erased.report["removed"]
    reported = {a["target"].split(":", 1)[1] for a in erased.audit if str(a["kind"]).startswith("reported")}
    assert reported == {r["path"] for r in erased.report["reported"]}
    assert not any(erased.customer in json.dumps(a, default=str) for a in erased.audit)  # a pseudonym only
    assert cli(erased.folder, "erase", "--verify", erased.customer, "--json").returncode == 0


def test_access_log_records_the_erasure(erased: Erased) -> None:
    """The access log is append-only: the erasure adds its event, never edits earlier lines."""
    assert erased.access_after.startswith(erased.access_before)
    added = [json.loads(line) for line in erased.access_after[len(erased.access_before):].decode().splitlines()]
    assert any(e.get("event") == "erasure" and e.get("erasure_id") == erased.report["erasure_id"] for e in added)
    assert erased.customer.encode() not in erased.access_after[len(erased.access_before):]
    from shoplens.privacy.access_log import verify_chain

    assert verify_chain(erased.folder / "audit" / "access.jsonl")
