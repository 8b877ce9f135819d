"""`GET /entities/{id}`: a canonical entity with its names, mention timeline, co-mentions, latest articles.

Everything comes from one filtered search (the entity as a filter, newest first), so it works the
same on every search backend: per-day facets are the timeline, entity facets the co-mentions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from pipeline.api.errors import ApiError
from pipeline.api.models import DayCount, EntityCount, EntityProfile
from pipeline.api.search import summary_of
from pipeline.api.services import Services, services
from pipeline.search.base import SearchQuery

__all__ = ["entity_profile", "router"]

router = APIRouter(tags=["entities"])

TIMELINE_DAYS = 100  # distinct days with mentions (the latest ones) a timeline shows
CO_MENTIONS = 12
LATEST = 10


async def entity_profile(svc: Services, entity_id: str) -> EntityProfile:
    """The profile of a registry entity (by id or any name) or of an indexed `u:…` name; 404 otherwise."""
    ent = svc.registry.resolve(entity_id)
    canonical = ent.id if ent is not None else entity_id
    query = SearchQuery(entities=[canonical], sort="newest", size=LATEST, facet_size=TIMELINE_DAYS)
    result = await (await svc.search_backend()).search(query)
    if ent is None and result.total == 0:
        raise ApiError(404, f"unknown entity {entity_id!r}", field="id")
    mentions = [m for h in result.hits for m in h.article.entities if m.canonical_id == canonical]
    variants = list(dict.fromkeys(m.surface for m in mentions))
    co = [
        EntityCount(id=f.value, name=f.label or f.value, count=f.count)
        for f in result.facets.entities
        if f.value != canonical
    ][:CO_MENTIONS]
    for c in co:
        known = svc.registry.entities.get(c.id)
        c.type = known.type if known else (c.id.split(":")[1].upper() if c.id.startswith("u:") else "")
    timeline = sorted(
        (DayCount.model_validate({"day": f.value, "count": f.count}) for f in result.facets.days),
        key=lambda d: d.day,
    )
    return EntityProfile(
        id=canonical,
        type=ent.type if ent else (mentions[0].type if mentions else ""),
        name_ar=ent.name_ar if ent else (mentions[0].canonical_name if mentions else entity_id),
        name_en=ent.name_en if ent else "",
        aliases_ar=list(ent.aliases_ar) if ent else [],
        aliases_en=list(ent.aliases_en) if ent else [],
        variants=variants,
        role=ent.role if ent else "",
        country=ent.country if ent else None,
        in_registry=ent is not None,
        articles=result.total,
        articles_relation=result.total_relation,
        timeline=timeline,
        co_mentions=co,
        latest=[summary_of(svc, h.article) for h in result.hits],
    )


@router.get("/entities/{entity_id}", response_model=EntityProfile, summary="A canonical entity")
async def entity(
    entity_id: Annotated[str, Path(min_length=1, max_length=200)], svc: Annotated[Services, Depends(services)]
) -> EntityProfile:
    """Names and variants, type, per-day mention timeline, co-mentioned entities and latest articles."""
    return await entity_profile(svc, entity_id)
