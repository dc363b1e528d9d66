"""Schemas of the privacy resource: erasure and its verification.

>>> EraseIn(customer_id="12348").customer_id
'12348'
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel


class EraseIn(BaseModel):
    customer_id: Annotated[str, Field(min_length=1, max_length=200, description="the shop's own customer id")]


class ReportedFile(ApiModel):
    path: str = Field(description="a file below the warehouse folder that names the customer, left untouched")
    reason: str


class ErasureOut(ApiModel):
    customer: str
    erasure_id: str
    removed: dict[str, int] = Field(description="rows or items removed per table, model or file")
    total: int
    reported: list[ReportedFile]


class VerifyOut(ApiModel):
    customer: str
    remaining: int = Field(description="references left in what shoplens holds")
    clean: bool = Field(description="no reference left")
    references: dict[str, int] = Field(description="where the remaining references are")
    checked: list[str] = Field(description="what was searched")
    reported: list[ReportedFile]
