"""Stored campaigns, sticky assignment, consent and frequency-cap exclusions, the decision log."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.campaigns.assign import arm_of, assign_campaign, write_assignments
from shoplens.campaigns.campaign import (
    Campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    parse_arm,
    stop_campaign,
)
from shoplens.errors import NotComputedError, NotFoundError, UserInputError
from shoplens.datasets import demo_data_dir
from shoplens.privacy.ids import to_internal

from .conftest import CONSENTING, N_CUSTOMERS, REFUSED, shop_id


def _make(wh, name="spring", audience="all", arms=("free_shipping", "discount_10"), control=0.2, **kw):
    return create_campaign(wh, Campaign(name, audience, tuple(parse_arm(a) for a in arms), control=control, **kw))


def test_a_campaign_is_stored_and_versioned(shop):
    first = _make(shop)
    assert first.version == 1 and first.arm_names == ["control", "free_shipping", "discount_10"]
    assert first.weights() == pytest.approx({"control": 0.2, "free_shipping": 0.4, "discount_10": 0.4})
    with pytest.raises(UserInputError, match="exists"):
        _make(shop)
    second = create_campaign(shop, Campaign("spring", "all", (parse_arm("discount_20", 4.0),)), replace=True)
    assert second.version == 2 and get_campaign(shop, "spring").arms[0].cost == 4.0
    assert get_campaign(shop, "spring", version=1).arms[0].name == "free_shipping"
    stopped = stop_campaign(shop, "spring")
    assert stopped.status == "stopped" and stopped.version == 3
    assert list_campaigns(shop).set_index("name").loc["spring", "status"] == "stopped"
    with pytest.raises(UserInputError, match="stopped"):
        assign_campaign(shop, "spring", as_of="2024-06-01")
    with pytest.raises(NotFoundError, match="no campaign 'autumn'"):
        get_campaign(shop, "autumn")


@pytest.mark.parametrize("kwargs, message", [
    ({"control": 0.0}, "--control"),
    ({"control": 1.2}, "--control"),
    ({"goal": "likes"}, "--goal"),
    ({"window_days": 0}, "--window"),
    ({"audience": "vip"}, "--audience"),
    ({"name": "a b"}, "campaign name"),
    ({"arms": ("control",)}, "held-out group"),
    ({"arms": ("a", "a")}, "unique"),
    ({"start": "2024-05-01", "end": "2024-04-01"}, "before --start"),
])
def test_invalid_campaigns_are_refused_with_one_clear_error(shop, kwargs, message):
    with pytest.raises(UserInputError, match=message):
        _make(shop, **kwargs)


def test_assignment_excludes_and_counts_customers_without_marketing_consent(shop, tmp_path):
    _make(shop)
    result = assign_campaign(shop, "spring", as_of="2024-06-01")
    never_asked = N_CUSTOMERS - CONSENTING - REFUSED
    assert result.counts["audience"] == N_CUSTOMERS
    # marketing is opt-in: refused and never-asked customers are both left out
    assert result.counts["excluded_no_consent"] == REFUSED + never_asked
    assert result.counts["assigned"] == result.counts["newly_assigned"] == CONSENTING
    assert set(result.rows["customer_id"]) == {shop_id(i) for i in range(1, CONSENTING + 1)}  # shop ids out
    assert set(result.rows["arm"]) == {"control", "free_shipping", "discount_10"}
    assert (result.rows["propensity"] == result.rows["arm"].map({"control": 0.2, "free_shipping": 0.4,
                                                                 "discount_10": 0.4})).all()
    path = write_assignments(shop, result, tmp_path / "out" / "spring.csv")
    frame = pd.read_csv(path, dtype={"customer_id": str})
    assert list(frame.columns) == ["customer_id", "arm", "propensity", "assigned_at"]
    assert frame["assigned_at"].unique().tolist() == ["2024-06-01T00:00:00"]
    assert (path.stat().st_mode & 0o777) == 0o600
    assert shop.query("SELECT count(*) AS n FROM _written_files WHERE kind = 'campaign_assignments'")["n"][0] == 1


def test_assignment_is_sticky_and_reproducible(shop):
    campaign = _make(shop)
    first = assign_campaign(shop, "spring", as_of="2024-06-01").rows
    again = assign_campaign(shop, "spring", as_of="2024-06-20")
    assert again.counts["newly_assigned"] == 0 and again.counts["already_assigned"] == CONSENTING
    pd.testing.assert_frame_equal(first, again.rows)  # same arms, same assigned_at
    # the arm is a pure function of campaign and customer: a fresh computation agrees
    internal = to_internal(shop, first["customer_id"].tolist())
    assert [arm_of(c, campaign) for c in internal] == first["arm"].tolist()
    # a new version keeps everyone's arm
    create_campaign(shop, Campaign("spring", "all", campaign.arms, control=0.5), replace=True)
    third = assign_campaign(shop, "spring", as_of="2024-07-01").rows
    pd.testing.assert_frame_equal(first, third)


def test_the_split_follows_the_plan_on_many_customers():
    c = Campaign("big", "all", (parse_arm("a"), parse_arm("b")), control=0.1)
    arms = pd.Series([arm_of(f"cust-{i}", c) for i in range(20_000)]).value_counts(normalize=True)
    assert arms["control"] == pytest.approx(0.1, abs=0.01)
    assert arms["a"] == pytest.approx(0.45, abs=0.015) and arms["b"] == pytest.approx(0.45, abs=0.015)
    other = Campaign("other", "all", c.arms, control=0.1)  # independent across campaigns
    same = sum(arm_of(f"cust-{i}", c) == arm_of(f"cust-{i}", other) for i in range(2000)) / 2000
    assert same == pytest.approx(0.1**2 + 2 * 0.45**2, abs=0.04)


def test_every_assignment_is_logged_with_its_propensity(shop):
    _make(shop)
    assign_campaign(shop, "spring", as_of="2024-06-01")
    log = shop.query("SELECT d.action, d.propensity, d.policy, d.decision_type, a.arm, a.propensity AS p "
                     "FROM decisions d JOIN campaign_assignments a USING (decision_id)")
    assert len(log) == CONSENTING and (log["action"] == log["arm"]).all() and (log["propensity"] == log["p"]).all()
    assert set(log["policy"]) == {"campaign:spring"} and set(log["decision_type"]) == {"campaign"}


def test_frequency_cap_excludes_customers_offered_by_other_campaigns(shop):
    _make(shop, "first")
    first = assign_campaign(shop, "first", as_of="2024-06-01").rows
    offered = set(first.loc[first["arm"] != "control", "customer_id"])
    _make(shop, "second", frequency_cap=1, cap_days=30)
    second = assign_campaign(shop, "second", as_of="2024-06-10")
    assert second.counts["excluded_frequency_cap"] == len(offered)
    assert set(second.rows["customer_id"]) == set(first["customer_id"]) - offered  # held-out customers stay eligible
    # outside the cap period the earlier offer no longer counts
    _make(shop, "third", frequency_cap=1, cap_days=5)
    assert assign_campaign(shop, "third", as_of="2024-06-20").counts["excluded_frequency_cap"] == 0


def test_customers_who_withdraw_consent_are_no_longer_handed_over(shop):
    _make(shop)
    assign_campaign(shop, "spring", as_of="2024-06-01")
    internal = to_internal(shop, [shop_id(1)])[0]
    shop.con.execute("UPDATE customers SET consent_marketing = false WHERE customer_id = ?", [internal])
    again = assign_campaign(shop, "spring", as_of="2024-06-02")
    assert shop_id(1) not in set(again.rows["customer_id"])
    assert again.counts["excluded_no_consent"] == N_CUSTOMERS - CONSENTING + 1
    # the assignment itself stays (intention to treat)
    assert shop.query("SELECT count(*) AS n FROM campaign_assignments")["n"][0] == CONSENTING


def test_audiences_from_a_file_a_condition_and_rfm(shop, tmp_path):
    ids = tmp_path / "ids.csv"
    ids.write_text("customer_id\nS001\nS002\nS299\nNOT-A-CUSTOMER\n")
    _make(shop, "listed", audience=f"file:{ids}")
    r = assign_campaign(shop, "listed", as_of="2024-06-01")
    assert r.counts["audience"] == 4 and r.counts["excluded_unknown"] == 1 and r.counts["excluded_no_consent"] == 1
    assert sorted(r.rows["customer_id"]) == ["S001", "S002"]
    _make(shop, "rich", audience="sql:net_revenue >= 50 AND days_since_last_order > 100")
    assert assign_campaign(shop, "rich", as_of="2024-06-01").counts["audience"] == N_CUSTOMERS
    _make(shop, "recent", audience="sql:days_since_last_order < 10")
    assert assign_campaign(shop, "recent", as_of="2024-06-01").counts["audience"] == 0
    _make(shop, "broken", audience="sql:no_such_column > 1")
    with pytest.raises(UserInputError, match="does not run"):
        assign_campaign(shop, "broken", as_of="2024-06-01")
    _make(shop, "rfm", audience="rfm:Champions")
    assert assign_campaign(shop, "rfm", as_of="2024-06-01").counts["audience"] >= 0
    _make(shop, "seg", audience="segment:2")
    with pytest.raises(NotComputedError, match="customers segments"):
        assign_campaign(shop, "seg", as_of="2024-06-01")
    _make(shop, "badrfm", audience="rfm:VIPs")
    with pytest.raises(UserInputError, match="RFM segment 'VIPs' not found"):
        assign_campaign(shop, "badrfm", as_of="2024-06-01")


def test_audiences_from_a_behavioural_segment_and_a_rule(shop):
    """segment:ID (or the segment's name) and rule:ID read the tables `customers segments` and
    `customers rules --apply` write; consent still applies (S261.. refused or never asked)."""
    members = [shop_id(i) for i in (1, 2, 3, 265)]
    ids = to_internal(shop, members)
    shop.con.execute("CREATE TABLE customer_segments (customer_id VARCHAR, segment_id INTEGER, segment_name VARCHAR)")
    shop.con.executemany("INSERT INTO customer_segments VALUES (?, ?, ?)",
                         [[i, 2, "Loyal big spenders"] for i in ids]
                         + [[to_internal(shop, [shop_id(9)])[0], 5, "Others"]])
    shop.con.execute("CREATE TABLE customer_rule_tags (customer_id VARCHAR, rule_id VARCHAR, action VARCHAR)")
    shop.con.executemany("INSERT INTO customer_rule_tags VALUES (?, ?, ?)",
                         [[ids[0], "R01", "reactivation email"], [ids[3], "R01", "reactivation email"],
                          [ids[1], "R02", "vip"]])
    for name, audience, expected in (("by-id", "segment:2", members[:3]), ("by-name", "segment:Loyal big spenders",
                                                                           members[:3]),
                                     ("tagged", "rule:R01", [members[0]])):
        _make(shop, name, audience=audience)
        r = assign_campaign(shop, name, as_of="2024-06-01")
        assert sorted(r.rows["customer_id"]) == expected, audience
        assert r.counts["audience"] == len(expected) + 1 and r.counts["excluded_no_consent"] == 1
    _make(shop, "nosuch", audience="rule:R99")
    with pytest.raises(UserInputError, match="rule_id 'R99' not found"):
        assign_campaign(shop, "nosuch", as_of="2024-06-01")


def test_start_and_end_dates_bound_the_assignment(shop):
    _make(shop, start="2024-06-01", end="2024-06-30")
    with pytest.raises(UserInputError, match="starts on"):
        assign_campaign(shop, "spring", as_of="2024-05-31")
    with pytest.raises(UserInputError, match="ended on"):
        assign_campaign(shop, "spring", as_of="2024-07-01")
    assert assign_campaign(shop, "spring", as_of="2024-06-15").counts["assigned"] == CONSENTING


def test_output_ids_are_shop_ids_on_a_pseudonymised_warehouse(demo_wh):
    _make(demo_wh, "demo", control=0.5)
    rows = assign_campaign(demo_wh, "demo", as_of="2011-10-01").rows
    shop_ids = set(pd.read_csv(demo_data_dir() / "customers.csv", dtype=str)["customer_id"])
    assert len(rows) > 100 and set(rows["customer_id"]) <= shop_ids


def test_the_budget_stops_new_assignments_at_the_offers_expected_cost(shop):
    # 260 consenting customers, 80 % offered: a cost of 2 per use, used by everyone in the worst case
    create_campaign(shop, Campaign("capped", "all", (parse_arm("discount_10", 2.0),), control=0.2, budget=100.0))
    first = assign_campaign(shop, "capped", as_of="2024-06-01")
    offered = (first.rows["arm"] == "discount_10").sum()
    assert offered == 50 and first.counts["excluded_budget"] == CONSENTING - first.counts["newly_assigned"] > 0
    # the cut is a prefix of the audience whatever the arms: the control keeps its planned share roughly
    assert 0.05 < (first.rows["arm"] == "control").mean() < 0.4
    runs = shop.query("SELECT excluded_budget FROM campaign_runs WHERE campaign = 'capped'")
    assert runs["excluded_budget"].tolist() == [first.counts["excluded_budget"]]
    again = assign_campaign(shop, "capped", as_of="2024-06-02")
    assert again.counts["newly_assigned"] == 0 and again.counts["excluded_budget"] == first.counts["excluded_budget"]
    free = create_campaign(shop, Campaign("free", "all", (parse_arm("free_shipping"),), control=0.2, budget=0.0))
    assert assign_campaign(shop, free.name, as_of="2024-06-01").counts["excluded_budget"] == 0  # costs nothing


def test_the_budget_uses_the_observed_use_rate_once_windows_have_closed(shop, tmp_path):
    from shoplens.campaigns.assign import expected_use

    from .conftest import load_orders

    create_campaign(shop, Campaign("rate", "all", (parse_arm("discount_10", 2.0),), control=0.2, window_days=7))
    rows = assign_campaign(shop, "rate", as_of="2024-06-01").rows.set_index("customer_id")
    offered = rows.index[rows["arm"] == "discount_10"]
    users = list(offered[: len(offered) // 4])
    load_orders(shop, tmp_path, [(f"U{c}", c, "2024-06-02 10:00:00", "completed", 20.0) for c in users], name="use")
    from datetime import datetime

    campaign = get_campaign(shop, "rate")
    assert expected_use(shop, campaign, datetime(2024, 6, 5)) == {"discount_10": 1.0}  # windows still open
    assert expected_use(shop, campaign, datetime(2024, 6, 20)) == {"discount_10": pytest.approx(len(users) / len(offered))}


def test_a_negative_budget_is_refused():
    with pytest.raises(UserInputError, match="--budget"):
        Campaign("x", "all", (parse_arm("a"),), budget=-1.0)


def test_an_uplift_audience_targets_the_customers_a_finished_campaign_moved(shop, tmp_path):
    from shoplens.errors import InsufficientDataError

    from .conftest import load_orders

    load_orders(shop, tmp_path, [(f"Q{i}", shop_id(i), "2024-01-10 13:00:00", "completed", 50.0)
                                 for i in range(1, 151)], name="second")  # S001..S150: two orders, the rest one
    create_campaign(shop, Campaign("first", "all", (parse_arm("discount_10"),), control=0.5, window_days=7))
    rows = assign_campaign(shop, "first", as_of="2024-06-01").rows.set_index("customer_id")
    with pytest.raises(InsufficientDataError, match="whose window has closed"):
        _make(shop, "next", audience="uplift:first:0.4")
        assign_campaign(shop, "next", as_of="2024-06-03")
    # the truth: the offer moves only two-order customers; nobody else buys
    movers = [c for c in rows.index if rows.loc[c, "arm"] != "control" and int(c[1:]) <= 150]
    load_orders(shop, tmp_path, [(f"M{c}", c, "2024-06-03 10:00:00", "completed", 30.0) for c in movers], name="m")
    got = assign_campaign(shop, "next", as_of="2024-06-20")
    assert got.counts["audience"] == 120  # 40 % of the 300 customers
    targeted = {int(c[1:]) for c in got.rows["customer_id"]}
    assert targeted and all(i <= 150 for i in targeted)
    for i, bad in enumerate(("uplift:first", "uplift:first:1.5", "uplift::0.4")):
        _make(shop, f"bad{i}", audience=bad)
        with pytest.raises(UserInputError, match="uplift:CAMPAIGN:FRACTION"):
            assign_campaign(shop, f"bad{i}", as_of="2024-06-20")
