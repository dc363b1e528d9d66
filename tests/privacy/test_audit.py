"""The raw-PII audit searches every stored text value, whatever the table and column are called."""

from __future__ import annotations

from shoplens.privacy.audit import raw_pii_leaks


def test_a_leak_is_found_in_any_table_and_column_even_with_quotes_in_their_names(tmp_wh) -> None:
    tmp_wh.con.execute('CREATE TABLE "crm ""export""" ("note ""raw""" VARCHAR, other VARCHAR)')
    tmp_wh.con.execute('INSERT INTO "crm ""export""" VALUES (\'grace@example.com\', \'x\')')
    leaks = raw_pii_leaks(tmp_wh, {"email": ["grace@example.com"], "phone": ["+44 7700 933874"]})
    assert leaks.to_dict("records") == [{"kind": "email", "table": 'crm "export"', "column": 'note "raw"', "matches": 1}]
    assert raw_pii_leaks(tmp_wh, {"email": ["nobody@example.com"]}).empty
