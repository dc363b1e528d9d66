"""recs.service.recommend: one customer's list (the API's case) equals the same customer's rows of a
batch, and ids the caller has mapped already are used as given."""

from __future__ import annotations

import pandas as pd
import pytest

from shoplens.privacy.ids import to_external, to_internal
from shoplens.recs.base import RecFilters
from shoplens.recs.service import recommend, train


def test_one_customer_gets_their_rows_of_the_batch_answer(demo_wh):
    train(demo_wh, until="2011-11-01", model="item_knn")
    refused = demo_wh.con.execute("SELECT customer_id FROM customers WHERE consent_personalization = FALSE "
                                  "ORDER BY customer_id LIMIT 1").fetchone()[0]
    allowed = demo_wh.con.execute("SELECT customer_id FROM customers WHERE consent_personalization "
                                  "ORDER BY customer_id LIMIT 2").fetchall()
    shop = to_external(demo_wh, [allowed[0][0], allowed[1][0], refused]) + ["never-a-customer"]
    filters = RecFilters(exclude_purchased=True)
    batch = recommend(demo_wh, shop, k=5, filters=filters)
    assert batch["customer_id"].tolist() == [c for c in shop for _ in range(5)]
    for customer in shop:
        one = recommend(demo_wh, [customer], k=5, filters=filters)
        expected = batch[batch["customer_id"] == customer].reset_index(drop=True)
        pd.testing.assert_frame_equal(one, expected)
        mapped = recommend(demo_wh, [customer], k=5, filters=filters, internal_ids=to_internal(demo_wh, [customer]))
        pd.testing.assert_frame_equal(mapped, expected)
    assert recommend(demo_wh, [shop[2]], k=5)["personalised"].sum() == 0  # no consent: the popular list
    with pytest.raises(ValueError, match="one to one"):
        recommend(demo_wh, shop[:2], k=5, internal_ids=to_internal(demo_wh, shop[:1]))
