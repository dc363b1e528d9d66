"""Schemas of the ingest resource: an uploaded file's accounting.

>>> Accounting(table="orders", files=["o.csv"], read=3, loaded=2, updated=0, quarantined=1, duplicates=0,
...            seconds=0.1).read
3
"""

from __future__ import annotations

from fastapi import UploadFile
from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel, Number


class IngestForm(BaseModel):
    """The multipart form of an upload: the file and either a table or a mapping preset."""

    file: UploadFile = Field(description="CSV/TSV, Parquet or JSON Lines, optionally gzipped")
    table: str | None = Field(None, description="canonical table (omit with a preset)")
    preset: str | None = Field(None, description="mapping preset, e.g. online-retail")
    strict: bool = Field(False, description="load nothing when a row fails a check (instead of quarantining it)")


class DerivedCounts(ApiModel):
    read: int = 0
    loaded: int = 0
    updated: int = 0
    quarantined: int = 0
    duplicates: int = 0


class MoneySums(ApiModel):
    """One money column summed over the file's rows (exact to 4 places): read = loaded + updated +
    quarantined + duplicates."""

    read: Number = Field(description="the file's total")
    loaded: Number
    updated: Number
    quarantined: Number
    duplicates: Number


class Accounting(ApiModel):
    """read = loaded + updated + quarantined + duplicates."""

    table: str
    files: list[str] = Field(description="the uploaded file's name")
    read: int
    loaded: int
    updated: int
    quarantined: int
    duplicates: int
    seconds: Number
    run_id: str | None = None
    derived: dict[str, DerivedCounts] | None = Field(
        None, description="tables loaded alongside (e.g. products from order lines), with their own accounting")
    money: dict[str, dict[str, MoneySums]] | None = Field(
        None, description="table -> money column (and `value`: the order lines' value) -> sums; "
                          "absent when the file has no money columns")
