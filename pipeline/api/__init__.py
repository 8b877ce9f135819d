"""The HTTP API (FastAPI): search, articles, entities, alerts (with live SSE), watches, health, metrics.

`create_api(settings)` builds the app; `rasd api` and `rasd run` serve it with uvicorn, together with
the web UI (`pipeline.web`).
"""

from pipeline.api.app import create_api
from pipeline.api.errors import ApiError
from pipeline.api.services import Services

__all__ = ["ApiError", "Services", "create_api"]
