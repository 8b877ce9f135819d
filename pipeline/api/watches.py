"""`GET/POST/DELETE /watches` and pause/resume: the same validation and store as `rasd watch`.

Changes reach running workers at their next batch (they poll the watch store), no restart.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response

from pipeline.alerts.manage import WatchEntry, WatchManager, validate_watch
from pipeline.api.errors import ApiError
from pipeline.api.models import WatchChange, WatchRow
from pipeline.api.services import Services, services
from pipeline.errors import ConfigError

__all__ = ["router"]

router = APIRouter(tags=["watches"])

WatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="watch id")]

_EXAMPLE = {
    "id": "hormuz",
    "name": "مضيق هرمز",
    "owner": "gulf-desk",
    "any_of": {"entities": ["مضيق هرمز"], "words": ["ناقلة نفط"]},
    "none_of": {"words": ["كرة القدم"]},
}


def _row(manager: WatchManager, watch_id: str) -> WatchRow:
    return WatchRow.model_validate(manager.describe(_find(manager, watch_id)))


def _find(manager: WatchManager, watch_id: str) -> WatchEntry:
    try:
        return manager.find(watch_id)
    except ConfigError as exc:
        raise ApiError(404, f"unknown watch {watch_id!r}", field="id") from exc


@router.get("/watches", response_model=list[WatchRow], summary="Watches in force")
def list_watches(svc: Annotated[Services, Depends(services)]) -> list[WatchRow]:
    """Config-file watches (as overridden) first, then run-time ones; state, origin, conditions."""
    manager = svc.watches()
    return [WatchRow.model_validate(manager.describe(e)) for e in manager.in_force()]


@router.get("/watches/{watch_id}", response_model=WatchRow, summary="One watch")
def get_watch(watch_id: WatchId, svc: Annotated[Services, Depends(services)]) -> WatchRow:
    return _row(svc.watches(), watch_id)


@router.post("/watches", response_model=WatchChange, status_code=201, summary="Add a watch")
def add_watch(
    svc: Annotated[Services, Depends(services)],
    response: Response,
    body: Annotated[dict[str, Any], Body(openapi_examples={"hormuz": {"value": _EXAMPLE}})],
    replace: Annotated[bool, Query(description="replace (or override) a watch with this id")] = False,
) -> WatchChange:
    """Validate and compile the watch (same fields as `config/watchlists.yaml`), then store it.

    400 naming the field for an unknown entity or topic, an empty condition, an unknown field;
    409 when the id exists and `replace` is not set.
    """
    watch = validate_watch(body)
    manager = svc.watches()
    if not replace and any(e.watch.id == watch.id for e in manager.in_force()):
        raise ApiError(409, f"watch {watch.id!r} already exists: use ?replace=true to replace it", field="id")
    status = manager.add(watch, replace=replace)
    if status == "replaced":
        response.status_code = 200
    return WatchChange(status=status, watch=_row(manager, watch.id))


def _set_paused(svc: Services, watch_id: str, paused: bool) -> WatchChange:
    manager = svc.watches()
    _find(manager, watch_id)
    changed = manager.set_paused(watch_id, paused=paused)
    status = ("paused" if paused else "resumed") if changed else "unchanged"
    return WatchChange(status=status, watch=_row(manager, watch_id))


@router.post("/watches/{watch_id}/pause", response_model=WatchChange, summary="Pause a watch")
def pause_watch(watch_id: WatchId, svc: Annotated[Services, Depends(services)]) -> WatchChange:
    return _set_paused(svc, watch_id, True)


@router.post("/watches/{watch_id}/resume", response_model=WatchChange, summary="Resume a watch")
def resume_watch(watch_id: WatchId, svc: Annotated[Services, Depends(services)]) -> WatchChange:
    return _set_paused(svc, watch_id, False)


@router.delete("/watches/{watch_id}", response_model=WatchChange, summary="Remove a watch")
def delete_watch(watch_id: WatchId, svc: Annotated[Services, Depends(services)]) -> WatchChange:
    """A config-file watch stays removed (a tombstone in the watch store)."""
    manager = svc.watches()
    _find(manager, watch_id)
    manager.remove(watch_id)
    return WatchChange(status="removed")
