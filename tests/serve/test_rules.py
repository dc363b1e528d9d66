"""The rules resource (the dashboard's Rules page): the generated customer rules in English and
Chinese, the customers a rule tags (analysts; consent read again at each answer; the shop's ids),
and the strongest cross-sell rules with product names."""

from __future__ import annotations

from tests.serve.serve_helpers import auth


def _mined(client) -> None:
    from shoplens.customers.rules import apply_rules, generate_rules
    from shoplens.recs.service import mine_rules

    wh = client.app.state.warehouse
    generate_rules(wh)
    apply_rules(wh)
    mine_rules(wh, min_support=0.01, min_baskets=10, min_confidence=0.3)


def test_rules_before_they_are_mined_name_the_command(served):
    client, keys, _ = served
    answer = client.get("/api/v1/rules", headers=auth(keys["viewer"]))
    assert answer.status_code == 409 and "shoplens customers rules" in answer.json()["detail"]
    answer = client.get("/api/v1/rules/cross-sell", headers=auth(keys["viewer"]))
    assert answer.status_code == 409 and "shoplens recs rules" in answer.json()["detail"]


def test_customer_rules_in_both_languages_with_their_customers(served):
    client, keys, _ = served
    _mined(client)
    wh = client.app.state.warehouse
    en = client.get("/api/v1/rules", headers=auth(keys["viewer"])).json()
    assert en["currency"] == "GBP"
    zh = client.get("/api/v1/rules?lang=zh", headers=auth(keys["viewer"])).json()
    stored = wh.table("customer_rules")
    assert en["count"] == zh["count"] == len(stored) > 0 and en["computed_at"]
    assert [r["rule_id"] for r in en["data"]] == [r["rule_id"] for r in zh["data"]]
    validated = [r["validated"] for r in en["data"]]
    assert validated == sorted(validated, reverse=True)  # validated rules first
    by_id = stored.set_index("rule_id")
    for e, z in zip(en["data"], zh["data"], strict=True):
        assert e["rule"] == by_id.loc[e["rule_id"], "rule"] and z["rule"] == by_id.loc[e["rule_id"], "rule_zh"]
        assert e["rule"].startswith("IF " + e["condition"]) and z["rule"].startswith("如果" + z["condition"])
        assert z["explanation"] == by_id.loc[e["rule_id"], "explanation_zh"]
    tags = wh.table("customer_rule_tags").groupby("rule_id").size()
    assert {r["rule_id"]: r["customers"] for r in en["data"] if r["customers"]} == tags.to_dict()


def test_a_rules_members_are_its_tagged_customers_who_consent_by_shop_id(served):
    from shoplens.privacy.ids import to_external

    client, keys, _ = served
    _mined(client)
    wh = client.app.state.warehouse
    rule = client.get("/api/v1/rules", headers=auth(keys["viewer"])).json()["data"][0]["rule_id"]
    assert client.get(f"/api/v1/rules/{rule}/members", headers=auth(keys["viewer"])).status_code == 403
    tagged = [r[0] for r in wh.con.execute("SELECT customer_id FROM customer_rule_tags WHERE rule_id = ?", [rule]).fetchall()]
    first = client.get(f"/api/v1/rules/{rule}/members?limit=5", headers=auth(keys["analyst"])).json()
    assert first["count"] == len(tagged) and len(first["data"]) == 5
    everyone = client.get(f"/api/v1/rules/{rule}/members?limit=1000", headers=auth(keys["analyst"])).json()["data"]
    ids = [m["customer_id"] for m in everyone]
    assert ids == sorted(to_external(wh, tagged))  # the shop's ids, in their own order (not the pseudonyms')
    assert ids[:5] == [m["customer_id"] for m in first["data"]]
    # consent withdrawn after the rules were applied: the customer leaves the list at once
    wh.con.execute("UPDATE customers SET consent_personalization = false WHERE customer_id = ?", [tagged[0]])
    again = client.get(f"/api/v1/rules/{rule}/members?limit=1000", headers=auth(keys["analyst"])).json()
    assert again["count"] == len(tagged) - 1 and to_external(wh, [tagged[0]])[0] not in [m["customer_id"] for m in again["data"]]
    assert client.get("/api/v1/rules/R999/members", headers=auth(keys["analyst"])).status_code == 404


def test_cross_sell_rules_carry_product_names_strongest_first(served):
    client, keys, _ = served
    _mined(client)
    wh = client.app.state.warehouse
    answer = client.get("/api/v1/rules/cross-sell?n=10", headers=auth(keys["viewer"])).json()
    names = dict(wh.con.execute("SELECT CAST(product_id AS VARCHAR), name FROM products").fetchall())
    assert answer["count"] == len(answer["data"]) == 10 and answer["computed_at"]
    lifts = [r["lift"] for r in answer["data"]]
    assert lifts == sorted(lifts, reverse=True)
    pairs = [frozenset((r["antecedent"], r["consequent"])) for r in answer["data"]]
    assert len(set(pairs)) == len(pairs)  # A -> B and B -> A: one of them
    stored = wh.table("association_rules").set_index(["antecedent", "consequent"])
    for r in answer["data"]:  # the direction kept is the more confident one
        if (r["consequent"], r["antecedent"]) in stored.index:
            assert r["confidence"] >= stored.loc[(r["consequent"], r["antecedent"]), "confidence"]
    for r in answer["data"]:
        assert r["antecedent_name"] == " + ".join(names[p] for p in r["antecedent"].split(" + "))
        assert r["consequent_name"] == " + ".join(names[p] for p in r["consequent"].split(" + "))


def test_a_side_of_several_products_is_named_product_by_product(tmp_path):
    import pandas as pd

    from shoplens.recs.service import strongest_rules
    from shoplens.store.warehouse import Warehouse

    with Warehouse(tmp_path / "w.duckdb") as wh:
        wh.con.execute("INSERT INTO products (product_id, name) VALUES ('1', 'MUG'), ('2', 'TEAPOT'), ('3', 'SAUCER')")
        wh.write_table("association_rules", pd.DataFrame({
            "antecedent": ["1 + 2", "3", "9", "1"], "consequent": ["3", "1", "1", "3"], "support": [0.1] * 4,
            "confidence": [0.5, 0.6, 0.6, 0.4], "lift": [2.0, 3.0, 3.0, 3.0], "baskets": [5] * 4}), kind="model")
        rules = strongest_rules(wh, 10)
    assert rules[["antecedent", "antecedent_name", "consequent_name"]].values.tolist() == [
        ["3", "SAUCER", "MUG"], ["9", "9", "MUG"], ["1 + 2", "MUG + TEAPOT", "SAUCER"]]
