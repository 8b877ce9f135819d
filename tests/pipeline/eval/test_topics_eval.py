from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.eval.ant import parse_ant, read_ant
from pipeline.eval.topics import evaluate_topics, score_labels

ANT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "topics" / "ant"
needs_ant = pytest.mark.skipif(not ANT.is_dir(), reason=f"ANT corpus not found at {ANT}")

DOC = """<DOC>
<DOCNO>JA-sport-1-20170101</DOCNO>
<URL>http://example.org/a?x=1&y=2</URL>
<CAT>{cat}</CAT>
<TITLE>  {title} </TITLE>
<ABSTRACT>
</ABSTRACT>
<TEXT>
{text}
</TEXT>
</DOC>
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))


def test_reader_on_constructed_files(tmp_path: Path) -> None:
    _write(
        tmp_path / "sport" / "a.txt",
        DOC.format(cat="sport", title="فوز الترجي", text="سجل اللاعب هدفين &amp; فاز."),
    )
    # legacy Arabic code page, nested one level deeper
    _write(
        tmp_path / "x" / "economy" / "b.txt",
        DOC.format(cat="economy", title="ارتفاع الصادرات", text="صادرات التمور"),
        "cp1256",
    )
    _write(tmp_path / "c.txt", DOC.format(cat="", title="بلا قسم", text="نص"))  # empty <CAT>
    _write(tmp_path / "d.txt", "<DOC><CAT>sport</CAT></DOC>")  # no title, no text
    _write(tmp_path / "README", "not a document")
    read = read_ant(tmp_path)
    docs = {d.label: d for d in read.documents}
    assert set(docs) == {"sport", "economy"}
    assert docs["sport"].title == "فوز الترجي"
    assert docs["sport"].body == "سجل اللاعب هدفين & فاز."
    assert docs["sport"].docno == "JA-sport-1-20170101"
    assert docs["economy"].title == "ارتفاع الصادرات"
    assert read.skipped == {"no <CAT>": 1, "no <TITLE>/<TEXT>": 1, "no <DOC>": 1}
    assert read.n_skipped == 3


def test_parse_reports_reason() -> None:
    assert parse_ant("plain text") == "no <DOC>"


@needs_ant
@pytest.mark.parametrize(
    ("name", "label", "title_start"),
    [
        ("economy/JA-economy-129-20160113.txt", "economy", "مفاوضات متقدمة"),
        ("sport/JA-sport-10-20170120.txt", "sport", "الغرافة يعير"),
        ("culture/JA-culture-1-20170120.txt", "culture", "مخرج"),
    ],
)
def test_reader_on_real_files(name: str, label: str, title_start: str) -> None:
    read = read_ant(ANT / name)
    assert read.n_skipped == 0
    (doc,) = read.documents
    assert doc.label == label
    assert doc.title.startswith(title_start)
    assert len(doc.body) > 100
    assert "<" not in doc.body


def test_macro_f1_counts_only_gold_labels() -> None:
    gold = ["a", "a", "b", "b"]
    predicted = ["a", "c", "b", "b"]  # "c" never occurs in the gold data
    report = score_labels(gold, predicted)
    by = {s.label: s for s in report.labels}
    assert set(by) == {"a", "b"}
    assert by["a"].precision == 1.0 and by["a"].recall == 0.5 and by["a"].f1 == pytest.approx(2 / 3)
    assert by["b"].f1 == 1.0
    assert report.accuracy == 0.75
    assert report.macro_f1 == pytest.approx((2 / 3 + 1.0) / 2)
    assert report.format().splitlines()[-1] == "macro-F1 0.833"


def test_evaluate_topics_on_constructed_folder(tmp_path: Path) -> None:
    _write(tmp_path / "1.txt", DOC.format(cat="sport", title="مباراة", text="هدف"))
    _write(tmp_path / "2.txt", DOC.format(cat="economy", title="بورصة", text="أسعار"))
    report = evaluate_topics(tmp_path, "ant", lambda title, body: "sport")
    assert report.n == 2
    assert report.accuracy == 0.5
    assert report.macro_f1 == pytest.approx((2 / 3 + 0.0) / 2)
    with pytest.raises(ValueError, match="scheme"):
        evaluate_topics(tmp_path, "other", lambda title, body: "sport")  # type: ignore[arg-type]


def test_documents_are_found_by_content_in_any_file_name_and_utf16(tmp_path: Path) -> None:
    # .sgml/.ant/.trec files were passed over (not even counted skipped), and UTF-16 ones read as junk;
    # a README describing the format holds <DOC> and <CAT> too: skipped by its name, and counted
    for n, name in enumerate(["a.sgml", "b.ant", "c.trec", "d"]):
        _write(tmp_path / name, DOC.format(cat="sport", title=f"خبر {n}", text="فاز الفريق"))
    _write(tmp_path / "e.txt", DOC.format(cat="economy", title="بنك", text="ارتفعت الأسعار"), "utf-16")
    _write(tmp_path / "notes.txt", "not a document")
    _write(tmp_path / "README.md", "The format: " + DOC.format(cat="sport", title="مثال", text="مثال"))
    read = read_ant(tmp_path)
    assert sorted(d.label for d in read.documents) == ["economy", "sport", "sport", "sport", "sport"]
    assert read.skipped == {"no <DOC>": 1, "not a document file name (.md)": 1}
    single = read_ant(tmp_path / "e.txt")
    assert [d.title for d in single.documents] == ["بنك"]


def test_the_command_takes_a_file_and_refuses_a_folder_without_documents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli.main import main

    _write(tmp_path / "docs" / "a.sgml", DOC.format(cat="sport", title="فوز الترجي", text="سجل اللاعب هدفين"))
    assert main(["eval", "topics", str(tmp_path / "docs" / "a.sgml"), "--scheme", "ant"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("macro-F1 ")
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty" / "README", "no documents here")
    assert main(["eval", "topics", str(tmp_path / "empty"), "--scheme", "ant"]) == 1
    err = capsys.readouterr().err
    assert "no ANT documents" in err and "no <DOC>: 1" in err and len(err.strip().splitlines()) == 1
