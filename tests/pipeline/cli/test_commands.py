"""The offline commands, end to end through `main` (no broker): enrich and the two evaluations."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.cli.main import main

REPO = Path(__file__).resolve().parents[3]
SEED_FEED = REPO / "tests" / "fixtures" / "feeds" / "seed" / "seed-article.xml"


@pytest.fixture(autouse=True)
def _repo_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RASD_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))


def test_enrich_a_feed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enrich", str(SEED_FEED)]) == 0
    article = json.loads(capsys.readouterr().out)
    ids = {m["canonical_id"] for m in article["entities"]}
    assert {"Q7747", "Q56226", "Q159", "Q423"} <= ids
    assert article["language"] == "ar" and article["keywords"]
    for m in article["entities"]:
        assert article[m["field"]][m["start"] : m["end"]] == m["surface"]


def test_enrich_plain_text_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    text = "بوتين يستقبل أردوغان في موسكو\nوبحث الرئيسان الحرب في أوكرانيا."
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["enrich", "-"]) == 0
    article = json.loads(capsys.readouterr().out)
    assert article["title"] == "بوتين يستقبل أردوغان في موسكو"
    assert {"Q7747", "Q649", "Q212"} <= {m["canonical_id"] for m in article["entities"]}


@pytest.mark.parametrize("encoding", ["cp1256", "utf-16"])
def test_enrich_reads_legacy_arabic_and_utf16_text(
    encoding: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # windows-1256 text became U+FFFD junk with no entities, and exit 0
    path = tmp_path / "article.txt"
    path.write_bytes("بوتين يستقبل أردوغان في موسكو\nوبحث الرئيسان الحرب.".encode(encoding))
    assert main(["enrich", str(path)]) == 0
    article = json.loads(capsys.readouterr().out)
    assert article["title"] == "بوتين يستقبل أردوغان في موسكو"
    assert {"Q7747", "Q649"} <= {m["canonical_id"] for m in article["entities"]}


def test_enrich_refuses_bytes_that_are_no_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(range(256)) * 40)
    assert main(["enrich", str(path)]) == 1
    assert "not text" in _one_line_error(capsys)


def test_eval_ner_prints_per_type_scores_and_micro_f1_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conll = tmp_path / "mini.txt"
    conll.write_text(
        "قال O\nالرئيس O\nالروسي O\nفلاديمير B-PERS\nبوتين I-PERS\nإن O\nروسيا B-LOC\nستساعد O\n"
        "كوريا B-LOC\nالشمالية I-LOC\n. O\n\n"
        "وحذر O\nالبيت B-ORG\nالأبيض I-ORG\nموسكو B-LOC\n. O\n",
        encoding="utf-8",
    )
    assert main(["eval", "ner", str(conll), "--scheme", "anercorp"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"micro-F1 \d\.\d{3}", lines[-1])
    assert any(line.startswith("PER") for line in lines) and any(line.startswith("ORG") for line in lines)
    assert float(lines[-1].split()[1]) > 0.5


def test_eval_topics_prints_macro_f1_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "sport" / "a.txt"
    doc.parent.mkdir()
    doc.write_text(
        "<DOC>\n<CAT>sport</CAT>\n<TITLE>الترجي يفوز على النجم في الدربي</TITLE>\n"
        "<TEXT>فاز فريق الترجي الرياضي على النجم الساحلي بهدفين مقابل هدف في مباراة الدربي.</TEXT>\n"
        "</DOC>",
        encoding="utf-8",
    )
    assert main(["eval", "topics", str(tmp_path), "--scheme", "ant"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "macro-F1 1.000"


def test_eval_of_a_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "ner", "/nonexistent/x.txt", "--scheme", "wojood"]) == 1
    assert "no such file" in capsys.readouterr().err


def test_search_dates_until_includes_its_day_and_an_offset_is_kept() -> None:
    import argparse
    from datetime import UTC, datetime

    from pipeline.cli import search

    parser = argparse.ArgumentParser()
    search.add_parser(parser.add_subparsers())
    args = parser.parse_args(["search", "x", "--since", "2026-03-24T10:00+03:00", "--until", "2026-03-24"])
    assert args.since == datetime(2026, 3, 24, 7, 0, tzinfo=UTC)
    assert args.until == datetime(2026, 3, 24, 23, 59, 59, 999999, tzinfo=UTC)
    noon = parser.parse_args(["search", "--until", "2026-03-24T12:00"]).until
    assert noon == datetime(2026, 3, 24, 12, tzinfo=UTC)


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_enrich_with_stdin_closed_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setattr(sys, "stdin", None)  # as Python leaves it for `rasd enrich - <&-`
    assert main(["enrich", "-"]) == 1
    assert "standard input is closed" in _one_line_error(capsys)


def test_eval_of_a_file_that_is_not_utf8_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conll = tmp_path / "latin1.conll"
    conll.write_bytes(b"\xff\xfe\xfa word O\n")
    assert main(["eval", "ner", str(conll), "--scheme", "wojood"]) == 1
    assert f"{conll}: not UTF-8 text" in _one_line_error(capsys)


def test_train_topics_on_a_missing_or_unusable_corpus_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "m.npz")
    assert main(["train", "topics", str(tmp_path / "missing"), "--out", out]) == 1
    assert "missing: no such directory" in _one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    assert main(["train", "topics", str(tmp_path / "empty"), "--out", out]) == 1
    assert "at least two sections" in _one_line_error(capsys)


def _tiny_ant(root: Path) -> Path:
    """Two sections of twelve short real-looking documents each, in the ANT format."""
    words = {"sport": "مباراة فريق هدف ملعب لاعب بطولة", "economy": "سوق أسعار بنك تضخم عملة استثمار"}
    for label, vocab in words.items():
        (root / label).mkdir(parents=True)
        for n in range(12):
            text = " ".join(vocab.split()[n % 6 :] + vocab.split()[: n % 6]) + f" خبر {n}"
            head = f"<DOC>\n<DOCNO>{label}-{n}</DOCNO>\n<CAT>{label}</CAT>\n"
            doc = f"{head}<TITLE>{text}</TITLE>\n<TEXT>\n{text}\n</TEXT>\n</DOC>\n"
            (root / label / f"{label}-{n}.txt").write_text(doc, encoding="utf-8")
    return root


def test_a_held_out_training_run_leaves_the_shipped_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `rasd train topics --cv 5` (how the README measures) overwrote the shipped model with one
    # trained on 80 % of the corpus
    shipped = tmp_path / "config" / "models" / "topics-ant.npz"
    shipped.parent.mkdir(parents=True)
    shipped.write_bytes(b"the shipped model")
    monkeypatch.setenv("RASD_CONFIG_DIR", str(tmp_path / "config"))
    ant = _tiny_ant(tmp_path / "ant")
    assert main(["train", "topics", str(ant), "--holdout", "0.25"]) == 0
    assert "the shipped model is unchanged" in capsys.readouterr().out
    assert shipped.read_bytes() == b"the shipped model"
    assert main(["train", "topics", str(ant), "--holdout", "0.25", "--out", str(tmp_path / "kept.npz")]) == 0
    assert (tmp_path / "kept.npz").stat().st_size > 100 and shipped.read_bytes() == b"the shipped model"
    assert main(["train", "topics", str(ant), "--holdout", "0"]) == 0
    assert shipped.read_bytes() != b"the shipped model"


@pytest.mark.parametrize(("flag", "value"), [("--holdout", "2"), ("--holdout", "-0.1"), ("--cv", "1")])
def test_train_topics_refuses_bad_numbers_up_front(
    tmp_path: Path, flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "topics", str(tmp_path), "--out", str(tmp_path / "m.npz"), flag, value])
    assert exit_.value.code == 2 and f"argument {flag}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--page", "0"], "Error: --page: Input should be greater than or equal to 1"),
        (["--size", "1000"], "Error: --size: Input should be less than or equal to 100"),
    ],
)
def test_search_options_out_of_range_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "x", *args]) == 1
    assert _one_line_error(capsys).strip() == message


def test_a_worker_reports_a_broken_config_before_waiting_for_the_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the only error used to be "Kafka … did not answer", after the whole wait
    import shutil

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[3] / "config", config)
    (config / "entities" / "broken.yaml").write_text("entities: [oops", encoding="utf-8")
    monkeypatch.setenv("RASD_CONFIG_DIR", str(config))
    monkeypatch.setenv("RASD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RASD_KAFKA_BOOTSTRAP", "127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("RASD_BROKER_WAIT_S", "1")
    assert main(["worker"]) == 1
    error = _one_line_error(capsys)
    assert "broken.yaml" in error and "Kafka" not in error


def test_enrich_refuses_a_document_larger_than_the_connector_fetches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASD_FETCH_MAX_BODY_BYTES", "4096")
    big = tmp_path / "big.txt"
    big.write_text("عنوان\n" + "كلمة " * 2000, encoding="utf-8")
    assert main(["enrich", str(big)]) == 1
    assert "larger than 4,096 bytes" in _one_line_error(capsys)


def test_enrich_cuts_a_long_text_to_the_record_the_pipeline_would_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RASD_MAX_RECORD_BYTES", "20000")
    long = tmp_path / "long.txt"
    long.write_text("قمة في موسكو\n" + "التقى بوتين الرئيس الصيني في موسكو. " * 2000, encoding="utf-8")
    assert main(["enrich", str(long)]) == 0
    article = json.loads(capsys.readouterr().out)
    assert article["truncated"] is True
    assert 5000 < len(article["body"]) < 20000
    assert all(m["end"] <= len(article[m["field"]]) for m in article["entities"])
