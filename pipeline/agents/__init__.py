"""Faust agents: thin `async for` loops over the pure functions in `enrich/`, `search/` and `alerts/`."""

__all__: list[str] = []
