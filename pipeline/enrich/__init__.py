"""Enrichers: pure functions from text to entities, topics, keywords and language."""

from pipeline.enrich.enricher import Enricher, load_enricher
from pipeline.enrich.registry import Entity, EntityRegistry, load_registry

__all__ = ["Enricher", "Entity", "EntityRegistry", "load_enricher", "load_registry"]
