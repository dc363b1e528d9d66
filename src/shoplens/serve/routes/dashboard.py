"""The dashboard and the API docs: static pages with bundled assets, never a CDN.

Plotly comes from the installed ``plotly`` package, Swagger UI (5.x: it reads FastAPI's OpenAPI 3.1) from ``swagger-ui-py``; both are
served from ``/assets/`` so the server's CSP (``script-src 'self'``, no inline script) allows them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

from shoplens.serve.settings import API_PREFIX

router = APIRouter(include_in_schema=False)
ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "i18n.js": "text/javascript",
          "format.js": "text/javascript", "labels.js": "text/javascript", "swagger-init.js": "text/javascript", "docs.html": "text/html"}
# the Swagger UI files the docs page loads, from the installed swagger-ui-py package
SWAGGER_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
                  "swagger-ui-standalone-preset.js": "text/javascript"}


@lru_cache(maxsize=None)
def _asset(name: str) -> bytes:
    if name == "plotly.min.js":
        return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")).read_bytes()
    if name == "labels.js":  # the column headers of shoplens.formatting, shared with the report, and the
        import json  # metric definitions of shoplens.metrics (the tooltips)

        from shoplens.formatting import LANGS, dashboard_labels_js
        from shoplens.metrics import metric_tooltips

        tips = json.dumps({lang: metric_tooltips(lang) for lang in LANGS}, ensure_ascii=False)
        return (dashboard_labels_js() + f"window.SHOPLENS_METRICS = {tips};\n").encode()
    if name in SWAGGER_ASSETS:
        return (resources.files("swagger_ui") / "static" / name).read_bytes()
    return (resources.files("shoplens.serve") / "dashboard" / name).read_bytes()


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(_asset("index.html"))


@router.get(f"{API_PREFIX}/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """Swagger UI over ``/api/v1/openapi.json``, its script and styles served locally."""
    return HTMLResponse(_asset("docs.html"))


@router.get("/assets/{name}", response_class=Response)
def asset(name: str) -> Response:
    media = "text/javascript" if name == "plotly.min.js" else SWAGGER_ASSETS.get(name) or ASSETS.get(name)
    if media is None:
        raise HTTPException(404, f"no dashboard asset {name!r}")
    return Response(_asset(name), media_type=media, headers={"Cache-Control": "public, max-age=3600"})
