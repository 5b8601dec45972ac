import gzip
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import ReadContext, load_corpus, read_docs
from xlgraph.data.readers.mldoc import LABELS
from xlgraph.errors import DataError, SpecError

TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)


def write(path, rows):
    path.write_text("".join(f"{label}\t{text}\n" for label, text in rows), encoding="utf-8")


def test_files_languages_and_train_size(tmp_path):
    write(tmp_path / "english.train.1000", [("CCAT", "small train")])
    write(tmp_path / "english.train.10000", [("ECAT", "big train"), ("GCAT", " big two ")])
    write(tmp_path / "english.dev", [("MCAT", "dev")])
    (tmp_path / "german.test.gz").write_bytes(gzip.compress("GCAT\tTest auf Deutsch\n\n".encode()))
    corpus, _ = load_corpus(f"mldoc:{tmp_path}")
    assert corpus.labels == LABELS
    assert list(corpus.text) == ["small train", "dev", "Test auf Deutsch"]
    assert list(corpus.doc_id) == ["en/train/1", "en/dev/1", "de/test/1"]
    docs = list(read_docs(f"mldoc:{tmp_path}?train_size=10000&langs=english&splits=train"))
    assert [(d.text, d.label, d.lang) for d in docs] == [("big train", "ECAT", "en"), ("big two", "GCAT", "en")]
    assert [d.lang for d in read_docs(f"mldoc:{tmp_path}?langs=de")] == ["de"]


def test_spec_and_layout_errors(tmp_path):
    with pytest.raises(SpecError, match="train_size"):
        list(read_docs(f"mldoc:{tmp_path}?train_size=lots"))
    with pytest.raises(SpecError, match="langs=klingon"):
        list(read_docs(f"mldoc:{tmp_path}?langs=klingon"))
    with pytest.raises(DataError, match="no MLDoc files"):
        list(read_docs(f"mldoc:{tmp_path}"))
    with pytest.raises(DataError, match="no such directory"):
        list(read_docs(f"mldoc:{tmp_path / 'nope'}"))
    write(tmp_path / "french.dev", [("CCAT", "a")])
    (tmp_path / "french.dev.gz").write_bytes(gzip.compress(b"CCAT\ta\n"))
    with pytest.raises(DataError, match="both french.dev and french.dev.gz"):
        list(read_docs(f"mldoc:{tmp_path}"))


def make_line(kind, draw):
    label, text = draw(st.sampled_from(LABELS)), draw(TEXT)
    if kind == "one_column":
        return text.encode()
    if kind == "three_columns":
        return f"{label}\t{text}\t{draw(TEXT)}".encode()
    if kind == "empty":
        return f"{label}\t{draw(st.sampled_from(['', ' ', chr(0x3000)]))}".encode()
    if kind == "label":
        label = draw(st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), max_size=6)
                     .filter(lambda s: s not in LABELS + ("0", "1", "2", "3")))  # a numbered file is CoSDA-ML's
    if kind == "nul":
        text += "\0"
    raw = f"{label}\t{text}".encode()
    if kind == "utf8":
        raw = raw + draw(st.sampled_from([b"\xff", b"\xe2\x82", b"\xc0\xaf"]))
    return raw


@settings(max_examples=50, deadline=None)
@given(data=st.data(), gz=st.booleans(), trailing=st.integers(0, 2),
       kinds=st.lists(st.sampled_from(["good"] * 4 + ["one_column", "three_columns", "empty", "label", "utf8", "nul"]),
                      max_size=12))
def test_malformed_rows(check_read, scratch, data, gz, trailing, kinds):
    root = scratch()
    content = b"".join(make_line(k, data.draw) + b"\n" for k in kinds) + b"\n" * trailing
    name = "spanish.dev.gz" if gz else "spanish.dev"
    (root / name).write_bytes(gzip.compress(content) if gz else content)
    docs = check_read(f"mldoc:{root}", rows=len(kinds), bad={i: name for i, k in enumerate(kinds, 1) if k != "good"})
    assert all(d.lang == "es" and d.split == "dev" and d.label in LABELS for d in docs)


def test_cosda_ml_numeric_labels(tmp_path, caplog):
    """CoSDA-ML's copy numbers the labels 0 = MCAT, 1 = CCAT, 2 = ECAT, 3 = GCAT; each file is read in its own layout."""
    from xlgraph.data.readers.mldoc import COSDA_LABELS

    assert COSDA_LABELS == {"0": "MCAT", "1": "CCAT", "2": "ECAT", "3": "GCAT"}
    write(tmp_path / "english.train.1000", [("CCAT", "named"), ("GCAT", "named too")])
    (tmp_path / "english.dev.gz").write_bytes(gzip.compress(b"0\tmarkets\n1\tcompany\n2\teconomy\n3\tpolitics\n\n"))
    with caplog.at_level(logging.INFO, logger="xlgraph"):
        corpus, skipped = load_corpus(f"mldoc:{tmp_path}")
    assert skipped == [] and corpus.labels == LABELS
    assert [(d.text, d.label) for d in read_docs(f"mldoc:{tmp_path}?splits=dev")] == [
        ("markets", "MCAT"), ("company", "CCAT"), ("economy", "ECAT"), ("politics", "GCAT")]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("english.dev.gz" in m and "CoSDA-ML" in m for m in infos)
    assert not any("english.train.1000" in m for m in infos)
    # in a numbered file, another number is a bad row; in a named file, a number is
    (tmp_path / "english.dev.gz").unlink()
    write(tmp_path / "english.dev", [("2", "fine"), ("4", "no such class"), ("0", "fine too")])
    with pytest.raises(DataError, match=r"english.dev:2: unknown label '4'; this file numbers its labels 0-3"):
        list(read_docs(f"mldoc:{tmp_path}?splits=dev"))
    write(tmp_path / "english.dev", [("ECAT", "named"), ("0", "a number among names")])
    ctx = ReadContext(skip_bad_rows=True)
    assert [d.label for d in read_docs(f"mldoc:{tmp_path}?splits=dev", ctx)] == ["ECAT"]
    assert [(e.line, e.problem.split(";")[0]) for e in ctx.skipped] == [(2, "unknown label '0'")]
