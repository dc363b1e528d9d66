"""Insights: summaries and the HTML report built from warehouse tables and model results."""
