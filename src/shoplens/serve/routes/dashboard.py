"""The dashboard: one static page with bundled assets (Plotly from the installed plotly package; no CDN)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
ASSETS = {"app.js": "text/javascript", "app.css": "text/css", "i18n.js": "text/javascript"}


@lru_cache(maxsize=None)
def _asset(name: str) -> bytes:
    if name == "plotly.min.js":
        return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js")).read_bytes()
    return (resources.files("shoplens.serve") / "dashboard" / name).read_bytes()


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(_asset("index.html"))


@router.get("/assets/{name}", response_class=Response)
def asset(name: str) -> Response:
    media = "text/javascript" if name == "plotly.min.js" else ASSETS.get(name)
    if media is None:
        raise HTTPException(404, f"no dashboard asset {name!r}")
    return Response(_asset(name), media_type=media, headers={"Cache-Control": "public, max-age=3600"})
