from __future__ import annotations

import pytest

from pipeline.alerts.rules import compile_watch, match_watch, match_watches, snippet
from pipeline.enrich.registry import Entity, EntityRegistry
from pipeline.errors import ConfigError
from pipeline.models import Article, EntityMention, TopicScore, Watch

REGISTRY = EntityRegistry.build(
    [
        Entity(
            id="Q7747", type="PER", name_ar="فلاديمير بوتين", name_en="Vladimir Putin", aliases_ar=("بوتين",)
        )
    ]
)
TOPICS = {"space", "sport"}


def _article(**kw: object) -> Article:
    body = "وقال وبوتين إن الهدنة في غزة ستبدأ غداً بعد اتفاق وقف إطلاق النار."
    base: dict[str, object] = dict(
        id="a" * 32,
        source="rt_arabic",
        title="عنوان",
        body=body,
        language="ar",
        entities=[
            EntityMention(
                type="PER",
                surface="بوتين",
                canonical_id="Q7747",
                canonical_name="فلاديمير بوتين",
                field="body",
                start=6,
                end=11,
            )
        ],
        topics=[TopicScore(id="space", score=0.6)],
    )
    base.update(kw)
    return Article.model_validate(base)


def test_entity_watch_given_by_arabic_name_fires_with_evidence() -> None:
    cw = compile_watch(Watch(id="putin", entities=["بوتين"]), REGISTRY, TOPICS)
    alert = match_watch(cw, _article(), REGISTRY.analyzer)
    assert alert is not None
    ev = alert.evidence[0]
    assert (ev.kind, ev.value, ev.surface, ev.field) == ("entity", "Q7747", "بوتين", "body")
    assert "بوتين" in ev.snippet


@pytest.mark.parametrize(
    ("phrase", "surface"),
    [("وقف إطلاق النار", "وقف إطلاق النار"), ("هدنة", "الهدنة"), ("غزه", "غزة")],
)
def test_phrase_watch_matches_normalised_text_with_clitics(phrase: str, surface: str) -> None:
    cw = compile_watch(Watch(id="w", words=[phrase]), REGISTRY, TOPICS)
    alert = match_watch(cw, _article(), REGISTRY.analyzer)
    assert alert is not None and alert.evidence[0].surface == surface


def test_phrase_must_be_contiguous() -> None:
    cw = compile_watch(Watch(id="w", words=["وقف النار"]), REGISTRY, TOPICS)
    assert match_watch(cw, _article(), REGISTRY.analyzer) is None


def test_topic_source_and_pause_conditions() -> None:
    a = _article()
    assert match_watch(compile_watch(Watch(id="t", topics=["space"]), REGISTRY, TOPICS), a, REGISTRY.analyzer)
    assert not match_watch(
        compile_watch(Watch(id="t", topics=["sport"]), REGISTRY, TOPICS), a, REGISTRY.analyzer
    )
    other_source = Watch(id="t", topics=["space"], sources=["aljazeera"])
    assert not match_watch(compile_watch(other_source, REGISTRY, TOPICS), a, REGISTRY.analyzer)
    paused = Watch(id="t", topics=["space"], paused=True)
    assert not match_watch(compile_watch(paused, REGISTRY, TOPICS), a, REGISTRY.analyzer)


def test_alert_id_is_per_watch_and_article() -> None:
    cw = compile_watch(Watch(id="putin", entities=["Q7747"]), REGISTRY, TOPICS)
    first = match_watch(cw, _article(), REGISTRY.analyzer)
    again = match_watch(cw, _article(), REGISTRY.analyzer)
    assert first is not None and again is not None and first.id == again.id


@pytest.mark.parametrize(
    ("watch", "message"),
    [
        (Watch(id="w", entities=["قطة"]), "entities: unknown entity"),
        (Watch(id="w", topics=["gardening"]), "topics: unknown topic"),
        (Watch(id="w", words=["؟!"]), "words:"),
        (Watch(id="w", topics=["space"], none_of={"entities": ["قطة"]}), "none_of.entities: unknown entity"),
    ],
)
def test_invalid_watches_name_the_field(watch: Watch, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_watch(watch, REGISTRY, TOPICS)


def test_snippet_is_short_and_marks_cuts() -> None:
    text = "كلمة " * 50 + "بوتين" + " كلمة" * 50
    start = text.index("بوتين")
    s = snippet(text, start, start + 5)
    assert "بوتين" in s and s.startswith("…") and s.endswith("…") and len(s) < 150


def _fires(watch: Watch, article: Article | None = None) -> bool:
    cw = compile_watch(watch, REGISTRY, TOPICS)
    return match_watch(cw, article or _article(), REGISTRY.analyzer) is not None


@pytest.mark.parametrize(
    ("body", "word", "fires"),
    [
        ("دعا المجلس لوقف إطلاق النار في غزة", "وقف إطلاق النار", True),  # the analyzer keeps ل on لوقف
        ("طالب المجلس بوقف إطلاق النار", "وقف إطلاق النار", True),
        ("رحب الوسطاء بهدنة جديدة", "هدنة", True),
        ("وعاد الطرفان فلهدنتهم", "هدنة", True),  # ف + ل before, a pronoun after
        ("صيد في البحر", "حر", False),  # two letters: بحر "sea" is no ب + حر
        ("مقال عن الكتب", "تب", False),
        ("قال الوزير إن الإطلاق لوقف النار", "وقف إطلاق النار", False),  # the words out of order
        ("رفض الطرفان أي وقف لإطلاق النار دون شروط", "وقف إطلاق النار", True),  # ل on the second word
        ("رفض الطرفان أي وقف لإطلاق سراح الأسرى", "وقف إطلاق النار", False),  # the third word still counts
    ],
)
def test_a_phrase_s_first_word_matches_behind_a_preposition(body: str, word: str, fires: bool) -> None:
    assert _fires(Watch(id="w", words=[word]), _article(body=body, entities=[])) is fires


def test_a_watched_name_fires_for_its_other_spellings_and_shows_the_one_written() -> None:
    """As a search does: the word بوتين also matches بوطين and Putin (the registry's listed spellings)."""
    registry = EntityRegistry.build(
        [
            Entity(
                id="Q7747",
                type="PER",
                name_ar="فلاديمير بوتين",
                name_en="Vladimir Putin",
                aliases_ar=("بوتين", "بوطين"),
                aliases_en=("Putin",),
            ),
            Entity(id="Q30", type="LOC", name_ar="الولايات المتحدة", name_en="USA", aliases_ar=("أمريكا",)),
            Entity(id="Q12585", type="LOC", name_ar="أمريكا اللاتينية", name_en="Latin America"),
        ]
    )
    cw = compile_watch(Watch(id="w", words=["بوتين"]), registry, TOPICS)
    for body, written in (
        ("هدد الرئيس الروسي بوطين بالرد", "بوطين"),
        ("قال Putin إن المحادثات مستمرة", "Putin"),
    ):
        alert = match_watch(cw, _article(title="-", body=body, entities=[]), registry.analyzer)
        assert alert is not None, body
        assert [(e.value, e.surface) for e in alert.evidence] == [("بوتين", written)]
    # a word inside another entity's name is no spelling of this one: أمريكا in أمريكا اللاتينية
    usa = compile_watch(Watch(id="w", words=["الولايات المتحدة"]), registry, TOPICS)
    latin = _article(title="-", body="جولة في أمريكا اللاتينية", entities=[])
    assert match_watch(usa, latin, registry.analyzer) is None
    home = _article(title="-", body="وصل الوفد إلى الولايات المتحدة", entities=[])
    assert match_watch(usa, home, registry.analyzer) is not None


def test_a_watched_word_fires_for_its_sound_plural_and_shows_the_form_written() -> None:
    """As a search for a bare word does: مظاهرة also matches مظاهرات and مظاهرتين, لاجئ اللاجئين."""
    cw = compile_watch(Watch(id="w", words=["مظاهرة", "لاجئ"]), REGISTRY, TOPICS)
    for body, value, written in (
        ("خرجت مظاهرات في العاصمة", "مظاهرة", "مظاهرات"),
        ("نظمت النقابات مظاهرتين", "مظاهرة", "مظاهرتين"),
        ("عاد آلاف اللاجئين إلى قراهم", "لاجئ", "اللاجئين"),
    ):
        alert = match_watch(cw, _article(title="-", body=body, entities=[]), REGISTRY.analyzer)
        assert alert is not None, body
        assert [(e.value, e.surface) for e in alert.evidence] == [(value, written)]
    # a plural that is another word is not made from a short one: سليم finds no سليمان
    salim = compile_watch(Watch(id="w", words=["سليم"]), REGISTRY, TOPICS)
    assert match_watch(salim, _article(title="-", body="قال سليمان", entities=[]), REGISTRY.analyzer) is None


def test_all_of_needs_every_item_and_reports_each() -> None:
    both = Watch(id="w", all_of={"entities": ["بوتين"], "words": ["هدنة"]})
    cw = compile_watch(both, REGISTRY, TOPICS)
    alert = match_watch(cw, _article(), REGISTRY.analyzer)
    assert alert is not None
    assert [(e.kind, e.value) for e in alert.evidence] == [("entity", "Q7747"), ("word", "هدنة")]
    assert not _fires(Watch(id="w", all_of={"entities": ["بوتين"], "words": ["صاروخ"]}))


def test_none_of_vetoes_a_match() -> None:
    assert _fires(Watch(id="w", entities=["بوتين"], none_of={"topics": ["sport"]}))
    assert not _fires(Watch(id="w", entities=["بوتين"], none_of={"topics": ["space"]}))
    assert not _fires(Watch(id="w", entities=["بوتين"], none_of={"words": ["غزة"]}))


def test_any_of_and_all_of_combine() -> None:
    watch = Watch(id="w", any_of={"words": ["صاروخ", "هدنة"]}, all_of={"topics": ["space"]})
    assert _fires(watch)
    assert not _fires(watch, _article(topics=[]))


def test_min_mentions_counts_every_occurrence() -> None:
    body = "قال بوتين إن بوتين لن يتراجع"
    mentions = [
        EntityMention(
            type="PER",
            surface="بوتين",
            canonical_id="Q7747",
            canonical_name="فلاديمير بوتين",
            field="body",
            start=body.index("بوتين", i),
            end=body.index("بوتين", i) + 5,
        )
        for i in (0, 6)
    ]
    article = _article(body=body, entities=mentions)
    cw = compile_watch(Watch(id="w", entities=["Q7747"], min_mentions=2), REGISTRY, TOPICS)
    alert = match_watch(cw, article, REGISTRY.analyzer)
    assert alert is not None and alert.evidence[0].count == 2
    assert not _fires(Watch(id="w", entities=["Q7747"], min_mentions=3), article)
    assert not _fires(Watch(id="w", entities=["Q7747"], min_mentions=2))  # one mention only
    assert _fires(Watch(id="w", words=["بوتين"], min_mentions=2), _article(body=body, entities=[]))


def test_min_mentions_counts_a_place_in_the_text_once() -> None:
    body = "قال بوتين إن الهدنة صامدة"
    putin = EntityMention(
        type="PER", surface="بوتين", canonical_id="Q7747", canonical_name="فلاديمير بوتين",
        field="body", start=4, end=9,
    )  # fmt: skip
    article = _article(body=body, entities=[putin])
    # two words of one stem, or an entity and a word naming it, at the same place: one mention
    assert not _fires(Watch(id="w", words=["هدنة", "الهدنة"], min_mentions=2), article)
    assert not _fires(Watch(id="w", entities=["Q7747"], words=["بوتين"], min_mentions=2), article)
    assert _fires(Watch(id="w", entities=["Q7747"], words=["هدنة"], min_mentions=2), article)  # two places


def test_alert_id_follows_the_story_not_the_copy() -> None:
    cw = compile_watch(Watch(id="putin", entities=["Q7747"]), REGISTRY, TOPICS)
    original = match_watch(cw, _article(story_id="s" * 32), REGISTRY.analyzer)
    copy = match_watch(cw, _article(id="b" * 32, source="other", story_id="s" * 32), REGISTRY.analyzer)
    assert original is not None and copy is not None
    assert original.id == copy.id and original.article_id != copy.article_id


def test_surge_watches_never_fire_on_single_articles() -> None:
    assert not _fires(Watch(id="w", entities=["Q7747"], surge={"window": "1h"}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "empty condition"),
        ({"none_of": {"topics": ["sport"]}}, "none_of alone"),
        ({"topics": ["space"], "surge": {"window": "1x"}}, "bad duration"),
        ({"words": ["هدنة"], "surge": {}}, "surge watch counts entities and topics"),
        ({"any_of": {"entities": ["x"], "colour": ["red"]}}, "colour"),
    ],
)
def test_watch_model_rejects_conditions_that_cannot_work(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Watch.model_validate({"id": "w", **fields})


class _CountingAnalyzer:
    """The registry's analyzer, counting how often a text is tokenised or only split into terms."""

    def __init__(self) -> None:
        self.calls = 0
        self.term_calls = 0

    def tokens(self, text: str) -> list[object]:
        self.calls += 1
        return REGISTRY.analyzer.tokens(text)  # type: ignore[return-value]

    def terms(self, text: str) -> list[str]:
        self.term_calls += 1
        return REGISTRY.analyzer.terms(text)


def test_match_watches_tokenises_once_and_agrees_with_match_watch() -> None:
    watches = [
        compile_watch(w, REGISTRY, TOPICS)
        for w in (
            Watch(id="truce", words=["هدنة", "وقف إطلاق النار"]),
            Watch(id="putin-truce", all_of={"entities": ["بوتين"], "words": ["غزة"]}),
            Watch(id="missile", words=["صاروخ"]),
            Watch(id="no-gaza", entities=["بوتين"], none_of={"words": ["غزة"]}),
            Watch(id="twice", words=["النار"], min_mentions=2),
        )
    ]
    article = _article(body="وقال وبوتين إن الهدنة في غزة ستبدأ غداً بعد اتفاق وقف إطلاق النار. النار")
    counting = _CountingAnalyzer()
    fired = match_watches(watches, article, counting)  # type: ignore[arg-type]
    one_by_one = [(cw, match_watch(cw, article, REGISTRY.analyzer)) for cw in watches]

    def same(a: object) -> object:
        return a.model_dump(exclude={"created"})  # type: ignore[attr-defined]

    assert [same(a) for _, a in fired] == [same(a) for _, a in one_by_one if a is not None]
    assert [cw.watch.id for cw, _ in fired] == ["truce", "putin-truce", "twice"]
    # each field's terms are looked up once for the five watches (6 phrases); only the body, which
    # holds watched phrases, is tokenised (once) for their offsets
    assert (counting.term_calls, counting.calls) == (2, 1)
    (truce,) = [a for cw, a in fired if cw.watch.id == "truce"]
    assert [(e.value, e.surface, e.count) for e in truce.evidence] == [
        ("هدنة", "الهدنة", 1),
        ("وقف إطلاق النار", "وقف إطلاق النار", 1),
    ]


def test_an_article_without_any_watched_phrase_is_not_tokenised() -> None:
    pairs = (("missile", "صاروخ"), ("unsc", "مجلس الأمن"))
    watches = [compile_watch(Watch(id=i, words=[w]), REGISTRY, TOPICS) for i, w in pairs]
    counting = _CountingAnalyzer()
    assert match_watches(watches, _article(), counting) == []  # type: ignore[arg-type]
    assert (counting.term_calls, counting.calls) == (2, 0)
    hit = _article(body="سقط الصاروخ قرب مجلس الأمن")
    assert [cw.watch.id for cw, _ in match_watches(watches, hit, REGISTRY.analyzer)] == ["missile", "unsc"]
