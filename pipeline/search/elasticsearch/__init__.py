"""The Elasticsearch 9 search backend (official async client), one module per concept.

- `analysis`: the index analysis, generated from the Python normaliser and the protected names
- `mappings`: index names, mappings, the composable index template, the ILM policy
- `documents`: Article ⇄ document
- `queries`: SearchQuery → request bodies; aggregations → Facets; cursors
- `bulk`: bulk writes with retries and per-document outcomes
- `percolate`: watches as percolator queries
- `errors`: client errors → the project's exception tree
- `backend`: `ElasticsearchBackend`, the `SearchBackend` implementation
"""

from pipeline.search.elasticsearch.backend import ElasticsearchBackend, client_from_settings
from pipeline.search.elasticsearch.bulk import BulkOptions
from pipeline.search.elasticsearch.mappings import IlmPolicy, IndexNames, IndexOptions
from pipeline.search.elasticsearch.percolate import watch_to_percolator_query

__all__ = [
    "BulkOptions",
    "ElasticsearchBackend",
    "IlmPolicy",
    "IndexNames",
    "IndexOptions",
    "client_from_settings",
    "watch_to_percolator_query",
]
