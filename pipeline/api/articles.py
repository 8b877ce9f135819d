"""`GET /articles/{id}`: the enriched article as stored, with its entity spans (offsets into the field)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from pipeline.api.errors import ApiError
from pipeline.api.services import Services, services
from pipeline.models import Article

__all__ = ["get_article", "router"]

router = APIRouter(tags=["articles"])


async def get_article(svc: Services, article_id: str) -> Article:
    """The stored article; `ApiError` 404 when the index does not have it."""
    article = await (await svc.search_backend()).get(article_id)
    if article is None:
        raise ApiError(404, f"no article with id {article_id!r}", field="id")
    return article


@router.get("/articles/{article_id:path}", response_model=Article, summary="An enriched article")
async def article(
    article_id: Annotated[str, Path(min_length=1, max_length=200)],
    svc: Annotated[Services, Depends(services)],
) -> Article:
    """Title, summary and body as published (sanitised), entities with offsets, topics, keywords.

    Ids are free strings (a replayed JSONL line may use `feed/2026/item-1`): the id is the rest of the
    path, `/` included, so a client may quote it or not."""
    return await get_article(svc, article_id)
