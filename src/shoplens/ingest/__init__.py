"""Ingest: source files -> validated canonical tables, with quarantine and accounting."""

from shoplens.ingest.loader import Counts, IngestResult, ingest
from shoplens.ingest.mapping import Mapping, list_presets

__all__ = ["Counts", "IngestResult", "Mapping", "ingest", "list_presets"]
