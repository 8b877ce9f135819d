"""The behavioural contract every `SearchBackend` passes, run on real Arabic articles.

Add a backend by adding a `pytest.param` to `BACKENDS` and a branch in `_make_backend`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.enrich.refresh import RefreshProgress, reenrich
from pipeline.errors import InvalidQuery
from pipeline.models import Article
from pipeline.search import SearchBackend, SearchQuery, SearchResult, SqliteBackend
from pipeline.settings import Settings
from pipeline.text import Analyzer
from tests.pipeline.search.search_corpus import IRAN, KIM, LEBANON, PUTIN, SEED_ID, TRUMP

pytestmark = pytest.mark.anyio

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("elasticsearch", id="elasticsearch")]


def _make_backend(name: str, tmp_path: Path, analyzer: Analyzer, prefix: str | None = None) -> SearchBackend:
    if name == "sqlite":
        return SqliteBackend(tmp_path / "index.sqlite3", analyzer)
    if name == "elasticsearch":
        if not os.environ.get("RASD_ELASTICSEARCH_URL"):
            pytest.skip("Elasticsearch contract tests need RASD_ELASTICSEARCH_URL")
        from pipeline.search.elasticsearch import (
            ElasticsearchBackend,
            IndexNames,
            IndexOptions,
            client_from_settings,
        )

        # the URL and credentials come from RASD_ELASTICSEARCH_*; every test gets its own indices,
        # and every write is refreshed so the next read sees it
        return ElasticsearchBackend(
            client_from_settings(Settings()),
            analyzer,
            names=IndexNames(prefix or f"rasd-test-{uuid.uuid4().hex[:12]}"),
            index_options=IndexOptions(replicas=0),
            refresh=True,
        )
    raise AssertionError(f"unknown backend {name}")


@pytest.fixture(params=BACKENDS)
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, analyzer: Analyzer
) -> AsyncIterator[SearchBackend]:
    """An empty backend, set up; closed after the test."""
    instance = _make_backend(request.param, tmp_path, analyzer)
    await instance.setup()
    try:
        yield instance
    finally:
        await _dispose(instance)


@contextlib.asynccontextmanager
async def _headlines(
    name: str, tmp_path: Path, analyzer: Analyzer, docs: dict[str, str]
) -> AsyncIterator[SearchBackend]:
    """A backend of `name` holding one article per `docs` entry (id -> title, no body); disposed after."""
    backend = _make_backend(name, tmp_path, analyzer)
    await backend.setup()
    try:
        await backend.index_many([Article(id=k, source="t", title=v, body="") for k, v in docs.items()])
        yield backend
    finally:
        await _dispose(backend)


async def _dispose(instance: SearchBackend) -> None:
    drop = getattr(instance, "drop", None)  # Elasticsearch: delete this test's indices
    if drop is not None:
        await drop()
    await instance.close()


@pytest.fixture
async def indexed(backend: SearchBackend, corpus: list[Article]) -> SearchBackend:
    """The backend holding the whole corpus."""
    report = await backend.index_many(corpus)
    assert report.failed == []
    assert sorted(report.indexed) == sorted(a.id for a in corpus)
    return backend


def by_title(corpus: list[Article], start: str) -> Article:
    matches = [a for a in corpus if a.title.startswith(start)]
    assert len(matches) == 1, start
    return matches[0]


async def search(backend: SearchBackend, text: str = "", **kwargs: Any) -> SearchResult:
    kwargs.setdefault("size", 100)
    return await backend.search(SearchQuery(text=text, **kwargs))


def ids(result: SearchResult) -> list[str]:
    return [h.article.id for h in result.hits]


# -- matching ------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["بوتين", "وبوتين", "لبوتين", "بوتينُ", "بـوتين"])
async def test_every_written_form_of_a_name_finds_the_article(indexed: SearchBackend, word: str) -> None:
    result = await search(indexed, word)
    assert ids(result) == [SEED_ID]
    assert result.total == 1


@pytest.mark.parametrize("name", [p.values[0] for p in BACKENDS])
async def test_a_name_finds_its_other_spellings(name: str, tmp_path: Path) -> None:
    """What the registry tells the analyzer (`name_forms`): a search for بوتين finds بوطين and Putin,
    and excluding it excludes them; the bot (بوت) stays out, and the spelling written is marked."""
    spellings = {("بوتين",): (("بوطين",), ("putin",)), ("بوطين",): (("بوتين",), ("putin",))}
    analyzer = Analyzer(["بوتين"])
    analyzer.name_forms = lambda stems: spellings.get(stems, ())
    docs = {
        "article-tah": "هدد الرئيس الروسي بوطين بالرد على العقوبات",
        "article-latin": "قال Putin إن المحادثات مستمرة",
        "article-arabic": "بوتين يزور بكين الأسبوع المقبل",
        "article-bot": "بوت المحادثة يجيب عن أسئلة الطلاب في بكين",
    }
    async with _headlines(name, tmp_path, analyzer, docs) as backend:
        assert set(ids(await search(backend, "بوتين"))) == {"article-tah", "article-latin", "article-arabic"}
        assert set(ids(await search(backend, "بوطين"))) == {"article-tah", "article-latin", "article-arabic"}
        assert ids(await search(backend, "بكين -بوتين")) == ["article-bot"]
        (hit,) = [h for h in (await search(backend, "بوتين")).hits if h.article.id == "article-tah"]
        assert "<mark>بوطين</mark>" in hit.highlights["title"][0]


@pytest.mark.parametrize("name", [p.values[0] for p in BACKENDS])
async def test_a_phrase_s_second_word_is_found_behind_lam(
    name: str, tmp_path: Path, analyzer: Analyzer
) -> None:
    """وقف لإطلاق النار is how many reports write a ceasefire: the phrase search finds it, and marks it."""
    docs = {
        "article-plain": "اتفاق على وقف إطلاق النار في غزة",
        "article-lam": "رفض الطرفان أي وقف لإطلاق النار دون شروط",
        "article-other": "طالبت الأسر بوقف لإطلاق سراح الأسرى",
    }
    async with _headlines(name, tmp_path, analyzer, docs) as backend:
        result = await search(backend, '"وقف إطلاق النار"')
        assert set(ids(result)) == {"article-plain", "article-lam"}
        (hit,) = [h for h in result.hits if h.article.id == "article-lam"]
        assert "<mark>وقف لإطلاق النار</mark>" in hit.highlights["title"][0]


@pytest.mark.parametrize("name", [p.values[0] for p in BACKENDS])
async def test_a_word_s_own_first_letters_are_found_in_every_written_form(name: str, tmp_path: Path) -> None:
    """With the shipped root words, وزير, الوزير, ووزير and وزيرها are one term: before it a search for
    وزير (indexed as زير) missed الوزير and ووزير; التزام (indexed as تزام) missed الالتزام and
    بالتزام. The conjunction still comes off وقال."""
    from pipeline.enrich.registry import load_registry

    analyzer = load_registry(Settings().config_dir / "entities").analyzer
    docs = {
        "article-bare": "وزير الخارجية يصل إلى بغداد",
        "article-article": "الوزير يلتقي نظيره في عمان",
        "article-conjunction": "رئيس الحكومة ووزير الدفاع في زيارة",
        "article-pronoun": "أعلنت الحكومة أن وزيرها سيسافر غدا",
        "article-said": "وقال المتحدث إن الاجتماع انتهى",
        "article-commitment": "أكد الطرفان التزامهما بالهدنة",
        "article-by-commitment": "تعهد بالتزام الهدنة",
    }
    async with _headlines(name, tmp_path, analyzer, docs) as backend:
        minister = {"article-bare", "article-article", "article-conjunction", "article-pronoun"}
        for text in ("وزير", "الوزير", "ووزير"):
            assert set(ids(await search(backend, text))) == minister, text
        assert ids(await search(backend, "قال")) == ["article-said"]
        for text in ("التزام", "الالتزام"):
            assert set(ids(await search(backend, text))) == {"article-commitment", "article-by-commitment"}


@pytest.mark.parametrize("name", [p.values[0] for p in BACKENDS])
async def test_a_bare_word_finds_its_sound_plural_and_a_quoted_one_only_itself(
    name: str, tmp_path: Path, analyzer: Analyzer
) -> None:
    docs = {
        "article-one": "خرجت مظاهرة في العاصمة",
        "article-many": "اتسعت المظاهرات في المدن",
        "article-two": "نظمت النقابات مظاهرتين",
        "article-refugees": "عاد آلاف اللاجئين إلى قراهم",
    }
    async with _headlines(name, tmp_path, analyzer, docs) as backend:
        assert set(ids(await search(backend, "مظاهرة"))) == {"article-one", "article-many", "article-two"}
        assert ids(await search(backend, '"مظاهرة"')) == ["article-one"]
        assert ids(await search(backend, "لاجئ")) == ["article-refugees"]
        assert ids(await search(backend, "العاصمة -مظاهرة")) == []
        (hit,) = [h for h in (await search(backend, "مظاهرة")).hits if h.article.id == "article-many"]
        assert "<mark>المظاهرات</mark>" in hit.highlights["title"][0]


async def test_a_word_only_in_another_article_does_not_return_it(
    indexed: SearchBackend, corpus: list[Article]
) -> None:
    caspian = by_title(corpus, "روسيا تحذر")
    result = await search(indexed, "قزوين")
    assert ids(result) == [caspian.id]


async def test_words_are_anded(indexed: SearchBackend) -> None:
    assert ids(await search(indexed, "بوتين فوستوتشني")) == [SEED_ID]
    assert (await search(indexed, "بوتين قزوين")).total == 0


async def test_title_match_ranks_above_body_only_match(indexed: SearchBackend, corpus: list[Article]) -> None:
    in_title = {by_title(corpus, "روسيا تحذر").id, by_title(corpus, "مصدر يكشف").id}
    found = ids(await search(indexed, "روسيا"))
    assert set(found) == in_title | {SEED_ID}  # روسيا is only in the seed article's body
    assert found[-1] == SEED_ID
    scores = [h.score for h in (await search(indexed, "روسيا")).hits]
    assert scores == sorted(scores, reverse=True)


async def test_phrase_needs_adjacent_words_in_order(indexed: SearchBackend, corpus: list[Article]) -> None:
    caspian = by_title(corpus, "روسيا تحذر").id  # "امتداد حرب إيران"
    deal = by_title(corpus, "ترامب يلوح").id  # "إيران" and "الحرب" far apart
    bag = ids(await search(indexed, "حرب إيران"))
    assert {caspian, deal} <= set(bag)
    assert ids(await search(indexed, '"حرب إيران"')) == [caspian]
    assert ids(await search(indexed, '"إيران حرب"')) == []


async def test_a_phrase_does_not_run_from_the_summary_into_the_body(
    backend: SearchBackend, corpus: list[Article]
) -> None:
    article = corpus[1].model_copy(update={"summary": "وصل الرئيس الروسي بوتين", "body": "كيم جونغ أون يزور"})
    await backend.index_many([article])
    assert ids(await search(backend, "بوتين كيم")) == [article.id]  # both words are in it
    assert ids(await search(backend, '"بوتين كيم"')) == []  # but not next to each other
    for inside in ('"الروسي بوتين"', '"كيم جونغ"'):
        assert ids(await search(backend, inside)) == [article.id]
    assert ids(await search(backend, 'الرئيس -"بوتين كيم"')) == [article.id]


async def test_a_word_is_found_behind_a_preposition_the_analyzer_leaves_on(
    backend: SearchBackend, corpus: list[Article]
) -> None:
    body = "دعا المجلس لوقف إطلاق النار ورحب الوسطاء بهدنة في البحر"
    article = corpus[1].model_copy(update={"title": "خبر", "summary": "", "body": body})
    await backend.index_many([article])
    for text in ('"وقف إطلاق النار"', "هدنة", "وقف"):
        assert ids(await search(backend, text)) == [article.id], text
    (hit,) = (await search(backend, "هدنة")).hits
    assert "<mark>بهدنة</mark>" in hit.highlights["body"][0]
    assert ids(await search(backend, "المجلس -هدنة")) == []
    assert ids(await search(backend, "حر")) == []  # two letters: بحر is no ب + حر


async def test_phrase_of_a_full_name(indexed: SearchBackend) -> None:
    assert ids(await search(indexed, '"كيم جونغ أون"')) == [SEED_ID]
    assert ids(await search(indexed, '"أون جونغ كيم"')) == []


async def test_excluded_word_removes_articles(indexed: SearchBackend, corpus: list[Article]) -> None:
    caspian = by_title(corpus, "روسيا تحذر").id
    assert ids(await search(indexed, "روسيا -أوكرانيا")) == [caspian]
    assert set(ids(await search(indexed, 'روسيا -"بحر قزوين"'))) == {
        by_title(corpus, "مصدر يكشف").id,
        SEED_ID,
    }


async def test_or_between_words(indexed: SearchBackend, corpus: list[Article]) -> None:
    expected = {by_title(corpus, "روسيا تحذر").id, by_title(corpus, "مصدر يكشف").id}
    result = await search(indexed, "قزوين OR أبوظبي")
    assert set(ids(result)) == expected
    assert result.total == 2
    # lower-case "or" is a word like any other, so nothing has قزوين, "or" and أبوظبي together
    assert (await search(indexed, "قزوين or أبوظبي")).total == 0


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '""',
        "*",
        "بوتين*",
        "NEAR(",
        "NEAR(بوتين كيم)",
        "NEAR(بوتين كيم, 2)",
        ":",
        "title:بوتين",
        "{title body}:بوتين",
        "(",
        ")",
        "(بوتين",
        "^",
        "^بوتين",
        "-",
        "- -",
        "--بوتين",
        "بوتين -",
        "بوتين AND",
        "AND بوتين",
        "NOT بوتين",
        "بوتين NOT كيم",
        "OR",
        "بوتين OR",
        "OR OR OR",
        '"بوتين',
        'بوتين "كيم',
        "'",
        "\\",
        "+بوتين",
        "بوتين\x00كيم",
        '"""بوتين"""',
        "بوتين -*",
    ],
)
async def test_engine_syntax_in_user_text_is_literal(indexed: SearchBackend, text: str) -> None:
    try:
        result = await search(indexed, text)
    except InvalidQuery as exc:
        assert str(exc)
        return
    assert result.total == len(result.hits)


@pytest.mark.parametrize(
    "text", ["بوتين*", "^بوتين", "(بوتين)", "+بوتين", "بوتين:", '"بوتين"', "بوتين -*", "«بوتين»"]
)
async def test_punctuation_around_a_word_is_ignored(indexed: SearchBackend, text: str) -> None:
    assert ids(await search(indexed, text)) == [SEED_ID]


@pytest.mark.parametrize("text", ["NEAR(بوتين كيم)", "title:بوتين", "NOT بوتين", "بوتين AND كيم"])
async def test_operators_of_the_engine_are_plain_words(indexed: SearchBackend, text: str) -> None:
    # near/title/not/and are searched as words (none of these articles has them), never obeyed
    assert (await search(indexed, text)).total == 0


@pytest.mark.parametrize("text", ["-بوتين", '-"كيم جونغ"', "!!!", "«»", "*", "- -"])
async def test_nothing_to_search_is_an_invalid_query(indexed: SearchBackend, text: str) -> None:
    with pytest.raises(InvalidQuery):
        await search(indexed, text)


async def test_empty_text_matches_everything(indexed: SearchBackend, corpus: list[Article]) -> None:
    result = await search(indexed, "   ")
    assert result.total == len(corpus)
    assert all(h.highlights == {} for h in result.hits)


# -- filters -------------------------------------------------------------------------------


async def test_entity_filter(indexed: SearchBackend, corpus: list[Article]) -> None:
    assert ids(await search(indexed, entities=[PUTIN])) == [SEED_ID]
    lebanon = {a.id for a in corpus if any(e.canonical_id == LEBANON for e in a.entities)}
    assert set(ids(await search(indexed, entities=[LEBANON]))) == lebanon
    assert len(lebanon) == 2
    either = set(ids(await search(indexed, entities=[PUTIN, LEBANON])))
    assert either == lebanon | {SEED_ID}


async def test_an_entity_search_marks_where_the_entity_is_written(indexed: SearchBackend) -> None:
    """No query word, yet the analyst must see the mention: the filtered entity's spans are marked."""
    (hit,) = (await search(indexed, entities=[KIM])).hits
    assert "<mark>كيم جونغ أون</mark>" in hit.highlights["summary"][0]
    assert "title" not in hit.highlights  # the title mentions Putin, not Kim
    (both,) = (await search(indexed, "كيم", entities=[KIM])).hits
    assert "<mark>كيم</mark>" in both.highlights["title"][0]  # the word, in the title
    assert "<mark>كيم جونغ أون</mark>" in both.highlights["summary"][0]  # word inside mention: one mark


async def test_entity_filter_and_text_are_anded(indexed: SearchBackend, corpus: list[Article]) -> None:
    with_iran = ids(await search(indexed, "ترمب", entities=[IRAN]))
    assert set(with_iran) == {by_title(corpus, "النفط").id, by_title(corpus, "إيران تؤكد").id}


async def test_topic_filter(indexed: SearchBackend, corpus: list[Article]) -> None:
    assert ids(await search(indexed, topics=["space"])) == [SEED_ID]
    economy = ids(await search(indexed, topics=["economy"]))
    assert economy == [by_title(corpus, "النفط").id]


async def test_source_filter(indexed: SearchBackend, corpus: list[Article]) -> None:
    result = await search(indexed, sources=["aljazeera"])
    assert set(ids(result)) == {a.id for a in corpus if a.source == "aljazeera"}
    assert result.total == 2
    assert ids(await search(indexed, "إيران", sources=["aljazeera"])) == [by_title(corpus, "إيران تؤكد").id]


async def test_language_filter(indexed: SearchBackend, corpus: list[Article]) -> None:
    arabic = await search(indexed, languages=["ar"])
    assert arabic.total == len(corpus) - 1  # one item has no language
    assert (await search(indexed, languages=["en"])).total == 0


async def test_date_filters_are_inclusive(indexed: SearchBackend, corpus: list[Article]) -> None:
    old = await search(indexed, until=datetime(2023, 12, 31, tzinfo=UTC))
    assert ids(old) == [SEED_ID]
    since = datetime(2026, 3, 24, 14, 16, 3, tzinfo=UTC)  # exactly the Caspian item's pubDate
    recent = {a.id for a in corpus if a.published and a.published >= since}
    assert set(ids(await search(indexed, since=since))) == recent
    assert by_title(corpus, "روسيا تحذر").id in recent
    february = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)
    window = await search(indexed, since=february[0], until=february[1])
    assert {h.article.published.month for h in window.hits if h.article.published} == {2}
    assert window.total == 2


async def test_an_until_bound_is_inclusive_to_the_microsecond_and_days_are_not_rounded_up(
    backend: SearchBackend, corpus: list[Article]
) -> None:
    late = datetime(2026, 4, 1, 23, 59, 59, 999600, tzinfo=UTC)  # the day's last millisecond
    midnight = datetime(2026, 4, 2, tzinfo=UTC)  # a feed that gives only dates
    articles = [
        corpus[1].model_copy(update={"id": "late-0001", "published": late}),
        corpus[2].model_copy(update={"id": "midnight-0001", "published": midnight}),
    ]
    await backend.index_many(articles)
    end_of_day = datetime(2026, 4, 1, 23, 59, 59, 999999, tzinfo=UTC)  # what `until=2026-04-01` asks for
    assert ids(await search(backend, until=end_of_day)) == ["late-0001"]
    assert ids(await search(backend, since=midnight)) == ["midnight-0001"]
    days = (await search(backend)).facets.days
    assert sorted((f.value, f.count) for f in days) == [("2026-04-01", 1), ("2026-04-02", 1)]


# -- facets --------------------------------------------------------------------------------


async def test_facets_count_all_matches_not_just_the_page(
    indexed: SearchBackend, corpus: list[Article]
) -> None:
    result = await search(indexed, "إيران", size=1)
    assert len(result.hits) == 1
    with_iran = [a for a in corpus if any(e.canonical_id == IRAN for e in a.entities)]
    assert result.total == len(with_iran) == 4
    entities = {f.value: f for f in result.facets.entities}
    assert entities[IRAN].count == 4
    assert entities[IRAN].label == "إيران"
    assert entities[TRUMP].count == 3
    assert entities[TRUMP].label == "دونالد ترامب"
    assert result.facets.entities[0].value == IRAN  # biggest first
    assert sum(f.count for f in result.facets.sources) == result.total
    assert {f.value: f.count for f in result.facets.sources}["aljazeera"] == 1
    topics = {f.value: f.count for f in result.facets.topics}
    assert topics == {"conflict": 1, "diplomacy": 2, "economy": 1}
    days = {f.value: f.count for f in result.facets.days}
    assert days["2026-03-24"] == 1
    assert days["2026-04-02"] == 1
    assert sum(days.values()) == result.total
    assert [f.value for f in result.facets.days] == sorted(days, reverse=True)


async def test_facets_follow_filters(indexed: SearchBackend) -> None:
    result = await search(indexed, entities=[PUTIN])
    entities = {f.value: f.label for f in result.facets.entities}
    assert entities[PUTIN] == "فلاديمير بوتين"
    assert entities[KIM] == "كيم جونغ أون"
    assert IRAN not in entities
    assert [(f.value, f.count) for f in result.facets.days] == [("2023-09-13", 1)]


async def test_facet_size_and_switch(indexed: SearchBackend) -> None:
    small = await search(indexed, facet_size=1)
    assert len(small.facets.entities) == 1
    assert len(small.facets.sources) == 1
    off = await search(indexed, facets=False)
    assert off.facets.entities == [] and off.facets.days == []


# -- highlights ----------------------------------------------------------------------------


async def test_highlights_mark_the_word_as_written(indexed: SearchBackend) -> None:
    (hit,) = (await search(indexed, "بوتين")).hits
    assert hit.highlights["title"] == ["كيم <mark>وبوتين</mark> سيناقشان &quot;كل القضايا&quot;"]
    assert "فلاديمير <mark>بوتين</mark>" in hit.highlights["summary"][0]
    body = hit.highlights["body"]
    assert 1 <= len(body) <= 3
    assert all("<mark>" in f and len(f) < 300 for f in body)
    joined = " ".join(body)
    assert "<mark>بوتين</mark>" in joined or "<mark>وبوتين</mark>" in joined


async def test_highlight_of_a_clitic_form_elsewhere(indexed: SearchBackend) -> None:
    (hit,) = (await search(indexed, "لبوتين")).hits
    fragments = " ".join(hit.highlights["body"])
    assert "<mark>وبوتين</mark>" in fragments or "<mark>لبوتين</mark>" in fragments


async def test_phrase_highlight_is_one_span(indexed: SearchBackend) -> None:
    (hit,) = (await search(indexed, '"كيم جونغ أون"')).hits
    assert "<mark>كيم جونغ أون</mark>" in hit.highlights["summary"][0]


async def test_excluded_words_are_not_highlighted(indexed: SearchBackend, corpus: list[Article]) -> None:
    (hit,) = (await search(indexed, "روسيا -أوكرانيا")).hits
    assert "<mark>روسيا</mark>" in hit.highlights["title"][0]
    assert "أوكرانيا</mark>" not in str(hit.highlights)


async def test_highlights_are_html_escaped(backend: SearchBackend, corpus: list[Article]) -> None:
    article = corpus[1].model_copy(update={"title": "<script>alert(1)</script> " + corpus[1].title})
    await backend.index_many([article])
    (hit,) = (await search(backend, "قزوين")).hits
    title = hit.highlights["title"][0]
    assert "<script>" not in title
    assert title.startswith("&lt;script&gt;alert(1)&lt;/script&gt; ")
    assert "<mark>قزوين</mark>" in title
    assert hit.article.title == article.title  # the stored article keeps the original text


# -- paging and sorting --------------------------------------------------------------------


async def test_pagination_and_newest_first(indexed: SearchBackend, corpus: list[Article]) -> None:
    newest = sorted(corpus, key=lambda a: (a.published is not None, a.published), reverse=True)
    pages = [await search(indexed, sort="newest", size=3, page=p) for p in (1, 2, 3)]
    assert [r.total for r in pages] == [len(corpus)] * 3
    assert [len(r.hits) for r in pages] == [3, 3, 2]
    assert [i for r in pages for i in ids(r)] == [a.id for a in newest]
    assert (await search(indexed, size=3, page=4)).hits == []


async def test_newest_sort_with_text(indexed: SearchBackend, corpus: list[Article]) -> None:
    result = await search(indexed, "إيران", sort="newest")
    published = [h.article.published for h in result.hits]
    assert published == sorted(published, reverse=True)  # type: ignore[type-var]


@pytest.mark.parametrize(("text", "sort"), [("", "newest"), ("إيران", "relevance"), ("إيران", "newest")])
@pytest.mark.parametrize("size", [1, 2, 3])
async def test_cursor_pages_through_every_match_once(
    indexed: SearchBackend, text: str, sort: str, size: int
) -> None:
    everything = await search(indexed, text, sort=sort)
    assert everything.next_cursor is None
    page = await search(indexed, text, sort=sort, size=size)
    seen = ids(page)
    while page.next_cursor is not None:
        page = await search(indexed, text, sort=sort, size=size, after=page.next_cursor)
        assert page.total == everything.total  # total and facets describe every match, on every page
        assert 1 <= len(page.hits) <= size
        seen += ids(page)
    assert seen == ids(everything)


async def test_cursor_continues_after_a_numbered_page(indexed: SearchBackend, corpus: list[Article]) -> None:
    second = await search(indexed, sort="newest", size=3, page=2)
    assert second.next_cursor is not None
    third = await search(indexed, sort="newest", size=3, after=second.next_cursor)
    assert ids(third) == ids(await search(indexed, sort="newest", size=3, page=3))
    assert third.next_cursor is None  # the last page: nothing after it
    assert (await search(indexed, sort="newest", size=len(corpus))).next_cursor is None


async def test_cursor_is_bound_to_its_query(indexed: SearchBackend) -> None:
    cursor = (await search(indexed, "إيران", size=1)).next_cursor
    assert cursor is not None
    assert len((await search(indexed, "إيران", size=2, after=cursor)).hits) == 2  # the size may change
    changes: list[dict[str, Any]] = [
        {"text": "روسيا"},
        {"text": "إيران", "sort": "newest"},
        {"text": "إيران", "sources": ["x"]},
    ]
    for changed in changes:
        with pytest.raises(InvalidQuery):
            await search(indexed, after=cursor, **changed)
    real = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    forged = [{k: v for k, v in real.items() if k != "q"}, {**real, "k": [2**70] * len(real["k"])}, [1, 2]]
    made = [base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=") for p in forged]
    for garbage in ("", "not a cursor", "e30", cursor[:-4], *made):
        with pytest.raises(InvalidQuery):
            await search(indexed, "إيران", after=garbage)
    with pytest.raises(ValidationError):
        SearchQuery(text="إيران", page=2, after=cursor)


# -- writes --------------------------------------------------------------------------------


async def test_reindexing_is_an_upsert(indexed: SearchBackend, corpus: list[Article]) -> None:
    before = await indexed.count()
    seed = next(a for a in corpus if a.id == SEED_ID)
    again = await indexed.index_many([seed])
    assert again.indexed == [SEED_ID]
    assert await indexed.count() == before

    changed = seed.model_copy(
        update={
            "title": "بوتين يستقبل كيم في قاعدة فوستوتشني الفضائية",
            "entities": [e for e in seed.entities if e.canonical_id != KIM],
        }
    )
    await indexed.index_many([changed])
    assert await indexed.count() == before
    (hit,) = (await search(indexed, "يستقبل")).hits
    assert hit.article.title == changed.title
    assert (await search(indexed, "سيناقشان")).total == 1  # still in the body
    assert '"كل القضايا"' not in hit.article.title
    facets = (await search(indexed, entities=[PUTIN])).facets
    assert KIM not in {f.value for f in facets.entities}
    assert (await search(indexed, entities=[KIM])).total == 0


async def test_old_terms_do_not_survive_an_update(backend: SearchBackend, corpus: list[Article]) -> None:
    caspian = corpus[1]
    await backend.index_many([caspian])
    await backend.index_many([caspian.model_copy(update={"title": "عنوان جديد", "summary": "نص آخر"})])
    assert (await search(backend, "قزوين")).total == 0
    assert ids(await search(backend, "جديد")) == [caspian.id]


async def test_same_id_twice_in_one_batch_keeps_the_last(
    backend: SearchBackend, corpus: list[Article]
) -> None:
    first = corpus[1]
    second = first.model_copy(update={"title": "عنوان جديد"})
    report = await backend.index_many([first, second])
    assert report.indexed == [first.id]
    assert await backend.count() == 1
    assert (await backend.get(first.id)) == second


async def test_delete(indexed: SearchBackend, corpus: list[Article]) -> None:
    assert await indexed.delete([SEED_ID, "no-such-article-id"]) == 1
    assert await indexed.count() == len(corpus) - 1
    assert await indexed.get(SEED_ID) is None
    assert (await search(indexed, "بوتين")).total == 0
    assert PUTIN not in {f.value for f in (await search(indexed)).facets.entities}
    assert await indexed.delete([SEED_ID]) == 0


async def test_get_returns_the_stored_article(indexed: SearchBackend, corpus: list[Article]) -> None:
    for article in corpus:
        assert await indexed.get(article.id) == article
    assert await indexed.get("no-such-article-id") is None


async def test_count_and_empty_index(backend: SearchBackend) -> None:
    assert await backend.count() == 0
    result = await search(backend, "بوتين")
    assert result.total == 0 and result.hits == []
    assert (await backend.index_many([])).indexed == []


# -- history scan ----------------------------------------------------------------------------


async def _scan(backend: SearchBackend, **kwargs: Any) -> list[Article]:
    return [a async for a in backend.scan(**kwargs)]


def _dated(article: Article) -> datetime:
    return article.published or article.fetched


@pytest.fixture
def unpublished(corpus: list[Article]) -> Article:
    """A feed item without a date, fetched between the seed article and the feed items."""
    return corpus[1].model_copy(
        update={"id": "undated-item-0001", "published": None, "fetched": datetime(2024, 5, 1, tzinfo=UTC)}
    )


async def test_scan_streams_everything_oldest_first(
    indexed: SearchBackend, corpus: list[Article], unpublished: Article
) -> None:
    await indexed.index_many([unpublished])
    every = sorted([*corpus, unpublished], key=_dated)
    scanned = await _scan(indexed)
    assert [a.id for a in scanned] == [a.id for a in every]
    assert scanned[1] == unpublished  # dated by its fetch time; stored articles come back whole
    assert scanned[0] == next(a for a in corpus if a.id == SEED_ID)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 500])
async def test_scan_batches_do_not_skip_or_repeat(
    indexed: SearchBackend, corpus: list[Article], batch_size: int
) -> None:
    ids_in_order = [a.id for a in await _scan(indexed, batch_size=batch_size)]
    assert ids_in_order == [a.id for a in await _scan(indexed)]
    assert sorted(ids_in_order) == sorted(a.id for a in corpus)


async def test_scan_since_is_inclusive_and_until_exclusive(
    indexed: SearchBackend, corpus: list[Article], unpublished: Article
) -> None:
    await indexed.index_many([unpublished])
    caspian = datetime(2026, 3, 24, 14, 16, 3, tzinfo=UTC)  # exactly the Caspian item's pubDate
    since = await _scan(indexed, since=caspian, batch_size=2)
    assert [a.id for a in since] == [a.id for a in sorted(corpus, key=_dated) if _dated(a) >= caspian]
    assert by_title(corpus, "روسيا تحذر").id == since[0].id
    until = await _scan(indexed, until=caspian)
    assert by_title(corpus, "روسيا تحذر").id not in {a.id for a in until}
    assert len(since) + len(until) == len(corpus) + 1
    window = await _scan(
        indexed, since=datetime(2024, 1, 1, tzinfo=UTC), until=datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert [a.id for a in window] == [unpublished.id]
    assert await _scan(indexed, since=datetime(2030, 1, 1, tzinfo=UTC)) == []


async def test_scan_of_an_empty_index_and_bad_arguments(backend: SearchBackend) -> None:
    assert await _scan(backend) == []
    with pytest.raises(InvalidQuery):
        await _scan(backend, since=datetime(2026, 1, 1))  # naive: which timezone?
    with pytest.raises(InvalidQuery):
        await _scan(backend, batch_size=0)


# -- analysis --------------------------------------------------------------------------------


async def _reanalyse(backend: SearchBackend, batch_size: int = 500) -> list[int]:
    return [n async for n in backend.reanalyse(batch_size=batch_size)]


@pytest.mark.parametrize("name", [p.values[0] for p in BACKENDS], ids=[p.id for p in BACKENDS])
async def test_terms_of_an_older_analyzer_are_reported_and_made_again(
    name: str, tmp_path: Path, analyzer: Analyzer, corpus: list[Article]
) -> None:
    """An index built before لبنان was protected holds للبنان as ل + بنان: لبنان misses it until
    the articles are re-analysed."""
    older = Analyzer([w for w in analyzer.protected if w != "لبنان"])
    assert older.terms("للبنان") != analyzer.terms("للبنان") == analyzer.terms("لبنان")
    aid = corpus[1].model_copy(
        update={"id": "aid-for-lebanon", "title": "مساعدات للبنان", "body": "وصلت اليوم"}
    )
    prefix = f"rasd-test-{uuid.uuid4().hex[:12]}"
    first = _make_backend(name, tmp_path, older, prefix)
    await first.setup()
    try:
        assert await first.stale_analysis() == 0
        await first.index_many([*corpus, aid])
        assert await first.stale_analysis() == 0
    finally:
        await first.close()
    backend = _make_backend(name, tmp_path, analyzer, prefix)
    await backend.setup()
    try:
        assert await backend.stale_analysis() == len(corpus) + 1
        assert aid.id not in ids(await search(backend, "لبنان"))
        progress = await _reanalyse(backend, batch_size=3)
        assert progress[-1] == len(corpus) + 1 and progress == sorted(progress)
        assert await backend.stale_analysis() == 0
        assert aid.id in ids(await search(backend, "لبنان"))
        assert ids(await search(backend, "بوتين")) == [SEED_ID]  # the rest is found as before
        assert await backend.count() == len(corpus) + 1
        assert await _reanalyse(backend) == []  # current: nothing to do
        with pytest.raises(InvalidQuery):
            await _reanalyse(backend, batch_size=0)
    finally:
        await _dispose(backend)


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return load_enricher(Settings(config_dir=Path(__file__).resolve().parents[3] / "config"))


async def test_stored_articles_enriched_again_find_today_s_entities(
    backend: SearchBackend, corpus: list[Article], enricher: Enricher
) -> None:
    """`rasd reindex --enrich`: articles an older configuration enriched (no entities found) are
    enriched again from their stored text; only the changed ones are written, the rest is kept."""
    older = [a.model_copy(update={"entities": [], "story_id": f"story-{a.id}"}) for a in corpus]
    await backend.index_many(older)
    assert ids(await search(backend, entities=[PUTIN])) == []
    progress = [p async for p in reenrich(backend, enricher, batch_size=3)]
    assert [p.seen for p in progress] == [min(k, len(corpus)) for k in range(3, len(corpus) + 3, 3)]
    assert progress[-1].failed == 0 and 0 < progress[-1].rewritten <= len(corpus)
    assert SEED_ID in ids(await search(backend, entities=[PUTIN]))
    for article in older:
        stored = await backend.get(article.id)
        assert stored is not None
        assert (stored.story_id, stored.title, stored.body) == (article.story_id, article.title, article.body)
    again = [p async for p in reenrich(backend, enricher, batch_size=3)]
    assert again[-1] == RefreshProgress(len(corpus), 0, 0)  # everything current now
