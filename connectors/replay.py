"""Offline mode: publish feed documents and Article JSONL from disk, as if they had just been fetched.

Files are parsed by the same code as live feeds (same decoding, same ids), so replaying a saved feed
and fetching it give the same articles. The source id of a file is its parent directory name
(`tests/fixtures/feeds/aljazeera/x.xml` → `aljazeera`); its `file:` URI is recorded as `feed_url` and
never fetched. Seen ids are kept in the same per-source state files as live polling, published before
they are marked, so a second replay publishes nothing new. A bad file is reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from pydantic import ValidationError

from connectors.parse import parse_feed
from connectors.produce import Publisher, fit_record
from connectors.state import FeedState
from pipeline.config import FeedConfig
from pipeline.errors import PipelineError
from pipeline.models import Article, utcnow
from pipeline.settings import Settings

__all__ = [
    "FEED_SUFFIXES",
    "JSONL_SUFFIX",
    "ReplayFileResult",
    "ReplayReport",
    "iter_replay_files",
    "replay_paths",
]

logger = logging.getLogger(__name__)

FEED_SUFFIXES: Final = frozenset({".xml", ".rss", ".atom"})
JSONL_SUFFIX: Final = ".jsonl"
MAX_FILE_BYTES: Final = 50 * 1024 * 1024


@dataclass
class ReplayFileResult:
    """What one file gave; `error` says why it was skipped (or which lines were)."""

    path: Path
    source: str
    entries: int = 0
    new: int = 0
    published: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class ReplayReport:
    """Per-file results and totals of one replay."""

    files: list[ReplayFileResult] = field(default_factory=list)

    @property
    def entries(self) -> int:
        return sum(f.entries for f in self.files)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.files)

    @property
    def published(self) -> int:
        return sum(f.published for f in self.files)

    @property
    def failed(self) -> list[ReplayFileResult]:
        """Files skipped because of an error."""
        return [f for f in self.files if f.error is not None and f.entries == 0]


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in FEED_SUFFIXES or path.suffix.lower() == JSONL_SUFFIX


def iter_replay_files(paths: Sequence[Path]) -> Iterator[tuple[Path, str | None]]:
    """Files to replay in a stable order, with an error for paths that cannot be used."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and _wanted(child) and not child.name.startswith("."):
                    yield child, None
        elif path.is_file():
            yield path, None if _wanted(path) else f"unsupported file type {path.suffix or '(none)'!r}"
        else:
            yield path, "no such file or directory"


def _read_jsonl(data: bytes, result: ReplayFileResult) -> list[Article]:
    """Articles from JSON lines; bad lines are counted as warnings, not fatal."""
    articles: list[Article] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            articles.append(Article.model_validate_json(line))
        except ValidationError as exc:
            result.warnings.append(f"line {number}: {exc.error_count()} validation error(s)")
    if result.warnings and not articles:
        result.error = f"no valid Article line ({len(result.warnings)} bad)"
    return articles


def _load(
    path: Path, result: ReplayFileResult, languages: dict[str, str], fetched: datetime, max_entries: int
) -> list[Article]:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        result.error = f"file larger than {MAX_FILE_BYTES} bytes"
        return []
    data = path.read_bytes()
    if path.suffix.lower() == JSONL_SUFFIX:
        return _read_jsonl(data, result)
    parsed = parse_feed(
        data,
        source=result.source,
        feed_url=path.resolve().as_uri(),
        language=languages.get(result.source, "ar"),
        fetched=fetched,
        max_entries=max_entries,
    )
    result.warnings.extend(parsed.warnings)
    return parsed.articles


def replay_paths(
    paths: Sequence[Path],
    *,
    publisher: Publisher,
    settings: Settings,
    feeds: Sequence[FeedConfig] = (),
    fetched: datetime | None = None,
) -> ReplayReport:
    """Parse and publish every feed/JSONL file under `paths`, skipping ids already seen per source.

    Args:
        paths: files and directories (walked recursively, sorted).
        publisher: where new articles go.
        settings: `state_dir`, `seen_ids_per_feed`, `fetch_max_entries` and `max_record_bytes`.
        feeds: configured feeds, to take each source's language (default "ar").
        fetched: timestamp recorded as `Article.fetched` (now by default).
    """
    fetched = fetched or utcnow()
    languages = {f.id: f.language for f in feeds}
    states: dict[str, FeedState] = {}
    report = ReplayReport()
    for path, problem in iter_replay_files(paths):
        result = ReplayFileResult(path=path, source=path.parent.name or "replay", error=problem)
        report.files.append(result)
        if problem is not None:
            continue
        try:
            articles = _load(path, result, languages, fetched, settings.fetch_max_entries)
        except (PipelineError, OSError, ValueError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            logger.warning("replay skipped a file", extra={"path": str(path), "error": result.error})
            continue
        result.entries = len(articles)
        by_source: dict[str, list[Article]] = {}
        queued: set[str] = set()
        for article in articles:
            if article.source not in states:
                states[article.source] = FeedState.for_feed(settings, article.source)
            if article.id in queued or states[article.source].is_seen(article.id):
                continue
            queued.add(article.id)
            by_source.setdefault(article.source, []).append(article)
        for source, fresh in by_source.items():
            result.new += len(fresh)
            try:
                result.published += publisher.publish(
                    [fit_record(a, settings.max_record_bytes) for a in fresh]
                )
            except PipelineError as exc:
                result.error = f"{type(exc).__name__}: {exc}"
                continue
            state = states[source]
            state.mark_seen(a.id for a in fresh)
            state.save()
    return report
