"""Index names, mappings, template and ILM policy bodies."""

from __future__ import annotations

import pytest

from pipeline.search.elasticsearch.analysis import ARABIC_ANALYZER, LIGHT_ANALYZER, TERMS_ANALYZER
from pipeline.search.elasticsearch.mappings import (
    MAX_RESULT_WINDOW,
    IlmPolicy,
    IndexNames,
    IndexOptions,
    article_mappings,
    ilm_policy,
    index_settings,
    index_template,
    watches_index,
)
from pipeline.text import Analyzer


def test_names_come_from_one_prefix() -> None:
    names = IndexNames("rasd-test-1")
    assert (names.alias, names.pattern, names.first_index, names.watches) == (
        "rasd-test-1-articles",
        "rasd-test-1-articles-*",
        "rasd-test-1-articles-000001",
        "rasd-test-1-watches",
    )
    assert names.template == names.policy == names.alias


@pytest.mark.parametrize("prefix", ["", "Rasd", "-rasd", "rasd*", "ra sd", "a/b"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="index prefix"):
        IndexNames(prefix)


def test_article_mappings() -> None:
    props = article_mappings()["properties"]
    assert article_mappings()["dynamic"] is False
    for keyword in ("id", "source", "url", "language", "entity_ids", "keywords", "story_id"):
        assert props[keyword] == {"type": "keyword"}, keyword
    assert props["topics"]["properties"]["id"] == {"type": "keyword"}
    for text in ("title", "summary", "body"):
        assert props[text]["analyzer"] == ARABIC_ANALYZER
        assert props[text]["fields"]["light"] == {"type": "text", "analyzer": LIGHT_ANALYZER}
    for terms in ("terms_title", "terms_body"):
        assert props[terms] == {"type": "text", "analyzer": TERMS_ANALYZER, "index_options": "positions"}
    assert props["published"] == props["at"] == {"type": "date"}
    entity = props["entity"]
    assert entity["type"] == "nested"
    assert entity["properties"]["id"] == entity["properties"]["type"] == {"type": "keyword"}
    assert entity["properties"]["name"]["type"] == "keyword"
    assert entity["properties"]["name"]["fields"]["text"]["type"] == "text"
    assert props["entities"] == {"type": "object", "enabled": False}  # mentions: stored, not indexed


def test_template_binds_lifecycle_alias_and_analysis() -> None:
    names = IndexNames("rasd")
    settings = index_settings(Analyzer(["بوتين"]).protected, ["في"], IndexOptions(replicas=0))
    template = index_template(names, settings)
    assert template["name"] == "rasd-articles"
    assert template["index_patterns"] == ["rasd-articles-*"]
    index = template["template"]["settings"]["index"]
    assert index["lifecycle"] == {"name": "rasd-articles", "rollover_alias": "rasd-articles"}
    assert index["number_of_replicas"] == 0
    assert index["search"]["idle"]["after"] == "30s"
    assert "refresh_interval" not in index  # unset, so search-idle shards skip refreshes
    assert index["max_result_window"] == MAX_RESULT_WINDOW == 100 * 1000 + 1
    assert template["template"]["settings"]["analysis"]["filter"]["rasd_names"]["keywords"] == ["بوتين"]
    assert template["template"]["mappings"] == article_mappings()
    assert "lifecycle" not in settings["index"]  # the watches index shares settings, not the policy


def test_explicit_refresh_interval() -> None:
    index = index_settings([], options=IndexOptions(refresh_interval="5s"))["index"]
    assert index["refresh_interval"] == "5s"


def test_ilm_policy_rolls_over_and_deletes_only_with_a_retention() -> None:
    keep = ilm_policy(IlmPolicy(max_primary_shard_size="10gb", max_age="7d"))
    assert keep["phases"] == {
        "hot": {"actions": {"rollover": {"max_primary_shard_size": "10gb", "max_age": "7d"}}}
    }
    delete = ilm_policy(IlmPolicy(retention="365d"))
    assert delete["phases"]["delete"] == {"min_age": "365d", "actions": {"delete": {}}}


def test_watches_index_has_the_article_fields_and_the_percolator() -> None:
    body = watches_index(index_settings([]))
    props = body["mappings"]["properties"]
    assert props["query"] == {"type": "percolator"}
    assert props["watch_id"] == {"type": "keyword"}
    assert props["terms_body"]["analyzer"] == TERMS_ANALYZER  # watch phrases are analysed as articles are
    assert "query" not in article_mappings()["properties"]
