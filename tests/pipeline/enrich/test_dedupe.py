"""Pure duplicate detection on real Arabic news: keys, signatures, thresholds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.parse import parse_feed
from pipeline.enrich import dedupe
from pipeline.enrich.dedupe import (
    MAX_FINGERPRINT_WORDS,
    DedupeParams,
    content_key,
    fingerprint,
    fingerprint_text,
    match_score,
    shingle_hashes,
    similarity,
    terms,
    words,
)
from pipeline.models import Article
from pipeline.text import Analyzer, tokenize

SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "samples"
if not SAMPLES.is_dir():  # the shared folder sits beside the checkout
    SAMPLES = Path("/work/shared/samples")
SEED = (SAMPLES / "seed-article-ar.txt").read_text(encoding="utf-8")
PARAMS = DedupeParams()
_SENTENCE_END = re.compile(r"(?<=[.!؟?])\s+")


def feed_articles() -> list[Article]:
    """Every item of every sample feed, parsed as the connector does."""
    articles: list[Article] = []
    for path in sorted((SAMPLES / "feeds").glob("*/*.xml")):
        articles.extend(parse_feed(path.read_bytes(), source=path.parent.name).articles)
    return articles


def decorate(text: str) -> str:
    """Diacritics, tatweel, bidi marks and other punctuation: invisible to matching."""
    out = text.replace("ا", "اَ").replace("ل", "لـ").replace("م", "مُ").replace(" ", " \u200f", 3)
    return out.replace("،", ",").replace(".", " .").replace("«", '"').replace("»", '"')


def drop_sentence(text: str, which: int = -1) -> str:
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p]
    del parts[which]
    return " ".join(parts)


def article(title: str, text: str, ident: str = "a" * 32) -> Article:
    return Article(id=ident, source="test", title=title, summary=text)


def test_terms_and_words_are_the_shared_analyzer_s() -> None:
    analyzer = Analyzer()
    texts = [SEED, decorate(SEED)] + [f"{a.title} {a.summary} {a.body}" for a in feed_articles()]
    for text in texts:
        assert terms(text) == analyzer.terms(text)
        assert words(text) == [t.norm for t in tokenize(text)]


def test_long_unspaced_tokens_are_analysed_alike_but_not_cached() -> None:
    # words joined by "،" with no space: one cache entry held every word of its token (11 MB each)
    joined = "،".join(SEED.split()[:400]) + "ﷺ" * 10
    text = f"قبل {joined} بعد"
    dedupe._TOKENS.clear()
    assert terms(text) == Analyzer().terms(text)
    assert words(text) == [t.norm for t in tokenize(text)]
    assert joined not in dedupe._TOKENS and all(len(t) <= 64 for t in dedupe._TOKENS)


@pytest.mark.parametrize("glue", [" ", "،"])
def test_only_the_first_words_of_a_huge_text_are_fingerprinted(glue: str) -> None:
    vocabulary = [f"كلمة{n}" for n in range(997)]
    many = [vocabulary[(n * 31) % 997] for n in range(MAX_FINGERPRINT_WORDS + 5_000)]
    head = " ".join(many[:MAX_FINGERPRINT_WORDS])
    capped = fingerprint_text("عنوان", glue.join(many), PARAMS)
    assert capped == fingerprint_text("عنوان", head, PARAMS)
    assert capped != fingerprint_text("عنوان", " ".join(many[: MAX_FINGERPRINT_WORDS - 1]), PARAMS)


def test_content_key_ignores_marks_punctuation_and_spacing() -> None:
    title, body = SEED.split("\n", 1)
    plain = article(title, body)
    marked = article(decorate(title), "  " + decorate(body).replace(" ", "\n", 5))
    assert content_key(plain) == content_key(marked)
    assert content_key(plain) != content_key(article(title, drop_sentence(body)))
    assert content_key(plain) != content_key(article("عنوان آخر", body))


SEED_TITLE, SEED_BODY = SEED.split("\n", 1)


@pytest.mark.parametrize(
    ("title", "body"),
    [
        pytest.param(SEED_TITLE, "(رويترز) - " + SEED_BODY, id="agency-credit"),
        pytest.param(SEED_TITLE, "موسكو - وكالات: " + SEED_BODY, id="dateline-and-credit"),
        pytest.param(SEED_TITLE, SEED_BODY + "\nتابعوا آخر الأخبار على قناتنا في تلغرام.", id="footer"),
        pytest.param(SEED_TITLE, drop_sentence(SEED_BODY, 0), id="first-sentence-dropped"),
        pytest.param(SEED_TITLE, drop_sentence(SEED_BODY, 3), id="middle-sentence-dropped"),
        pytest.param("بوتين يستقبل كيم في قاعدة فضائية ويعده بالمساعدة", SEED_BODY, id="rewritten-title"),
        pytest.param(
            "بوتين وكيم في فوستوتشني",
            "(أ ف ب) - " + decorate(drop_sentence(SEED_BODY, 1)) + "\nجميع الحقوق محفوظة.",
            id="everything-at-once",
        ),
    ],
)
def test_syndicated_copies_of_the_seed_article_are_near_duplicates(title: str, body: str) -> None:
    original = fingerprint_text(SEED_TITLE, SEED_BODY, PARAMS)
    copy = fingerprint_text(title, body, PARAMS)
    score = match_score(original, copy, PARAMS)
    assert score is not None and score >= PARAMS.threshold


def test_distinct_sample_articles_never_match() -> None:
    articles = [*feed_articles(), article(SEED_TITLE, SEED_BODY, "s" * 32)]
    prints = [fingerprint(a, PARAMS) for a in articles]
    highest = 0.0
    for i, a in enumerate(prints):
        for b in prints[i + 1 :]:
            assert match_score(a, b, PARAMS) is None
            if a.signature and b.signature:
                highest = max(highest, similarity(a.signature, b.signature))
    assert highest < PARAMS.containment_floor  # a clear margin, not a near miss


def test_signature_estimates_jaccard() -> None:
    """The densified one-permutation signature tracks the exact Jaccard of the shingle sets."""
    body = SEED_BODY
    for variant in (drop_sentence(body, 0), drop_sentence(drop_sentence(body, 2), 4), body[: len(body) // 2]):
        a, b = set(shingle_hashes(terms(body), 3)), set(shingle_hashes(terms(variant), 3))
        exact = len(a & b) / len(a | b)
        fa, fb = fingerprint_text("", body, PARAMS), fingerprint_text("", variant, PARAMS)
        assert fa.signature is not None and fb.signature is not None
        assert abs(similarity(fa.signature, fb.signature) - exact) < 0.2


def test_short_items_fall_back_to_the_title_and_tiny_ones_to_exact_matching() -> None:
    breaking = "التفاصيل بعد قليل.."
    footer = "\nتابعوا آخر الأخبار على قناتنا في تلغرام وفيسبوك ويوتيوب."
    a = fingerprint_text("عاجل | زلزال بقوة 6 درجات يضرب جنوب تركيا", breaking + footer, PARAMS)
    b = fingerprint_text("عاجل | البرلمان العراقي يصوت على الموازنة العامة", breaking + footer, PARAMS)
    # the text alone is boilerplate: titles are shingled too, so these stay apart
    assert match_score(a, b, PARAMS) is None
    tiny = fingerprint_text("عاجل", breaking, PARAMS)
    assert tiny.signature is None and tiny.content_key is None
    short = fingerprint_text("انفجار في ميناء بيروت", "قتلى وجرحى.", PARAMS)
    assert short.signature is None and short.content_key is not None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bands": 30, "rows": 3},
        {"threshold": 0.0},
        {"containment_floor": 0.7, "threshold": 0.6},
        {"shingle_size": 9},
        {"min_shingles": 0},
    ],
)
def test_invalid_params_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DedupeParams(**kwargs)  # type: ignore[arg-type]
