"""The canonical model and its documentation."""

from pathlib import Path

import pytest

from shoplens.errors import UnknownTableError
from shoplens.schema import TABLES, data_model_markdown, get_table

REQUIRED = {
    "customers": ["customer_id", "created_at", "country", "city", "gender", "birth_year", "email", "phone", "name",
                  "consent_marketing", "consent_personalization"],
    "products": ["product_id", "name", "category", "brand", "price", "description"],
    "orders": ["order_id", "customer_id", "ordered_at", "status", "total_amount", "currency"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price", "line_number"],
    "events": ["customer_id", "session_id", "event_type", "product_id", "occurred_at", "message_id"],
    "reviews": ["review_id", "customer_id", "product_id", "order_id", "rating", "text", "created_at", "language"],
    "support_messages": ["message_id", "conversation_id", "customer_id", "sender", "text", "created_at"],
    "decisions": ["decision_id", "occurred_at", "customer_id", "context", "action", "propensity", "reward", "policy"],
}


@pytest.mark.parametrize("table", list(REQUIRED))
def test_tables_have_the_documented_columns(table):
    assert set(REQUIRED[table]) <= set(TABLES[table].column_names)


def test_unknown_table():
    with pytest.raises(UnknownTableError, match="unknown table 'x'; choose one of: customers"):
        get_table("x")


def test_docs_are_in_sync_with_the_schema():
    doc = (Path(__file__).parents[1] / "docs" / "data-model.md").read_text(encoding="utf-8")
    assert data_model_markdown() in doc, "regenerate the tables section of docs/data-model.md from schema.data_model_markdown()"
