"""Warehouse backends. DuckDB (embedded, default); Spark comes later behind the same interface."""

from shoplens.store.warehouse import Warehouse

__all__ = ["Warehouse"]
