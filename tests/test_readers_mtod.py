import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import load_corpus, read_docs
from xlgraph.data.readers.mtod import INTENTS
from xlgraph.errors import DataError, SpecError

# PROVENANCE.md of ../shared/data/mtod (the paper's sizes)
REAL_COUNTS = {
    ("en", "train"): 30521, ("en", "dev"): 4181, ("en", "test"): 8621,
    ("es", "train"): 3617, ("es", "dev"): 1983, ("es", "test"): 3043,
    ("th", "train"): 2156, ("th", "dev"): 1235, ("th", "test"): 1692,
}

# Good text: anything printable, line separators like U+2028 included (the readers split on \n only).
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)


def counts_by_lang_split(corpus):
    return {(lang, split): int(corpus.mask(lang=lang, split=split).sum())
            for lang in corpus.langs for split in ("train", "dev", "test", "unlabeled")
            if corpus.mask(lang=lang, split=split).any()}


def test_real_mtod_counts_and_labels(shared_data):
    corpus, skipped = load_corpus(f"mtod:{shared_data('mtod')}")
    assert skipped == []
    assert counts_by_lang_split(corpus) == REAL_COUNTS
    assert corpus.labels == INTENTS
    th = corpus.where(lang="th")
    assert len({th.labels[i] for i in th.label}) == 10  # TH lacks checkSunrise and checkSunset
    assert corpus.doc_id[0] == "en/train/1"
    assert all(t == t.strip() and t for t in corpus.text[:1000])


def test_real_mtod_params(shared_data):
    corpus, _ = load_corpus(f"mtod:{shared_data('mtod')}?langs=es,th&splits=test")
    assert counts_by_lang_split(corpus) == {("es", "test"): 3043, ("th", "test"): 1692}
    with pytest.raises(SpecError, match="langs=de"):
        list(read_docs(f"mtod:{shared_data('mtod')}?langs=de"))
    with pytest.raises(SpecError, match="splits=eval"):
        list(read_docs(f"mtod:{shared_data('mtod')}?splits=eval"))  # the split is called dev


def line(intent="alarm/set_alarm", slots="", text="wake me up", tag="en_XX", tokens=""):
    return "\t".join([intent, slots, text, tag, tokens]) + "\n"


def test_layout_gzip_unlabeled_and_ids(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "th").mkdir()
    with gzip.open(tmp_path / "en/train-en.tsv.gz", "wt", encoding="utf-8") as f:
        f.write(line(text=" set an alarm  ") + line("weather/find", "0:4:x", "rain?", tokens='{"t": []}') + "\n\n")
    (tmp_path / "en/eval-en.tsv").write_text(line())
    (tmp_path / "en/train-en_upsampled.tsv").write_text("ignored")
    (tmp_path / "th/unlabeled-th_TH.tsv").write_text(line("", text="ปลุก", tag="th_TH") +
                                                     line("weather/find", text="ฝน", tag="th_TH"))
    docs = list(read_docs(f"mtod:{tmp_path}"))
    assert [(d.id, d.text, d.label, d.split, d.lang) for d in docs] == [
        ("en/train/1", "set an alarm", "alarm/set_alarm", "train", "en"),
        ("en/train/2", "rain?", "weather/find", "train", "en"),
        ("en/dev/1", "wake me up", "alarm/set_alarm", "dev", "en"),
        ("th/unlabeled/1", "ปลุก", None, "unlabeled", "th"),
        ("th/unlabeled/2", "ฝน", "weather/find", "unlabeled", "th"),  # the gold intent is kept
    ]


def test_layout_errors(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        list(read_docs(f"mtod:{tmp_path / 'nope'}"))
    with pytest.raises(DataError, match="no MTOD files"):
        list(read_docs(f"mtod:{tmp_path}"))
    (tmp_path / "es").mkdir()
    (tmp_path / "es/test-es.tsv").write_text(line(tag="es_XX"))
    (tmp_path / "es/test-es.tsv.gz").write_bytes(gzip.compress(line(tag="es_XX").encode()))
    with pytest.raises(DataError, match="two files for split test"):
        list(read_docs(f"mtod:{tmp_path}"))


def test_unlabeled_may_not_be_empty_elsewhere(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en/test-en.tsv").write_text(line(intent=""))
    with pytest.raises(DataError, match=r"test-en.tsv:1: empty intent"):
        list(read_docs(f"mtod:{tmp_path}"))


def bad_row(kind, draw):
    """One line (as bytes, without newline) of the given kind; only 'good' is readable."""
    intent, text = draw(st.sampled_from(INTENTS)), draw(TEXT)
    slots = draw(st.sampled_from(["", "0:4:datetime", "-2:30:datetime"]))
    tokens = draw(st.sampled_from(["", json.dumps({"tokenizations": [{"tokens": text.split()}]})]))
    cols = [intent, slots, text, draw(st.sampled_from(["en", "en_XX"])), tokens]
    if kind == "columns":
        n = draw(st.sampled_from([1, 2, 3, 4, 6, 7]))
        cols = (cols + ["extra"] * 2)[:n]
    elif kind == "empty":
        cols[2] = draw(st.sampled_from(["", " ", "\u3000 "]))
    elif kind == "label":
        cols[0] = draw(st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)),
                               max_size=8).filter(lambda s: s not in INTENTS))
    elif kind == "json":
        cols[4] = draw(st.sampled_from(['{"tokens": [', "[1, 2]", "null", "nope", '"x"']))
    elif kind == "tag":
        cols[3] = draw(st.sampled_from(["es_XX", "th_TH", "", "EN"]))
    raw = "\t".join(cols).encode("utf-8")
    if kind == "utf8":
        at = len(raw) - len("\t".join(cols[3:]).encode()) - 1  # inside the utterance
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])) + raw[at:]
    return raw


KINDS = st.sampled_from(["good"] * 4 + ["columns", "empty", "label", "json", "tag", "utf8"])


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(KINDS, min_size=0, max_size=12), gz=st.booleans(),
       crlf=st.booleans(), trailing=st.integers(0, 2))
def test_malformed_rows(check_read, scratch, data, kinds, gz, crlf, trailing):
    root = scratch()
    (root / "en").mkdir()
    end = b"\r\n" if crlf else b"\n"
    content = b"".join(bad_row(k, data.draw) + end for k in kinds) + b" \n" * trailing
    name = "train-en.tsv.gz" if gz else "train-en.tsv"
    (root / "en" / name).write_bytes(gzip.compress(content) if gz else content)
    bad = {i: name for i, k in enumerate(kinds, 1) if k != "good"}
    docs = check_read(f"mtod:{root}", rows=len(kinds), bad=bad)
    assert [d.id for d in docs] == [f"en/train/{i}" for i, k in enumerate(kinds, 1) if k == "good"]
    assert all(d.label in INTENTS and d.lang == "en" for d in docs)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), cut=st.booleans())
def test_corrupt_gzip(scratch, data, cut):
    """A damaged .gz gives rows it could read and then a DataError naming the file, never another exception."""
    root = scratch()
    (root / "en").mkdir()
    packed = bytearray(gzip.compress("".join(line(text=f"row {i}") for i in range(200)).encode()))
    at = data.draw(st.integers(2 if cut else 0, len(packed) - 1))  # a cut keeps the gzip magic number
    if cut:
        packed = packed[:at]
    else:
        packed[at] ^= data.draw(st.integers(1, 255))
    (root / "en/test-en.tsv.gz").write_bytes(bytes(packed))
    try:
        docs = list(read_docs(f"mtod:{root}"))
    except DataError as e:
        assert e.path == str(root / "en/test-en.tsv.gz")
    else:
        assert len(docs) == 200
