"""News-section classifier: a linear model over TF-IDF word and character n-grams, scored with numpy.

Features come from the project normaliser and clitic stripper (`pipeline.text`): stem unigrams and
bigrams of title + body, title stems in their own namespace, and hashed character 3–5-grams of the
normalised words. The model file (`config/models/topics-ant.npz`) holds plain arrays only (vocabulary,
kept hash buckets, idf, coefficients, intercepts, labels) and is read with ``allow_pickle=False``;
training (`pipeline.enrich.classifier_train`) is the only place that needs scikit-learn.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.text.normalise import normalise
from pipeline.text.tokenize import strip_prefix

__all__ = ["FeatureSpec", "Features", "SectionClassifier", "extract_features"]

FORMAT = "rasd-sections/1"
TITLE_PREFIX = "T "  # title stems get their own features: a headline word says more than a body word

# same word pattern as pipeline.text.tokenize
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_PRIME = np.uint64(1_000_003)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
HashArray = npt.NDArray[np.uint64]


_STEMS: dict[str, str] = {}


def _stem(word: str) -> str:
    """Memoised `strip_prefix` (news vocabulary is small and repetitive)."""
    hit = _STEMS.get(word)
    if hit is None:
        hit = strip_prefix(word)
        if len(_STEMS) < 500_000:
            _STEMS[word] = hit
    return hit


@dataclass(frozen=True)
class FeatureSpec:
    """How text becomes features; stored in the model so training and inference agree."""

    char_min: int = 3
    char_max: int = 5
    hash_bits: int = 22
    bigrams: bool = True
    title_features: bool = True

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form for the model file."""
        return {
            "char_min": self.char_min,
            "char_max": self.char_max,
            "hash_bits": self.hash_bits,
            "bigrams": self.bigrams,
            "title_features": self.title_features,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        """Inverse of `to_json`."""
        return cls(
            char_min=int(data["char_min"]),
            char_max=int(data["char_max"]),
            hash_bits=int(data["hash_bits"]),
            bigrams=bool(data["bigrams"]),
            title_features=bool(data["title_features"]),
        )


@dataclass(frozen=True)
class Features:
    """Raw features of one article: word-feature keys (with repeats) and character n-gram hashes."""

    words: list[str]
    chars: HashArray


def _char_hashes(text: str, spec: FeatureSpec) -> HashArray:
    """Hashes of every character n-gram of `text` (n in [char_min, char_max]), as uint64 buckets."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts: list[HashArray] = []
    for n in range(spec.char_min, spec.char_max + 1):
        m = len(codes) - n + 1
        if m <= 0:
            continue
        h = np.full(m, n, dtype=np.uint64)
        for k in range(n):
            h = h * _PRIME + codes[k : k + m]  # uint64 arithmetic wraps, which is what a hash wants
        parts.append(h)
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    h = np.concatenate(parts)
    h = (h ^ (h >> np.uint64(31))) * _MIX
    return h >> np.uint64(64 - spec.hash_bits)


def words_of(text: str) -> list[str]:
    """The normalised words of `text`: the same as the norms of its `Analyzer` tokens."""
    return _WORD.findall(normalise(text))


def extract_features(title: str, body: str, spec: FeatureSpec) -> Features:
    """Word keys (title stems, stem unigrams and bigrams) and char n-gram hashes of one article."""
    title_words = words_of(title)
    body_words = words_of(body)
    title_stems = [_stem(w) for w in title_words]
    stems = title_stems + [_stem(w) for w in body_words]
    keys: list[str] = list(stems)
    if spec.bigrams:
        keys.extend([f"{a} {b}" for a, b in pairwise(stems)])
    if spec.title_features:
        keys.extend([TITLE_PREFIX + s for s in title_stems])
    joined = " " + " ".join(title_words + body_words) + " "
    return Features(keys, _char_hashes(joined, spec))


class _RowMemo(dict[str, int]):
    """Normalised word → row of its stem in a `_WordIndex`, filled on first sight (bounded)."""

    def __init__(self, stem_rows: dict[str, int]) -> None:
        super().__init__()
        self.stem_rows = stem_rows

    def __missing__(self, word: str) -> int:
        row = self.stem_rows.get(_stem(word), 0)
        if len(self) < 500_000:
            self[word] = row
        return row


@dataclass(frozen=True)
class _WordIndex:
    """The word vocabulary re-keyed by stem, so inference never builds or hashes key strings.

    Row 0 stands for every stem that occurs in no vocabulary key. Stems never contain a space and
    are lower-case (the normaliser folds ASCII case), so a key splits unambiguously into a unigram
    (``s``), a title key (``T s``) or a bigram (``a b``).
    """

    rows: _RowMemo
    unigram: IntArray  # row → column of the stem's unigram key (-1: none)
    title: IntArray  # row → column of its title key (-1: none)
    pair_id: IntArray  # row → id of the stem as part of a bigram key (-1: in none)
    pair_codes: IntArray  # sorted left id * n ids + right id of every bigram key
    pair_cols: IntArray  # the columns of those bigram keys
    n_pair_ids: int

    @classmethod
    def build(cls, vocab: dict[str, int]) -> _WordIndex:
        """Index `vocab` by its stems (one pass; done once per model)."""
        stem_rows: dict[str, int] = {}

        def row(stem: str) -> int:
            return stem_rows.setdefault(stem, len(stem_rows) + 1)

        unigrams: dict[int, int] = {}
        titles: dict[int, int] = {}
        bigrams: list[tuple[int, int, int]] = []
        for key, col in vocab.items():
            parts = key.split(" ")
            if len(parts) == 1:
                unigrams[row(key)] = col
            elif parts[0] + " " == TITLE_PREFIX:
                titles[row(parts[1])] = col
            else:
                bigrams.append((row(parts[0]), row(parts[1]), col))
        n_rows = len(stem_rows) + 1
        pair_id = np.full(n_rows, -1, dtype=np.int64)
        ids = sorted({r for a, b, _ in bigrams for r in (a, b)})
        pair_id[ids] = np.arange(len(ids))
        codes = np.array([pair_id[a] * len(ids) + pair_id[b] for a, b, _ in bigrams], dtype=np.int64)
        cols = np.array([c for _, _, c in bigrams], dtype=np.int64)
        order = np.argsort(codes)
        return cls(
            rows=_RowMemo(stem_rows),
            unigram=_lookup_array(n_rows, unigrams),
            title=_lookup_array(n_rows, titles),
            pair_id=pair_id,
            pair_codes=codes[order],
            pair_cols=cols[order],
            n_pair_ids=len(ids),
        )

    def keys(self, words: Sequence[str], n_title: int, spec: FeatureSpec) -> IntArray:
        """Columns of the word keys `extract_features` makes of these words (title words first), in
        the same order, -1 where a key is not in the vocabulary."""
        rows = np.fromiter(map(self.rows.__getitem__, words), dtype=np.int64, count=len(words))
        parts = [self.unigram[rows]]
        if spec.bigrams and len(rows) > 1 and len(self.pair_codes):
            left, right = self.pair_id[rows[:-1]], self.pair_id[rows[1:]]
            code = left * self.n_pair_ids + right
            at = np.minimum(np.searchsorted(self.pair_codes, code), len(self.pair_codes) - 1)
            hit = (left >= 0) & (right >= 0) & (self.pair_codes[at] == code)
            parts.append(np.where(hit, self.pair_cols[at], -1))
        if spec.title_features:
            parts.append(self.title[rows[:n_title]])
        return np.concatenate(parts)


def _lookup_array(n: int, values: dict[int, int]) -> IntArray:
    """Dense row → value array, -1 for rows without a value."""
    out = np.full(n, -1, dtype=np.int64)
    if values:
        out[np.fromiter(values, dtype=np.int64)] = np.fromiter(values.values(), dtype=np.int64)
    return out


def _l2(values: FloatArray) -> FloatArray:
    norm = float(np.sqrt(np.dot(values, values)))
    return values / norm if norm > 0 else values


@dataclass(frozen=True)
class SectionClassifier:
    """A trained section model: vocabulary and hash buckets → columns, idf, and a linear layer.

    Columns are words first (`vocab`), then char buckets (`buckets`, sorted). The word block and the
    char block are each L2-normalised TF-IDF vectors, weighted by `char_weight` for the char block.
    """

    labels: tuple[str, ...]
    spec: FeatureSpec
    vocab: dict[str, int]
    buckets: HashArray
    idf: FloatArray
    coef_t: FloatArray  # (n_features, n_labels)
    intercept: FloatArray
    char_weight: float = 1.0
    temperature: float = 1.0
    meta: dict[str, Any] | None = None
    _table_cache: dict[str, npt.NDArray[np.int32]] = field(default_factory=dict, repr=False, compare=False)
    _index_cache: dict[str, _WordIndex] = field(default_factory=dict, repr=False, compare=False)

    # -- features ------------------------------------------------------------------------------
    def columns(self, feats: Features) -> tuple[IntArray, FloatArray]:
        """Sparse TF-IDF row of an article: column indices and values (unknown features dropped).

        The reference form, over feature strings (training uses it); `decision` computes the same
        row from word ids (`_article_columns`).
        """
        vocab = self.vocab
        counted = Counter(feats.words)
        found = [
            (col, n)
            for col, n in zip(map(vocab.get, counted), counted.values(), strict=True)
            if col is not None
        ]
        cols = np.fromiter((c for c, _ in found), dtype=np.int64, count=len(found))
        counts = np.fromiter((n for _, n in found), dtype=np.float32, count=len(found))
        return self._row(cols, counts, feats.chars)

    def _article_columns(
        self, title_words: Sequence[str], body_words: Sequence[str]
    ) -> tuple[IntArray, FloatArray]:
        """`columns(extract_features(title, body, spec))` from the normalised words of the title and
        body (`words_of`), with word keys looked up as stem ids: the same columns in the same
        first-appearance order, so the same floats."""
        words = [*title_words, *body_words]
        keys = self._word_index().keys(words, len(title_words), self.spec)
        known = keys[keys >= 0]
        cols, first, counts = np.unique(known, return_index=True, return_counts=True)
        order = np.argsort(first)  # Counter order: first appearance in the key sequence
        joined = " " + " ".join(words) + " "
        return self._row(cols[order], counts[order].astype(np.float32), _char_hashes(joined, self.spec))

    def _row(self, cols: IntArray, counts: FloatArray, chars: HashArray) -> tuple[IntArray, FloatArray]:
        """TF-IDF row from word columns with their counts and the char n-gram hashes."""
        parts_c: list[IntArray] = []
        parts_v: list[FloatArray] = []
        if len(cols):
            parts_c.append(cols)
            parts_v.append(_l2(((1.0 + np.log(counts)) * self.idf[cols]).astype(np.float32)))
        if len(chars):
            hashes, char_counts = np.unique(chars, return_counts=True)
            looked = self._bucket_table()[hashes]
            hit = looked >= 0
            if hit.any():
                char_cols = looked[hit].astype(np.int64) + len(self.vocab)
                tf = (1.0 + np.log(char_counts[hit])).astype(np.float32)
                parts_c.append(char_cols)
                parts_v.append(
                    _l2((tf * self.idf[char_cols]).astype(np.float32)) * np.float32(self.char_weight)
                )
        if not parts_c:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(parts_c), np.concatenate(parts_v)

    def _word_index(self) -> _WordIndex:
        """The vocabulary by stem id, built on first use."""
        index = self._index_cache.get("words")
        if index is None:
            index = _WordIndex.build(self.vocab)
            self._index_cache["words"] = index
        return index

    def _bucket_table(self) -> npt.NDArray[np.int32]:
        """Dense hash bucket → char column map (-1: pruned), built on first use (4 bytes per bucket)."""
        table = self._table_cache.get("buckets")
        if table is None:
            table = np.full(1 << self.spec.hash_bits, -1, dtype=np.int32)
            table[self.buckets] = np.arange(len(self.buckets), dtype=np.int32)
            self._table_cache["buckets"] = table
        return table

    # -- scoring -------------------------------------------------------------------------------
    def decision(self, title: str, body: str) -> FloatArray:
        """Raw linear decision values, one per label (in `labels` order)."""
        return self.decision_of_words(words_of(title), words_of(body))

    def decision_of_words(self, title_words: Sequence[str], body_words: Sequence[str]) -> FloatArray:
        """`decision` from the normalised words of title and body (the enricher has them as tokens)."""
        cols, values = self._article_columns(title_words, body_words)
        # np.take gathers rows ~2.5x faster than fancy indexing (the same values)
        out: FloatArray = values @ np.take(self.coef_t, cols, axis=0) + self.intercept
        return out

    def scores(self, title: str, body: str) -> dict[str, float]:
        """Probability-like section scores (softmax of the decision values / temperature), summing to 1."""
        return self.scores_of_words(words_of(title), words_of(body))

    def scores_of_words(self, title_words: Sequence[str], body_words: Sequence[str]) -> dict[str, float]:
        """`scores` from the normalised words of title and body."""
        z = self.decision_of_words(title_words, body_words).astype(np.float64) / self.temperature
        z -= z.max()
        e = np.exp(z)
        p = e / e.sum()
        return {label: float(v) for label, v in zip(self.labels, p, strict=True)}

    def predict(self, title: str, body: str) -> str:
        """The most likely section."""
        return self.labels[int(np.argmax(self.decision(title, body)))]

    def predict_many(self, docs: Iterable[tuple[str, str]]) -> list[str]:
        """`predict` over (title, body) pairs."""
        return [self.predict(t, b) for t, b in docs]

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the model as a compressed `.npz` of plain arrays (no pickles)."""
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        header = {
            "format": FORMAT,
            "labels": list(self.labels),
            "spec": self.spec.to_json(),
            "char_weight": self.char_weight,
            "temperature": self.temperature,
            "meta": self.meta or {},
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                header=np.frombuffer(json.dumps(header, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
                vocab=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
                buckets=self.buckets.astype(np.uint64),
                idf=self.idf.astype(np.float16),
                coef_t=self.coef_t.astype(np.float16),
                intercept=self.intercept.astype(np.float32),
            )

    @classmethod
    def load(cls, path: Path) -> SectionClassifier:
        """Read a model written by `save` (refuses pickled objects)."""
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise ValueError(f"{path}: not a {FORMAT} model")
            text = bytes(data["vocab"]).decode("utf-8")
            words = text.split("\n") if text else []
            return cls(
                labels=tuple(header["labels"]),
                spec=FeatureSpec.from_json(header["spec"]),
                vocab={w: i for i, w in enumerate(words)},
                buckets=data["buckets"].astype(np.uint64),
                idf=data["idf"].astype(np.float32),
                coef_t=np.ascontiguousarray(data["coef_t"].astype(np.float32)),
                intercept=data["intercept"].astype(np.float32),
                char_weight=float(header["char_weight"]),
                temperature=float(header["temperature"]),
                meta=header.get("meta") or {},
            )


def softmax_rows(z: npt.NDArray[np.float64], temperature: float) -> npt.NDArray[np.float64]:
    """Row-wise softmax of decision values divided by `temperature`."""
    z = z / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: npt.NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
    return out


def log_loss(proba: npt.NDArray[np.float64], gold: Sequence[int]) -> float:
    """Mean negative log-likelihood of the gold classes."""
    picked = proba[np.arange(len(gold)), np.asarray(gold)]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))
