"""`rasd api`: serve the HTTP API and the web UI with uvicorn (also started by `rasd run`)."""

from __future__ import annotations

import argparse

from pipeline.settings import Settings

__all__ = ["add_parser", "run_api", "serve"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("api", help="serve the HTTP API (OpenAPI at /docs) and the Arabic web UI (/ui/)")
    p.add_argument("--host", help="listen address [RASD_API_HOST, 127.0.0.1]")
    p.add_argument("--port", type=int, help="listen port [RASD_API_PORT, 8000]")


def serve(settings: Settings, host: str, port: int) -> None:
    """Run uvicorn until Ctrl-C/SIGTERM; open event streams are closed after a short grace period."""
    import uvicorn

    from pipeline.api import create_api

    config = uvicorn.Config(
        create_api(settings, host=host),
        host=host,
        port=port,
        log_level="warning" if settings.log_level in ("warn", "error") else "info",
        timeout_graceful_shutdown=2,
        proxy_headers=False,
    )
    uvicorn.Server(config).run()


def run_api(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    print(f"Rasd web UI: http://{host}:{port}/ui/  API docs: http://{host}:{port}/docs", flush=True)
    serve(settings, host, port)
    return 0
