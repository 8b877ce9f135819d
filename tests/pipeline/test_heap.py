"""The worker's garbage-collector settings: loaded objects frozen, young objects collected less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pipeline.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture()
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settle_heap_freezes_what_is_loaded_and_raises_the_young_threshold(restored_gc: None) -> None:
    loaded = [{"cache": (i, str(i))} for i in range(1000)]
    _, middle, old = gc.get_threshold()
    settle_heap()
    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert not any(obj is loaded for obj in gc.get_objects())  # frozen objects are out of its sight
