"""`rasd reindex` on an index whose terms an older registry made (the embedded backend)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.enrich.enricher import load_enricher
from pipeline.models import Article
from pipeline.search import SqliteBackend
from pipeline.settings import Settings
from pipeline.text import Analyzer

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _repo_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RASD_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))


def _index_with(analyzer: Analyzer, articles: list[Article]) -> None:
    async def go() -> None:
        path = Settings().index_path
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = SqliteBackend(path, analyzer)
        await backend.setup()
        await backend.index_many(articles)
        await backend.close()

    asyncio.run(go())


def test_reindex_mends_terms_an_older_registry_made(capsys: pytest.CaptureFixture[str]) -> None:
    articles = [
        Article(id=f"article-{n:04d}", source="test", title=title, body="وصلت الشحنة اليوم")
        for n, title in enumerate(["مساعدات للبنان", "قمة في القاهرة", "أمطار غزيرة"])
    ]
    _index_with(Analyzer(), articles)  # no protected names: للبنان was cut to ل + بنان
    assert main(["search", "لبنان"]) == 3  # nothing found
    assert main(["reindex", "--check"]) == 3
    assert "3 of 3 indexed articles need re-analysing" in capsys.readouterr().out
    assert main(["reindex", "--batch", "2"]) == 0
    captured = capsys.readouterr()
    assert "re-analysed 3 articles; the index is current" in captured.out
    assert "re-analysed 2 of 3" in captured.err
    assert main(["reindex", "--check"]) == 0
    assert "0 of 3 indexed articles need re-analysing" in capsys.readouterr().out
    assert main(["search", "لبنان"]) == 0
    assert "مساعدات" in capsys.readouterr().out


def test_reindex_enrich_gives_old_articles_today_s_entities(capsys: pytest.CaptureFixture[str]) -> None:
    enricher = load_enricher(Settings())
    fresh = enricher.enrich_many(
        [
            Article(id=f"article-{n:04d}", source="test", title=title, body="وصل الوفد صباح اليوم")
            for n, title in enumerate(["بوتين يستقبل وفدا في موسكو", "أمطار غزيرة", "رسالة من بوتين"])
        ]
    )
    # as an older registry left them: no entities found
    _index_with(enricher.analyzer, [a.model_copy(update={"entities": []}) for a in fresh])
    assert main(["search", "--entity", "Q7747"]) == 3
    capsys.readouterr()
    assert main(["reindex", "--enrich", "--batch", "2"]) == 0
    captured = capsys.readouterr()
    assert "0 of 3 indexed articles need re-analysing" in captured.out
    assert "re-enriched 3 articles: 2 written with a new enrichment" in captured.out
    assert "re-enriched 2 of 3, 1 changed" in captured.err
    assert main(["search", "--entity", "Q7747", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert sorted(hit["article"]["id"] for hit in found["hits"]) == ["article-0000", "article-0002"]


def test_reindex_refuses_check_with_enrich(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["reindex", "--check", "--enrich"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_search_takes_unknown_names_ids_and_checks_topics_as_the_api_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    enricher = load_enricher(Settings())
    fresh = enricher.enrich_many(
        [
            Article(
                id="article-0000",
                source="test",
                title="هيل ديكنسون يزور الميناء",
                body="قال المدير هيل ديكنسون إن الشحنة وصلت.",
                published="2026-03-02T10:00:00Z",
            )
        ]
    )
    unknown = [m.canonical_id for m in fresh[0].entities if m.canonical_id.startswith("u:per:")]
    assert unknown, fresh[0].entities  # a name the registry does not know gets an id of its own
    _index_with(enricher.analyzer, fresh)
    capsys.readouterr()
    assert main(["search", "--entity", unknown[0]]) == 0  # "unknown entity" before
    assert "هيل ديكنسون" in capsys.readouterr().out
    assert main(["search", "--entity", "nobody-known"]) == 1
    assert "unknown entity 'nobody-known'" in capsys.readouterr().err
    assert main(["search", "الشحنة", "--topic", "nosuch"]) == 1  # was "0 article(s)", exit 3
    assert "--topic: unknown topic(s) ['nosuch']" in capsys.readouterr().err
    assert main(["search", "الشحنة", "--since", "٢٠٢٦-٠٣-٠١", "--until", "٢٠٢٦-٠٣-٠٢"]) == 0
    assert main(["search", "الشحنة", "--since", "٢٠٢٦-٠٣-٠٣"]) == 3


def test_a_search_for_a_name_finds_every_spelling_the_registry_lists(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An analyst's first query is a name typed as words: بوتين must find بوطين, بوتن and Putin,
    and كيم جونغ أون typed bare must find كيم جونج اون and Kim Jong Un."""
    enricher = load_enricher(Settings())
    titles = {
        "article-0001": "هدد الرئيس الروسي بوطين بالرد",
        "article-0002": "قال Putin إن المحادثات مستمرة",
        "article-0003": "وقع الرئيس الروسي بوتن مرسوما",
        "article-0004": "بوت المحادثة يجيب عن الأسئلة",
        "article-0005": "وصل كيم جونج اون إلى موسكو",
        "article-0006": "Kim Jong Un arrives in Moscow",
    }
    fresh = enricher.enrich_many(
        [Article(id=k, source="test", title=t, body="وصل الوفد اليوم") for k, t in titles.items()]
    )
    _index_with(enricher.analyzer, fresh)
    capsys.readouterr()
    assert main(["search", "بوتين", "--json"]) == 0
    found = {hit["article"]["id"] for hit in json.loads(capsys.readouterr().out)["hits"]}
    assert found == {"article-0001", "article-0002", "article-0003"}
    assert main(["search", "كيم جونغ أون", "--json"]) == 0  # bare words, not a quoted phrase
    found = {hit["article"]["id"] for hit in json.loads(capsys.readouterr().out)["hits"]}
    assert found == {"article-0005", "article-0006"}
