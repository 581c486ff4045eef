"""The web page at `/`: one HTML file with a little vanilla JavaScript that calls the API."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(tags=["page"])


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> str:
    return resources.files("milvus_backup.api").joinpath("static/index.html").read_text(encoding="utf-8")
