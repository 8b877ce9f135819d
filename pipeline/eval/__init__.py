"""Evaluation of the enrichment steps on annotated corpora (`rasd eval ...`)."""

__all__: list[str] = []
