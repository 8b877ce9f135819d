"""The app factory: the HTTP API (OpenAPI at `/docs`, `/openapi.json`) and the web UI in one process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from pipeline.alerts.mirror import AlertMirror
from pipeline.api import alerts, articles, entities, health, search, watches
from pipeline.api.access import access_policy, install_access_control
from pipeline.api.errors import install_error_handlers
from pipeline.api.health import BrokerGauges
from pipeline.api.limits import BodyLimit
from pipeline.api.services import Services
from pipeline.errors import ConfigError, SearchUnavailable
from pipeline.settings import Settings

__all__ = ["create_api"]

log = logging.getLogger("rasd.api")

DESCRIPTION = """Search, entities, alerts and watches of a Rasd deployment.

Free text uses the safe syntax only (words, "phrases", -excluded, OR); nothing reaches an engine's
query parser. Errors are JSON: `{"error": {"status", "code", "message", "field"}}`.
The Arabic web UI is served under `/ui/`."""


def create_api(settings: Settings, *, web: bool = True, host: str | None = None) -> FastAPI:
    """The FastAPI app for `settings`, to be served on `host` (default `RASD_API_HOST`); config and
    stores are loaded when it starts (lifespan).

    Raises:
        ConfigError: `host` is not loopback and no API key is configured (see `pipeline.api.access`),
            or the alerts topic is to be read with no broker named.
    """
    policy = access_policy(settings, host or settings.api_host)

    if settings.api_alerts_from_topic and not settings.kafka_bootstrap:
        raise ConfigError("RASD_API_ALERTS_FROM_TOPIC=true needs RASD_KAFKA_BOOTSTRAP: the topic to read")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services.load(settings)
        try:
            await svc.search_backend()
        except SearchUnavailable as exc:  # serve anyway: /healthz says 503 until it is back
            log.warning("search backend unavailable at start-up, will retry on use: %s", exc)
        app.state.services = svc
        app.state.broker_gauges = BrokerGauges(settings)
        mirror = None
        if settings.api_alerts_from_topic and settings.kafka_bootstrap:
            mirror = AlertMirror(settings.kafka_bootstrap, svc.alerts)
            mirror.start()
        try:
            yield
        finally:
            if mirror is not None:
                mirror.stop()
            await svc.close()

    app = FastAPI(title="Rasd", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_error_handlers(app)
    app.add_middleware(BodyLimit)  # first: inside the access middleware (see `BodyLimit`)
    install_access_control(app, policy)
    for module in (search, articles, entities, alerts, watches, health):
        app.include_router(module.router)
    if web:
        from pipeline.web import mount_web

        mount_web(app)

        @app.get("/", include_in_schema=False)
        def home() -> RedirectResponse:
            return RedirectResponse("/ui/search", status_code=307)

    return app
