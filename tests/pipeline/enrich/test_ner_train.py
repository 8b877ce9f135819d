"""`rasd train ner` replaces the model only when training succeeded (the run itself is reproduced by
hand: it takes minutes on the full corpora, see config/models/NER-LICENSE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.ner import NerTagger
from pipeline.enrich.ner_train import LICENCE_NAME, train_ner
from pipeline.enrich.registry import EntityRegistry, load_registry

ROOT = Path(__file__).resolve().parents[3]
TINY = "قال B-PERS\nبوتين I-PERS\nفي O\nموسكو B-GPE\n. O\n\nزار O\nماكرون B-PERS\nباريس B-GPE\n\n"


@pytest.fixture(scope="module")
def registry() -> EntityRegistry:
    return load_registry(ROOT / "config" / "entities")


def _shared(tmp_path: Path) -> Path:
    (tmp_path / "data" / "ner" / "tiny").mkdir(parents=True)
    (tmp_path / "data" / "ner" / "tiny" / "train.txt").write_text(TINY, encoding="utf-8")
    return tmp_path / "data"


def test_a_failed_run_leaves_the_model_it_would_replace(tmp_path: Path, registry: EntityRegistry) -> None:
    # the model was deleted before any data was read: a wrong --shared left the pipeline without NER
    model = tmp_path / "models" / "ner-crf.crfsuite"
    model.parent.mkdir()
    model.write_bytes(b"the shipped model")
    with pytest.raises(OSError):
        train_ner(tmp_path / "no-such-dir", model, registry, resources_dir=ROOT / "config" / "ner")
    assert model.read_bytes() == b"the shipped model"
    assert sorted(p.name for p in model.parent.iterdir()) == [model.name]


def test_a_successful_run_replaces_the_model_and_its_notice(tmp_path: Path, registry: EntityRegistry) -> None:
    model = tmp_path / "models" / "ner-crf.crfsuite"
    model.parent.mkdir()
    model.write_bytes(b"the old model")
    report = train_ner(
        _shared(tmp_path),
        model,
        registry,
        resources_dir=ROOT / "config" / "ner",
        sets=[("ner/tiny/train.txt", "wojood")],
        evaluate=False,
        max_iterations=5,
    )
    assert report.model_path == model and report.sentences == 2
    assert sorted(p.name for p in model.parent.iterdir()) == sorted([model.name, LICENCE_NAME])
    assert model.name in (model.parent / LICENCE_NAME).read_text(encoding="utf-8")
    NerTagger.load(model, registry, ROOT / "config" / "ner")  # a real crfsuite model now
