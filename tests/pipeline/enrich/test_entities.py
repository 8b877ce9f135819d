"""The overlap index of `article_mentions` against a scan of every span (random spans)."""

from __future__ import annotations

import random

from pipeline.enrich.entities import _Taken


def test_overlap_by_bisection_agrees_with_a_scan() -> None:
    rng = random.Random(7)
    for _ in range(300):
        starts = [rng.randint(0, 200) for _ in range(rng.randint(0, 12))]
        spans = [(s, s + rng.randint(1, 15)) for s in starts]
        taken = _Taken(spans)  # unsorted, possibly nested or overlapping
        for _ in range(30):
            start = rng.randint(0, 220)
            end = start + rng.randint(1, 10)
            assert taken.overlaps(start, end) == any(start < e and s < end for s, e in spans)
