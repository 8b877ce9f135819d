"""Rasd pipeline: everything after the raw-articles topic (enrichment, search, alerts, CLI)."""

from pipeline.models import SCHEMA_VERSION, Alert, Article, EntityMention, Evidence, TopicScore, Watch

__all__ = ["SCHEMA_VERSION", "Alert", "Article", "EntityMention", "Evidence", "TopicScore", "Watch"]
