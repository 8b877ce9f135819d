"""Duplicate detection, pure: exact content keys and MinHash signatures over word shingles.

Two copies of one story are

- *exact* duplicates when their normalised words are equal (title, then summary + body): diacritics,
  tatweel, bidi marks, punctuation, whitespace, hamza/alef forms and digit styles do not count;
- *near* duplicates when the estimated Jaccard similarity of their sets of word shingles (k
  consecutive stems of summary + body) reaches `DedupeParams.threshold`. Titles are left out because
  syndicating sites rewrite them; they are shingled only when the text alone is too short.

The signature is one-permutation MinHash (Li, Owen, Zhang 2012) with optimal densification
(Shrivastava 2017): each shingle is hashed once, the low bits of its hash choose one of `num_perm`
bins and each bin keeps the minimum of the high bits; an empty bin copies the first non-empty bin
of a fixed pseudo-random probe order. Two signatures agree on a bin with probability equal to the
Jaccard similarity, as with classic MinHash, for O(shingles) work instead of O(shingles × num_perm),
which is what keeps pure Python above 2,000 articles/s. LSH cuts the signature into `bands` of
`rows` bins; articles sharing one band key are candidates, verified on the whole signature.

Words and stems are those of `pipeline.text` (`normalise`, then `tokenize.stem`); `terms` memoises
them per whitespace-separated token and skips what shingling does not need (offsets, `Token`
objects), which keeps fingerprinting cheap next to the rest of enrichment.
"""

from __future__ import annotations

import hashlib
import re
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from itertools import chain
from operator import itemgetter
from typing import Any

from pipeline.models import Article
from pipeline.text import normalise
from pipeline.text.tokenize import stem as stem_of

__all__ = [
    "SCHEME_VERSION",
    "DedupeParams",
    "DedupeResult",
    "Fingerprint",
    "band_keys",
    "content_key",
    "fingerprint",
    "fingerprint_text",
    "match_score",
    "shingle_hashes",
    "signature_from_hashes",
    "similarity",
    "terms",
    "words",
]

# bump when any change makes stored signatures or band keys incomparable with new ones
SCHEME_VERSION = 1

_P61 = (1 << 61) - 1
_EMPTY = 1 << 32  # above any 32-bit bin value
# the same word pattern as pipeline.text.tokenize (tests check that `terms` equals Analyzer().terms)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_CACHE_LIMIT = 200_000
# a whitespace-free token longer than this (words joined by "،", a hostile body) is analysed word by
# word and not cached: a cache entry holds every word of its token, so 200,000 entries of long tokens
# had no memory bound
_LONG_TOKEN = 64
# words fingerprinted per field at most, as enrichment reads at most MAX_ENRICHED_WORDS: the rest of
# a huge text only costs time
MAX_FINGERPRINT_WORDS = 50_000
# a character normalises to at most 4 words (ﷺ, ﷽): a text this long has fewer than the maximum
_SHORT_TEXT = MAX_FINGERPRINT_WORDS // 4 - 1


@dataclass(frozen=True, slots=True)
class DedupeParams:
    """Signature shape (`scheme`: changing it invalidates stored signatures) and matching thresholds.

    Shape: 3-stem shingles, 64 bins in 21 bands of 3 rows, so a pair with Jaccard 0.5 becomes a
    candidate with probability 0.94, at 0.6 with 0.994, at 0.2 with 0.16, at 0.05 with 0.003.

    Thresholds, on the signature's Jaccard estimate (standard deviation about 0.06 at 0.5):
        threshold: near duplicates (0.5; distinct sample-feed items never exceed 0.2).
        containment, containment_floor: a copy that dropped sentences, mostly contained in the
            other (estimated containment >= 0.85 with Jaccard >= 0.3).
        short_threshold: when either text had fewer than `min_text_shingles` shingles and its
            title was shingled with it (0.7, no containment rule: boilerplate must not match).
        min_shingles: fewer (text and title together) means exact matching only.
        min_exact_words: fewer normalised words means no exact key either ("عاجل").
    """

    shingle_size: int = 3
    num_perm: int = 64
    bands: int = 21
    rows: int = 3
    threshold: float = 0.5
    short_threshold: float = 0.7
    containment: float = 0.85
    containment_floor: float = 0.3
    min_shingles: int = 8
    min_text_shingles: int = 16
    min_exact_words: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.shingle_size <= _MAX_SHINGLE or self.rows < 1 or self.bands < 1:
            raise ValueError(f"need 1 <= shingle_size <= {_MAX_SHINGLE} and positive bands and rows")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows ({self.bands * self.rows}) exceeds num_perm ({self.num_perm})")
        if (
            not 0.0 < self.containment_floor <= self.threshold <= self.short_threshold <= 1.0
            or not 0.0 < self.containment <= 1.0
        ):
            raise ValueError(
                "need 0 < containment_floor <= threshold <= short_threshold <= 1, 0 < containment <= 1"
            )
        if min(self.min_shingles, self.min_text_shingles, self.min_exact_words) < 1:
            raise ValueError("min_shingles, min_text_shingles and min_exact_words must be positive")

    @property
    def scheme(self) -> str:
        """What stored signatures depend on; a persisted index refuses to mix schemes."""
        return f"v{SCHEME_VERSION}:k{self.shingle_size}:p{self.num_perm}:b{self.bands}x{self.rows}"


@dataclass(frozen=True, slots=True)
class DedupeResult:
    """Where an article landed: its story, the earlier copy it matched, and how close it was.

    `story_id` is the id of the story's first-seen article (the article's own id for a new story).
    `duplicate_of` is the id of the earlier article it matched best, None for a new story.
    `similarity` is 1.0 for exact duplicates, the Jaccard estimate for near ones, 0.0 otherwise.
    """

    story_id: str
    duplicate_of: str | None
    similarity: float
    exact: bool


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the index needs of an article: exact key, MinHash signature and shingle count."""

    content_key: str | None  # None when the article has too few words for exact matching
    signature: bytes | None = None  # None: too few shingles, exact matching only
    shingles: int = 0
    short: bool = False  # the text was too short on its own: the title is shingled with it


_MAX_SHINGLE = 4
_MASK64 = (1 << 64) - 1
# (words, stems, then for each shingle position the stems' hashes at that position): flat, so that
# `itemgetter` and `chain` gather a text's columns without a Python-level loop
_Analysed = tuple[tuple[Any, ...], ...]
_WORDS, _STEMS_AT, _HASHES_AT = itemgetter(0), itemgetter(1), [itemgetter(2 + p) for p in range(4)]
# raw whitespace-separated token -> its analysis
_TOKENS: dict[str, _Analysed] = {}


def _position_hashes(stem: str) -> tuple[int, ...]:
    """Independent 64-bit hashes of a stem, one per shingle position (simple tabulation hashing)."""
    # one 256-bit integer cut with shifts: the same values as reading the four 8-byte slices, 2x faster
    x = int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8 * _MAX_SHINGLE).digest(), "little")
    return (x & _MASK64, (x >> 64) & _MASK64, (x >> 128) & _MASK64, x >> 192)  # _MAX_SHINGLE of them


def _analyse(token: str) -> _Analysed:
    """Words, stems and stem hashes of one whitespace-free token, memoised (news vocabulary is Zipfian).

    `normalise` works character by character and never turns a word character into whitespace
    or back, so the words of a text are the words of its whitespace-separated tokens, in order.
    """
    hit = _TOKENS.get(token)
    if hit is None:
        if len(token) > _LONG_TOKEN:
            return _analyse_long(token)
        found = tuple(_WORD.findall(normalise(token)))
        stems = tuple(stem_of(w)[1] for w in found)
        per_stem = [_position_hashes(st) for st in stems]
        hit = (found, stems, *(zip(*per_stem, strict=True) if per_stem else ((),) * _MAX_SHINGLE))
        if len(_TOKENS) >= _CACHE_LIMIT:
            _TOKENS.clear()
        _TOKENS[token] = hit
    return hit


def _analyse_long(token: str, limit: int | None = None) -> _Analysed:
    """`_analyse` of a long token, uncached, its repeated words analysed once; at most `limit` words."""
    found = _WORD.findall(normalise(token))
    if limit is not None:
        del found[limit:]
    memo: dict[str, tuple[str, tuple[int, ...]]] = {}
    per_word = []
    for word in found:
        got = memo.get(word)
        if got is None:
            stem = stem_of(word)[1]
            got = memo[word] = (stem, _position_hashes(stem))
        per_word.append(got)
    stems = tuple(stem for stem, _ in per_word)
    columns = zip(*(h for _, h in per_word), strict=True) if per_word else ((),) * _MAX_SHINGLE
    return (tuple(found), stems, *columns)


def _analysed(text: str) -> list[_Analysed]:
    """The analyses of the tokens of `text` holding its first `MAX_FINGERPRINT_WORDS` words (about)."""
    get = _TOKENS.get  # the hit path stays in C; `_analyse` only on a miss
    if len(text) <= _SHORT_TEXT:  # cannot hold MAX_FINGERPRINT_WORDS words: no counting
        return [get(t) or _analyse(t) for t in text.split()]
    out: list[_Analysed] = []
    count = 0
    for token in text.split():
        hit = get(token)
        if hit is None:
            if len(token) > _LONG_TOKEN:
                hit = _analyse_long(token, MAX_FINGERPRINT_WORDS - count)
            else:
                hit = _analyse(token)
        out.append(hit)
        count += len(hit[0])
        if count >= MAX_FINGERPRINT_WORDS:
            break
    return out


def words(text: str) -> list[str]:
    """Normalised words of `text`, punctuation and invisible marks dropped (no clitic stripping)."""
    return list(chain.from_iterable(map(_WORDS, map(_analyse, text.split()))))


def terms(text: str) -> list[str]:
    """Matching stems of `text`, equal to `Analyzer().terms(text)` but several times faster."""
    return list(chain.from_iterable(map(_STEMS_AT, map(_analyse, text.split()))))


def _shingles(columns: list[list[int]], k: int) -> list[int]:
    """Shingle hashes (with repeats) from per-position stem hashes: xor of the k positions' hashes."""
    if k == 1:
        return columns[0]
    if k == 2:
        return [a ^ b for a, b in zip(columns[0], columns[1][1:], strict=False)]
    if k == 3:
        return [a ^ b ^ c for a, b, c in zip(columns[0], columns[1][1:], columns[2][2:], strict=False)]
    shifted = [col[p:] for p, col in enumerate(columns[:k])]
    return [a ^ b ^ c ^ d for a, b, c, d in zip(*shifted, strict=False)]


def _columns(analysed: list[_Analysed], k: int) -> list[list[int]]:
    return [list(chain.from_iterable(map(_HASHES_AT[p], analysed))) for p in range(k)]


def shingle_hashes(stems: list[str], k: int) -> set[int]:
    """64-bit hashes of the distinct k-stem shingles of `stems` (empty when there are fewer than k).

    A shingle hashes to the xor of one independent hash per (position, stem): simple tabulation
    hashing, stable across processes and hosts, min-wise enough for MinHash, and two xors per
    shingle in the interpreter.
    """
    per_stem = [_position_hashes(st) for st in stems]
    return set(_shingles([[h[p] for h in per_stem] for p in range(k)], k))


def _probe_orders(num_perm: int) -> tuple[tuple[int, ...], ...]:
    """For each bin, a fixed pseudo-random order of the other bins to borrow from when it is empty."""

    def rank(i: int, j: int) -> bytes:
        return hashlib.blake2b(f"{i}:{j}".encode(), digest_size=8).digest()

    return tuple(
        tuple(sorted((j for j in range(num_perm) if j != i), key=partial(rank, i))) for i in range(num_perm)
    )


_PROBES: dict[int, tuple[tuple[int, ...], ...]] = {}


def signature_from_hashes(hashes: Iterable[int], num_perm: int) -> bytes | None:
    """Densified one-permutation MinHash of 64-bit hashes (repeats are harmless); None when empty.

    The signature is `num_perm` unsigned 32-bit bin values, little-endian: compact enough to keep
    200k of them in memory or as SQLite blobs, and independent of the host.
    """
    mins = [_EMPTY] * num_perm
    for x in hashes:
        # low 32 bits as the value, the (independently mixed) high bits choose the bin
        b = (x >> 32) % num_perm
        v = x & 0xFFFFFFFF
        if v < mins[b]:
            mins[b] = v
    if all(v == _EMPTY for v in mins):
        return None
    if _EMPTY in mins:
        probes = _PROBES.get(num_perm)
        if probes is None:
            probes = _PROBES[num_perm] = _probe_orders(num_perm)
        filled = list(mins)
        for i, v in enumerate(mins):
            if v == _EMPTY:
                filled[i] = next(mins[j] for j in probes[i] if mins[j] != _EMPTY)
        mins = filled
    raw = array("I", mins)
    if sys.byteorder == "big":  # pragma: no cover - stored signatures must not depend on the host
        raw.byteswap()
    return raw.tobytes()


def _bins(signature: bytes) -> memoryview:
    # equality of 4-byte bins does not depend on byte order, so the host's order is fine here
    return memoryview(signature).cast("I")


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity: the share of bins on which two signatures agree."""
    if len(a) != len(b) or not a:
        raise ValueError("signatures must be non-empty and of equal length")
    bins_a, bins_b = _bins(a), _bins(b)
    return sum(x == y for x, y in zip(bins_a, bins_b, strict=True)) / len(bins_a)


def match_score(a: Fingerprint, b: Fingerprint, params: DedupeParams) -> float | None:
    """The Jaccard estimate of two fingerprints when they are near duplicates, else None.

    Near duplicates reach `threshold`, or, when one text is mostly contained in the other (a copy
    that dropped sentences), reach `containment` with a Jaccard estimate of at least
    `containment_floor`; the intersection is estimated from the Jaccard estimate and the exact
    shingle counts: |A ∩ B| = J (|A| + |B|) / (1 + J).
    """
    if a.signature is None or b.signature is None:
        return None
    j = similarity(a.signature, b.signature)
    if a.short or b.short:
        # title + a sentence or two, or boilerplate ("التفاصيل بعد قليل" + a site footer) that
        # would outweigh two different titles: only close copies count
        return j if j >= params.short_threshold else None
    if j >= params.threshold:
        return j
    if j < params.containment_floor:
        return None
    smaller = min(a.shingles, b.shingles)
    inter = j * (a.shingles + b.shingles) / (1.0 + j)
    return j if inter / smaller >= params.containment else None


def band_keys(signature: bytes, params: DedupeParams) -> list[int]:
    """One key per LSH band: the band number and its bins taken modulo the prime 2**61 - 1.

    Bin values are already hashes, so the reduction only folds them into a SQLite INTEGER; two
    different bands collide with probability about 2**-61.
    """
    width = params.rows * 4
    return [
        int.from_bytes(signature[b * width : (b + 1) * width] + b.to_bytes(2, "little"), "little") % _P61
        for b in range(params.bands)
    ]


def _key(title_words: list[str], text_words: list[str]) -> str:
    payload = " ".join(title_words) + "\x1f" + " ".join(text_words)
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def content_key(article: Article) -> str:
    """Hash of the normalised words of the title and of summary + body: equal for exact copies."""
    return _key(words(article.title), words(_text(article)))


def _text(article: Article) -> str:
    return f"{article.summary}\n{article.body}" if article.body else article.summary


def fingerprint_text(title: str, text: str, params: DedupeParams) -> Fingerprint:
    """Fingerprint of a title and its text (summary + body)."""
    title_tokens = _analysed(title)
    text_tokens = _analysed(text)
    title_words = list(chain.from_iterable(map(_WORDS, title_tokens)))
    text_words = list(chain.from_iterable(map(_WORDS, text_tokens)))
    enough = len(title_words) + len(text_words) >= params.min_exact_words
    key = _key(title_words, text_words) if enough else None
    k = params.shingle_size
    shingles = _shingles(_columns(text_tokens, k), k)
    distinct = len(set(shingles))
    short = distinct < params.min_text_shingles
    if short:
        # a short text may be all boilerplate ("التفاصيل بعد قليل" + a site footer): only the title,
        # though syndicating sites may rewrite it, tells two such items apart
        shingles = _shingles(_columns(title_tokens + text_tokens, k), k)
        distinct = len(set(shingles))
    if distinct < params.min_shingles:
        return Fingerprint(content_key=key, signature=None, shingles=distinct, short=short)
    signature = signature_from_hashes(shingles, params.num_perm)
    return Fingerprint(content_key=key, signature=signature, shingles=distinct, short=short)


def fingerprint(article: Article, params: DedupeParams) -> Fingerprint:
    """Fingerprint of an article from its title, summary and body."""
    return fingerprint_text(article.title, _text(article), params)
