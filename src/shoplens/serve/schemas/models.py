"""Schemas of the model registry resource.

>>> ModelVersionOut(name="recs", version=2, status="promoted").version
2
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from shoplens.serve.schemas import ApiModel, PageQuery, Row, Time


class ModelVersion(Row):
    name: str | None = None
    version: int | None = None
    kind: str | None = Field(None, description="the model's class or policy kind")
    status: str | None = Field(None, description="promoted (served), archived or candidate")
    created_at: Time | None = None
    data_start: Time | None = Field(None, description="training data window (null: no start)")
    data_end: Time | None = None
    metrics: str | None = Field(None, description="JSON object of the evaluation metrics")
    code_version: str | None = None


class PromoteQuery(BaseModel):
    version: int = Field(ge=1, le=1_000_000, description="the version to serve")


class ModelsQuery(PageQuery):
    name: str | None = Field(None, max_length=200, description="only this model's versions")


class ModelVersionOut(ApiModel):
    name: str
    version: int
    status: str
