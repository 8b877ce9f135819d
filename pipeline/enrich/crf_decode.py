"""Decoding the trained linear-chain CRF with numpy, on emission scores cached per word.

crfsuite's own tagger rebuilds every feature string of every token and looks each one up, for
every sentence; that was 85% of enrichment time. A CRF's emission score is a sum of feature
weights, and most features depend on one word only (`Featurizer` caches them per word and window
offset), so their summed weight vectors can be cached per word too. A sentence's emissions are
then a few shifted array additions plus the handful of neighbourhood features (bigrams, gazetteer
tags, sentence ends, punctuation between tokens); Viterbi and forward-backward run over all
sentences of a text at once.
The result is the model crfsuite trained, decoded the same way (a test compares them).
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

import numpy as np
import numpy.typing as npt
import pycrfsuite  # type: ignore[import-untyped]

from pipeline.enrich.ner_features import WINDOW, Featurizer
from pipeline.text.tokenize import Token

__all__ = ["CrfDecoder", "Decoded"]

_Array = npt.NDArray[np.float64]
_CACHE_LIMIT = 200_000
# slot of each window offset in a word's score block: 0 is the word's own features
_SLOT = {off: k + 1 for k, off in enumerate(WINDOW)}

# labels, and per-token marginals (tokens × labels, in `CrfDecoder.labels` order; zeros if not asked)
Decoded = tuple[list[str], "npt.NDArray[np.float64]"]


class CrfDecoder:
    """Labels and marginals for sentences, from a crfsuite model's weights."""

    def __init__(self, tagger: pycrfsuite.Tagger, featurizer: Featurizer) -> None:
        info = tagger.info()
        self.labels: list[str] = list(tagger.labels())
        index = {label: k for k, label in enumerate(self.labels)}
        n_labels = len(self.labels)
        attrs: dict[str, int] = {}
        for attr, _label in info.state_features:
            attrs.setdefault(attr, len(attrs))
        weights = np.zeros((len(attrs), n_labels))
        for (attr, label), w in info.state_features.items():
            weights[attrs[attr], index[label]] = w
        self._weights = weights
        self._attrs = attrs
        self._rows: dict[str, _Array] = {attr: weights[k] for attr, k in attrs.items()}
        self.transitions = np.zeros((n_labels, n_labels))
        for (src, dst), w in info.transitions.items():
            self.transitions[index[src], index[dst]] = w
        self._exp_transitions = np.exp(self.transitions)
        self.featurizer = featurizer
        # per distinct word: a row of `_blocks` (grown by doubling) holding its summed weights
        self._word_ids: dict[str, int] = {}
        self._blocks = np.zeros((1024, 1 + len(WINDOW), n_labels))
        self._neighbourhood_rows()

    def _word_id(self, token: Token) -> int:
        """Row of the word's score block in `_blocks`, computed on first sight (-1: cache full)."""
        hit = self._word_ids.get(token.norm)
        if hit is not None:
            return hit
        block = self._word(token)
        if len(self._word_ids) >= _CACHE_LIMIT:
            self._overflow.append(block)
            return -len(self._overflow)
        k = len(self._word_ids)
        if k == len(self._blocks):
            self._blocks = np.concatenate([self._blocks, np.zeros_like(self._blocks)])
        self._blocks[k] = block
        self._word_ids[token.norm] = k
        return k

    def _ids(self, tokens: Sequence[Token]) -> npt.NDArray[np.int64]:
        """`_word_id` of every token: cached words in one pass of dict lookups, then the misses in
        order (so repeats of a new word, and the overflow, come out as token by token)."""
        found: list[int | None] = list(map(self._word_ids.get, [t.norm for t in tokens]))
        if None in found:
            for k, hit in enumerate(found):
                if hit is None:
                    found[k] = self._word_id(tokens[k])
        return np.array(found, dtype=np.int64)

    def _word(self, token: Token) -> _Array:
        """Summed weights of a word's own features and of its features at each window offset."""
        own, context = self.featurizer.new_word_features(token)
        attrs = self._attrs
        slots: list[int] = []
        found: list[int] = []
        for slot, feats in ((0, own), *((_SLOT[off], context[off]) for off in WINDOW)):
            for f in feats:
                k = attrs.get(f)  # None: an attribute the model has no weight for
                if k is not None:
                    slots.append(slot)
                    found.append(k)
        block = np.zeros((1 + len(WINDOW), len(self.labels)))
        # one unbuffered add in feature order: the same sums as adding row by row, without a numpy
        # call per feature (a new word's features were the largest cost of unseen text)
        np.add.at(block, slots, np.take(self._weights, found, axis=0))
        return block

    def _with_overflow(self, ids: npt.NDArray[np.int64]) -> _Array:
        """Blocks for `ids` where negative ids point into this call's overflow list."""
        table = np.concatenate([self._blocks[: len(self._word_ids)], np.stack(self._overflow[::-1])])
        return table[np.where(ids >= 0, ids, len(self._word_ids) + len(self._overflow) + ids)]

    def _neighbourhood_rows(self) -> None:
        """Index the weighted bigram features by stem pair, so no feature string is built per token."""
        self._before: dict[tuple[str, str], int] = {}
        self._after: dict[tuple[str, str], int] = {}
        for attr, k in self._attrs.items():
            if attr.startswith(("b-=", "b+=")) and "|" in attr:
                left, right = attr[3:].split("|", 1)
                (self._before if attr[1] == "-" else self._after)[(left, right)] = k

    def tag(
        self,
        sentences: Sequence[Sequence[Token]],
        gazetteers: Sequence[Sequence[str]],
        marginals: bool = True,
    ) -> list[Decoded]:
        """Labels (and marginals) for every sentence, all decoded in one batch."""
        if not sentences:
            return []
        em, lengths = self.emissions(sentences, gazetteers)
        # longest first: step t of the recursions then only touches the first `live[t]` rows, so the
        # work is the total number of tokens, not sentences × the longest sentence
        order = np.argsort(-lengths, kind="stable")
        em, lengths = em[order], lengths[order]
        live = np.searchsorted(-lengths, -np.arange(em.shape[1]), side="left")  # rows with length > t
        paths = self._viterbi(em, live)
        probs = self._marginals(em, lengths, live) if marginals else None
        out: list[Decoded | None] = [None] * len(sentences)
        names = self.labels
        for s, n in enumerate(lengths.tolist()):
            labels = [names[k] for k in paths[s, :n].tolist()]
            found = probs[s, :n] if probs is not None else np.zeros((n, len(self.labels)))
            out[int(order[s])] = (labels, found)
        return [d for d in out if d is not None]

    def emissions(
        self, sentences: Sequence[Sequence[Token]], gazetteers: Sequence[Sequence[str]]
    ) -> tuple[_Array, npt.NDArray[np.int64]]:
        """Label scores of every token, padded to (sentences, longest, labels), and the lengths."""
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        n = int(lengths.sum())
        ends = np.cumsum(lengths)
        starts = ends - lengths
        self._overflow: list[_Array] = []  # blocks of words met after the cache filled (this call only)
        flat = [t for s in sentences for t in s]
        ids = self._ids(flat)
        # np.take gathers rows about twice as fast as fancy indexing (the same values)
        blocks = np.take(self._blocks, ids, axis=0) if not self._overflow else self._with_overflow(ids)
        scores = blocks[:, 0].copy()
        sid = np.repeat(np.arange(len(sentences)), lengths)
        for off in WINDOW:  # token i sees word i+off's features as seen from offset `off`
            slot = _SLOT[off]
            if off < 0:
                same = (sid[-off:] == sid[: n + off])[:, None]
                scores[-off:] += blocks[: n + off, slot] * same
            else:
                same = (sid[: n - off] == sid[off:])[:, None]
                scores[: n - off] += blocks[off:, slot] * same
        rows = self._rows
        for name, at in (("BOS", starts), ("EOS", ends - 1)):
            row = rows.get(name)
            if row is not None:
                scores[at] += row
        before_sep, after_sep = rows.get("sp-"), rows.get("sp+")
        if (before_sep is not None or after_sep is not None) and n > 1:
            # punctuation between consecutive tokens of one sentence (`ner_features.separated`)
            tok_starts = np.fromiter(map(attrgetter("start"), flat), dtype=np.int64, count=n)
            tok_ends = np.fromiter(map(attrgetter("end"), flat), dtype=np.int64, count=n)
            gap = tok_starts[1:] - tok_ends[:-1] > 1
            gap &= sid[1:] == sid[:-1]
            if before_sep is not None:
                scores[1:][gap] += before_sep
            if after_sep is not None:
                scores[:-1][gap] += after_sep
        tok_idx: list[int] = []
        row_idx: list[int] = []
        before, after, attrs = self._before, self._after, self._attrs
        for s, (sentence, gaz) in enumerate(zip(sentences, gazetteers, strict=True)):
            base = int(starts[s])
            stems = [t.stem for t in sentence]
            for i in range(1, len(stems)):
                pair = (stems[i - 1], stems[i])
                k = before.get(pair)
                if k is not None:
                    tok_idx.append(base + i)
                    row_idx.append(k)
                k = after.get(pair)
                if k is not None:
                    tok_idx.append(base + i - 1)
                    row_idx.append(k)
            for i, g in enumerate(gaz):
                if g == "O":
                    continue
                for j, feat in ((i, f"g={g}"), (i + 1, f"-1g={g}"), (i - 1, f"1g={g}")):
                    k = attrs.get(feat)
                    if k is not None and 0 <= j < len(gaz):
                        tok_idx.append(base + j)
                        row_idx.append(k)
        if tok_idx:
            np.add.at(scores, np.array(tok_idx), np.take(self._weights, row_idx, axis=0))
        em = np.zeros((len(sentences), int(lengths.max()), len(self.labels)))
        em[sid, np.arange(n) - np.repeat(starts, lengths)] = scores
        return em, lengths

    def _viterbi(self, em: _Array, live: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Best label paths (padded); rows sorted longest first, `live[t]` of them running at step t."""
        n_sent, longest, n_labels = em.shape
        best = em[:, 0].copy()
        back = np.zeros((n_sent, longest, n_labels), dtype=np.int64)
        trans = self.transitions[None]
        for t in range(1, longest):
            k = int(live[t])
            cand = best[:k, :, None] + trans  # (sentence, previous label, label)
            back[:k, t] = cand.argmax(axis=1)
            best[:k] = cand.max(axis=1) + em[:k, t]
        return _backtrack(back, best.argmax(axis=1), live)

    def _marginals(self, em: _Array, lengths: npt.NDArray[np.int64], live: npt.NDArray[np.int64]) -> _Array:
        """P(label at t | sentence) by scaled forward-backward (per-step normalisation, no logs);
        rows sorted longest first as for `_viterbi`."""
        longest = em.shape[1]
        pot = np.exp(em - em.max(axis=2, keepdims=True))  # per-position constants cancel out
        trans = self._exp_transitions
        alpha = np.ones_like(pot)
        a = pot[:, 0]
        alpha[:, 0] = a / a.sum(axis=1, keepdims=True)
        for t in range(1, longest):
            k = int(live[t])
            a = (alpha[:k, t - 1] @ trans) * pot[:k, t]
            alpha[:k, t] = a / a.sum(axis=1, keepdims=True)
        beta = np.ones_like(pot)  # 1 at each sentence's last token (and past it)
        for t in range(longest - 2, -1, -1):
            k = int(live[t + 1])  # sentences that go on after t
            b = (pot[:k, t + 1] * beta[:k, t + 1]) @ trans.T
            beta[:k, t] = b / b.sum(axis=1, keepdims=True)
        joint = alpha * beta
        out: _Array = joint / joint.sum(axis=2, keepdims=True)
        return out


def _backtrack(
    back: npt.NDArray[np.int64],
    last: npt.NDArray[np.int64],
    live: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Viterbi paths from the back-pointers, one step for all sentences at a time (a token-by-token
    walk was a tenth of NER time). Rows are sorted longest first; padding past a row's end is 0."""
    n_sent, longest, _ = back.shape
    paths = np.zeros((n_sent, longest), dtype=np.int64)
    rows = np.arange(n_sent)
    for t in range(longest - 1, -1, -1):
        going = int(live[t + 1]) if t + 1 < longest else 0  # rows that go on past t
        ending = int(live[t])  # rows [going, ending) end at t
        paths[going:ending, t] = last[going:ending]
        if going:
            paths[:going, t] = back[rows[:going], t + 1, paths[:going, t + 1]]
    return paths
