"""Where a dead letter is replayed to, decided from its stage and payload alone."""

from __future__ import annotations

import json

import pytest

from pipeline.dead_letters import replay_target
from pipeline.models import Article, DeadLetter
from pipeline.records import fit_letter

ARTICLE = Article(id="a" * 32, source="s", title="عنوان", body="نص")


@pytest.mark.parametrize(
    ("stage", "topic"),
    [
        ("enrich", "articles.raw"),
        ("decode", "articles.raw"),
        ("fulltext", "articles.fulltext"),
        ("fulltext-decode", "articles.fulltext"),
        ("index", "articles.enriched"),
        ("alert", "articles.enriched"),
        ("surge", "articles.enriched"),
    ],
)
def test_each_stage_goes_back_to_the_topic_it_reads(stage: str, topic: str) -> None:
    letter = DeadLetter.from_failure(stage=stage, exc=RuntimeError("x"), key=ARTICLE.id, payload=ARTICLE)
    assert replay_target(letter) == (topic, ARTICLE)


def test_a_payload_that_is_still_broken_stays() -> None:
    broken = DeadLetter.from_failure(stage="decode", exc=ValueError("x"), key="k", payload=b"\xff garbage")
    target, why = replay_target(broken)
    assert target is None and "still not a valid article" in str(why)
    future = json.loads(ARTICLE.to_json()) | {"schema_version": 99}
    newer = DeadLetter.from_failure(stage="decode", exc=ValueError("x"), key="k", payload=json.dumps(future))
    assert replay_target(newer)[0] is None  # this build still cannot read it
    unknown = DeadLetter.from_failure(stage="mystery", exc=ValueError("x"), key="k", payload=ARTICLE)
    assert replay_target(unknown) == (None, "stage 'mystery' has no replay target")


def test_a_letter_is_cut_to_the_record_limit_and_then_never_replayed() -> None:
    big = ARTICLE.model_copy(update={"body": "نص\u0000" * 50_000})  # a NUL is 6 bytes of JSON
    whole = DeadLetter.from_failure(stage="enrich", exc=ValueError("x"), key=big.id, payload=big)
    assert len(whole.to_json()) > 300_000 and replay_target(whole) == ("articles.raw", big)
    letter = fit_letter(whole, 65_536)
    assert 60_000 < len(letter.to_json()) <= 65_536 and letter.payload_truncated
    assert whole.payload.startswith(letter.payload) and letter.key == big.id
    target, why = replay_target(letter)
    assert target is None and "cut to fit" in str(why)
    odd = DeadLetter.from_failure(stage="decode", exc=ValueError("\ud800"), key="k\udfff", payload="\ud800x")
    assert (odd.key, odd.error, odd.payload) == ("k\ufffd", "\ufffd", "\ufffdx")
    assert DeadLetter.model_validate_json(odd.to_json()) == odd


def _agent_stages() -> set[str]:
    """Every literal `stage=` passed to `dead_letter(...)` in the agents' source."""
    import ast
    from pathlib import Path

    import pipeline.agents

    stages: set[str] = set()
    for path in Path(pipeline.agents.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dead_letter":
                (stage,) = [k.value for k in node.keywords if k.arg == "stage"]
                assert isinstance(stage, ast.Constant), f"{path.name}: stage must be a literal"
                stages.add(stage.value)
    return stages


def test_every_stage_an_agent_dead_letters_has_a_replay_target() -> None:
    stages = _agent_stages()
    assert {"decode", "enrich", "fulltext", "index", "alert", "surge"} <= stages
    for stage in sorted(stages):
        letter = DeadLetter.from_failure(stage=stage, exc=RuntimeError("x"), key=ARTICLE.id, payload=ARTICLE)
        assert replay_target(letter)[0] is not None, stage
    fulltext = DeadLetter.from_failure(stage="fulltext", exc=ValueError("x"), key="k", payload=ARTICLE)
    assert replay_target(fulltext) == ("articles.fulltext", ARTICLE)
