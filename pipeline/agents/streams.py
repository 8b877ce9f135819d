"""Batching over a Faust stream with keys kept, so dead letters carry the original message key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import faust

__all__ = ["batches"]


async def batches(
    stream: faust.StreamT[bytes], size: int, within: float
) -> AsyncIterator[list[tuple[bytes | None, Any]]]:
    """Up to `size` (key, value) pairs, or fewer after `within` seconds (`stream.take_events`)."""
    concrete = cast("faust.Stream[bytes]", stream)  # take_events is on Stream, not on the StreamT protocol
    async for events in concrete.take_events(size, within=within):
        yield [(cast("bytes | None", e.key), e.value) for e in events]
