"""The API router: every resource's routes, to be mounted once under :data:`API_PREFIX`.

>>> from fastapi.routing import iter_route_contexts
>>> API_PREFIX, sorted(r.path for r in iter_route_contexts(api_router.routes))[:3]
('/api/v1', ['/alerts', '/alias', '/audit'])
"""

from __future__ import annotations

from fastapi import APIRouter

from shoplens.serve.routes import (alerts, behaviour, campaigns, collect, customers, decisions, experiments, ingest,
                                   models, privacy, products, recs, rules, segments, system, text)
from shoplens.serve.settings import API_PREFIX

__all__ = ["API_PREFIX", "api_router"]

api_router = APIRouter()
api_router.include_router(system.open_router)  # /health: the only route open without a key
for resource in (system, ingest, collect, customers, segments, campaigns, text, products, recs, decisions, experiments,
                 models, privacy, behaviour, alerts, rules):
    api_router.include_router(resource.router)
