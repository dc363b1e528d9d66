"""The warehouse: DuckDB (embedded, default) or Spark (``--engine spark``) behind one engine
interface (:mod:`shoplens.store.engine`), and the model registry."""

from shoplens.store.warehouse import Warehouse

__all__ = ["Warehouse"]
