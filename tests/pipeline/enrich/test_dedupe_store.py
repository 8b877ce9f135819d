"""StoryIndex over both stores: syndicated copies share a story, distinct news never does."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrich.dedupe import DedupeParams
from pipeline.enrich.dedupe_store import MemoryStore, SqliteStore, StoryIndex
from pipeline.errors import ConfigError
from pipeline.models import Article
from tests.pipeline.enrich.test_dedupe import SEED_BODY, SEED_TITLE, decorate, drop_sentence, feed_articles

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IndexFactory = Callable[..., StoryIndex]


@pytest.fixture(params=["memory", "sqlite"])
def make_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IndexFactory]:
    """Factory for an index on either store; SQLite evicts row by row so bounds are exact."""
    opened: list[StoryIndex] = []

    def factory(**limits: Any) -> StoryIndex:
        params = DedupeParams()
        if request.param == "memory":
            store: MemoryStore | SqliteStore = MemoryStore()
        else:
            store = SqliteStore(tmp_path / f"stories-{len(opened)}.db", params.scheme, evict_batch=1)
        index = StoryIndex(store, params, **limits)
        opened.append(index)
        return index

    yield factory
    for index in opened:
        index.close()


def copy_of(original: Article, n: int, **changes: str) -> Article:
    """The same story on another site: another URL (id), fetched a little later."""
    return original.model_copy(
        update={"id": f"{n:032x}", "source": f"site{n}", "fetched": original.fetched + timedelta(seconds=n)}
        | changes
    )


def seed() -> Article:
    return Article(id="0" * 31 + "s", source="agency", title=SEED_TITLE, body=SEED_BODY, fetched=T0)


def test_syndicated_copies_join_the_first_copy_s_story(make_index: IndexFactory) -> None:
    index = make_index()
    original = seed()
    first = index.assign(original)
    assert first.story_id == original.id and first.duplicate_of is None
    copies = [
        copy_of(original, 1, title=decorate(SEED_TITLE), body=decorate(SEED_BODY)),
        copy_of(original, 2, body="(رويترز) - " + SEED_BODY + "\nجميع الحقوق محفوظة"),
        copy_of(
            original, 3, title="بوتين يعد كيم بمساعدته في بناء أقمار صناعية", body=drop_sentence(SEED_BODY, 2)
        ),
        copy_of(original, 4, title="", summary=SEED_BODY[:400], body=SEED_BODY),
    ]
    results = [index.assign(c) for c in copies]
    assert [r.story_id for r in results] == [original.id] * 4
    assert results[0].exact and results[0].similarity == 1.0
    assert not results[2].exact and results[2].similarity >= 0.5


def test_sample_feeds_give_distinct_stories_and_their_copies_join_them(make_index: IndexFactory) -> None:
    """Precision and recall on the real sample feeds: no false merge, copies found."""
    index = make_index()
    articles = [a.model_copy(update={"fetched": T0}) for a in feed_articles()]
    results = [index.assign(a) for a in articles]
    assert len({r.story_id for r in results}) == len(articles)  # zero false merges
    assert all(r.duplicate_of is None for r in results)
    found = total = 0
    for n, a in enumerate(articles, start=1):
        variants = {
            "marks": {"title": decorate(a.title), "summary": decorate(a.summary)},
            "credit": {"summary": "(رويترز) - " + a.summary},
            "footer": {"summary": a.summary + "\nتابعوا آخر الأخبار على قناتنا في تلغرام."},
        }
        family = {a.id}
        for k, change in enumerate(variants.values()):
            total += 1
            copy = copy_of(a, 1000 * n + k, **change)
            family.add(copy.id)
            result = index.assign(copy)
            found += result.story_id == a.id
            assert result.story_id in family  # a missed copy starts a story, never joins another's
    assert found / total >= 0.95, f"{found}/{total}"
    assert len({r.story_id for r in results}) == len(articles)


def test_short_items_match_exactly_or_not_at_all(make_index: IndexFactory) -> None:
    index = make_index()
    flash = Article(
        id="f" * 32, source="a", title="عاجل | انفجار في ميناء بيروت", summary="التفاصيل بعد قليل.."
    )
    other = Article(
        id="e" * 32, source="b", title="عاجل | زلزال يضرب جنوب تركيا", summary="التفاصيل بعد قليل.."
    )
    assert index.assign(flash).story_id == flash.id
    assert index.assign(other).story_id == other.id
    again = copy_of(flash, 7, title="عاجلٌ: انفجارٌ في ميناءِ بيروت!")
    result = index.assign(again)
    assert result.story_id == flash.id and result.exact


def test_redelivery_returns_the_first_answer(make_index: IndexFactory) -> None:
    index = make_index()
    original = seed()
    copy = copy_of(original, 1, body="(رويترز) - " + SEED_BODY)
    index.assign(original)
    first = index.assign(copy)
    assert index.assign(copy) == first
    assert index.assign(original).story_id == original.id
    assert len(index) == 2


def test_index_is_bounded_by_count(make_index: IndexFactory) -> None:
    index = make_index(max_articles=10)
    articles = [a.model_copy(update={"fetched": T0}) for a in feed_articles()]
    for a in articles[:30]:
        index.assign(a)
    assert len(index) == 10
    # the oldest is forgotten: its copy starts a new story
    evicted = articles[0]
    assert index.assign(copy_of(evicted, 99)).story_id != evicted.id


def test_index_forgets_articles_older_than_the_window(make_index: IndexFactory) -> None:
    index = make_index(window=timedelta(days=7))
    original = seed()
    index.assign(original)
    later = copy_of(original, 1, body="(رويترز) - " + SEED_BODY)
    assert index.assign(later, seen=T0 + timedelta(days=3)).story_id == original.id
    unrelated = Article(id="9" * 32, source="x", title="خبر", summary="نص آخر تماما عن الطقس غدا", fetched=T0)
    index.assign(unrelated, seen=T0 + timedelta(days=9))
    assert len(index) == 2  # the seed (day 0) went, its copy (day 3) stays
    assert index.assign(copy_of(original, 2, body="(أ ف ب) " + SEED_BODY)).story_id == original.id


def test_a_future_dated_article_does_not_age_out_the_recent_stories(make_index: IndexFactory) -> None:
    # the window ends at the newest `seen`; one message fetched "next month" (a connector's wrong clock)
    # made every story of the last hours older than 7 days: all forgotten, their copies new stories
    now = T0 + timedelta(hours=2)
    index = make_index(window=timedelta(days=7), clock=now.timestamp)
    recent = [a.model_copy(update={"fetched": T0}) for a in feed_articles()[:20]]
    for a in recent:
        index.assign(a)
    stray = Article(id="f" * 32, source="x", title="خبر", summary="نص آخر تماما عن الطقس غدا", fetched=T0)
    index.assign(stray, seen=T0 + timedelta(days=30))
    assert len(index) == 21
    for n, a in enumerate(recent, start=100):
        assert index.assign(copy_of(a, n)).story_id == a.id
    # a backfill of older articles still groups: the window follows the stream, not the wall clock
    old = make_index(window=timedelta(days=7), clock=now.timestamp)
    first = seed().model_copy(update={"fetched": T0 - timedelta(days=60)})
    old.assign(first)
    assert old.assign(copy_of(first, 1, body="(رويترز) - " + SEED_BODY)).story_id == first.id


QUAKE = (
    "ضرب زلزال بقوة ست درجات على مقياس ريختر مناطق واسعة في جنوب تركيا فجر اليوم وأعلنت هيئة الكوارث "
    "التركية أن فرق الإنقاذ انتشرت في ولايات هاتاي وأضنة وغازي عنتاب للبحث عن ناجين تحت الأنقاض وأكد "
    "وزير الداخلية أن الحصيلة الأولية تشير إلى سقوط عشرات الجرحى وانهيار عدد من المباني القديمة"
)
VOTE = (
    "أعلنت اللجنة العليا للانتخابات في تونس النتائج الأولية للانتخابات التشريعية التي جرت أمس وسط نسبة "
    "مشاركة ضعيفة لم تتجاوز ثلاثين في المئة وقال رئيس اللجنة إن الطعون ستقبل خلال ثلاثة أيام قبل إعلان "
    "النتائج النهائية فيما دعت أحزاب المعارضة إلى مقاطعة الجولة الثانية واعتبرت العملية غير شرعية"
)


@pytest.mark.parametrize("order", ["quake,digest,vote", "vote,quake,digest", "quake,vote,digest"])
def test_a_digest_of_two_stories_does_not_chain_them(make_index: IndexFactory, order: str) -> None:
    # single-link: the digest matched "quake" (containment), then "vote" matched the digest and
    # took quake's story id, so a watch on the election folded into the earthquake story
    both = f"{QUAKE}\n{VOTE}"
    articles = {
        "quake": Article(id="a" * 32, source="s1", title="زلزال يضرب جنوب تركيا", body=QUAKE, fetched=T0),
        "digest": Article(id="b" * 32, source="s2", title="موجز الأخبار", body=both, fetched=T0),
        "vote": Article(id="c" * 32, source="s3", title="نتائج الانتخابات التونسية", body=VOTE, fetched=T0),
    }
    index = make_index()
    story = {name: index.assign(articles[name]).story_id for name in order.split(",")}
    assert story["quake"] != story["vote"] and story["digest"] in (story["quake"], story["vote"])
    # a chain of edited copies of one story still groups
    first = seed()
    second = copy_of(first, 1, body=drop_sentence(SEED_BODY))
    third = copy_of(first, 2, body=drop_sentence(drop_sentence(SEED_BODY), 0))
    assert {index.assign(a).story_id for a in (first, second, third)} == {first.id}


def test_sqlite_index_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "data" / "stories.db"
    original = seed()
    with StoryIndex.open(path) as index:
        index.assign(original)
    with StoryIndex.open(path) as index:
        assert len(index) == 1
        assert index.assign(original).story_id == original.id
        result = index.assign(copy_of(original, 1, body="(رويترز) - " + SEED_BODY))
        assert result.story_id == original.id and result.duplicate_of == original.id


def test_sqlite_index_refuses_another_signature_scheme(tmp_path: Path) -> None:
    path = tmp_path / "stories.db"
    StoryIndex.open(path).close()
    with pytest.raises(ConfigError, match="scheme"):
        StoryIndex.open(path, DedupeParams(num_perm=128, bands=32, rows=4))


def test_assign_many_equals_one_by_one(make_index: IndexFactory) -> None:
    articles = [a.model_copy(update={"fetched": T0}) for a in feed_articles()[:20]]
    stream = [
        *articles,
        *(copy_of(a, 500 + i, summary="وكالات - " + a.summary) for i, a in enumerate(articles)),
    ]
    one, many = make_index(), make_index()
    assert [one.assign(a) for a in stream] == many.assign_many(stream)


def test_concurrent_copies_land_in_one_story(make_index: IndexFactory) -> None:
    index = make_index()
    original = seed()
    index.assign(original)
    copies = [copy_of(original, n, body=f"({n}) " + SEED_BODY) for n in range(1, 41)]
    stories: list[str] = []

    def work(batch: list[Article]) -> None:
        stories.extend(index.assign(c).story_id for c in batch)

    threads = [threading.Thread(target=work, args=(copies[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stories == [original.id] * 40 and len(index) == 41


def test_a_full_disk_is_reported_as_such(tmp_path: Path) -> None:
    # SQLite rolls back by itself when the disk is full; a second ROLLBACK raised "cannot rollback -
    # no transaction is active", which replaced the real reason in every dead letter
    index = StoryIndex.open(tmp_path / "stories.db")
    index.assign_many([a.model_copy(update={"fetched": T0}) for a in feed_articles()[:5]])
    db = index.store._db  # type: ignore[attr-defined]
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        index.assign_many([a.model_copy(update={"fetched": T0}) for a in feed_articles()[5:]])
    db.execute("PRAGMA max_page_count = 1073741823")  # space again: the index goes on
    later = feed_articles()[5].model_copy(update={"fetched": T0})
    assert index.assign(later).story_id == later.id
    index.close()
