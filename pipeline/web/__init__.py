"""The web UI: Arabic-first (RTL) server-rendered pages over the same functions as the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pipeline.web.routes import router, ui_error

__all__ = ["STATIC_DIR", "mount_web"]

STATIC_DIR = Path(__file__).parent / "static"


def mount_web(app: FastAPI) -> None:
    """Add the UI pages (`/ui/…`) and their static files (`/ui/static/…`) to `app`; errors and refusals
    under `/ui/` become HTML pages (see `pipeline.api.errors.error_response`)."""
    app.mount("/ui/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.state.ui_error = ui_error
