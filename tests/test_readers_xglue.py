"""The XGLUE NC reader, on small files in the release's layout (NC/xglue.nc.<lang>.<split>: title, body, category)."""

import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import load_corpus, read_docs
from xlgraph.data.readers.xglue import LABELS
from xlgraph.errors import DataError, SpecError

TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)


def write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


def test_layout_languages_and_splits(tmp_path):
    nc = tmp_path / "NC"
    write(nc / "xglue.nc.en.train", [("Cup final", "The match ended 2-1.", "sports"), ("Rates", " Up again. ", "finance")])
    write(nc / "xglue.nc.en.dev", [("", "No title here.", "news")])
    write(nc / "xglue.nc.de.dev", [("Junge Chinchillas", "brauchen viel Liebe.", "lifestyle")])
    (nc / "xglue.nc.fr.test.gz").write_bytes(gzip.compress(b"Titre\tCorps\tautos\n\n"))
    corpus, skipped = load_corpus(f"xglue-nc:{tmp_path}")
    assert skipped == [] and corpus.labels == LABELS
    assert [(d.id, d.text, d.label) for d in read_docs(f"xglue-nc:{tmp_path}")] == [
        ("en/train/1", "Cup final\nThe match ended 2-1.", "sports"), ("en/train/2", "Rates\nUp again.", "finance"),
        ("en/dev/1", "No title here.", "news"), ("de/dev/1", "Junge Chinchillas\nbrauchen viel Liebe.", "lifestyle"),
        ("fr/test/1", "Titre\nCorps", "autos")]
    docs = list(read_docs(f"xglue-nc:{nc}?langs=de,fr&splits=dev"))  # DIR may be the NC folder itself
    assert [(d.lang, d.split) for d in docs] == [("de", "dev")]


def test_layout_and_spec_errors(tmp_path):
    with pytest.raises(DataError, match="no NC/ folder"):
        list(read_docs(f"xglue-nc:{tmp_path}"))
    (tmp_path / "NC").mkdir()
    with pytest.raises(DataError, match="no XGLUE NC files"):
        list(read_docs(f"xglue-nc:{tmp_path}"))
    with pytest.raises(SpecError, match="langs=it"):
        list(read_docs(f"xglue-nc:{tmp_path}?langs=it"))
    write(tmp_path / "NC/xglue.nc.es.dev", [("t", "b", "sports")])
    (tmp_path / "NC/xglue.nc.es.dev.gz").write_bytes(gzip.compress(b"t\tb\tsports\n"))
    with pytest.raises(DataError, match="both xglue.nc.es.dev and xglue.nc.es.dev.gz"):
        list(read_docs(f"xglue-nc:{tmp_path}"))


def make_line(kind, draw):
    title, body, label = draw(TEXT), draw(TEXT), draw(st.sampled_from(LABELS))
    if kind == "columns":
        return draw(st.sampled_from([f"{title}\t{body}", f"{title}\t{body}\t{label}\textra", title])).encode()
    if kind == "empty":
        title = body = draw(st.sampled_from(["", " "]))
    elif kind == "label":
        label = draw(st.sampled_from(["", "sport", "News", "0"]))
    elif kind == "nul":
        body += "\0"
    raw = f"{title}\t{body}\t{label}".encode()
    return raw + b"\xff" if kind == "utf8" else raw


@settings(max_examples=50, deadline=None)
@given(data=st.data(), gz=st.booleans(), trailing=st.integers(0, 2),
       kinds=st.lists(st.sampled_from(["good"] * 4 + ["columns", "empty", "label", "nul", "utf8"]), max_size=10))
def test_malformed_rows(check_read, scratch, data, gz, trailing, kinds):
    root = scratch()
    (root / "NC").mkdir()
    content = b"".join(make_line(k, data.draw) + b"\n" for k in kinds) + b"\n" * trailing
    name = "xglue.nc.ru.test" + (".gz" if gz else "")
    (root / "NC" / name).write_bytes(gzip.compress(content) if gz else content)
    docs = check_read(f"xglue-nc:{root}", rows=len(kinds), bad={i: name for i, k in enumerate(kinds, 1) if k != "good"})
    assert all(d.lang == "ru" and d.split == "test" and d.label in LABELS for d in docs)
