import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import load_corpus, read_docs
from xlgraph.data.readers.xlmt import unescape
from xlgraph.errors import DataError, SpecError

TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)

# PROVENANCE.md of ../shared/data/opener_multibooked_sentiment: train/dev/test per class
OPENER = {
    "en": {"strneg": (51, 8, 15), "neg": (279, 40, 80), "pos": (615, 88, 176), "strpos": (265, 38, 76),
           "mixed": (149, 21, 43)},
    "es": {"strneg": (26, 4, 8), "neg": (152, 22, 44), "pos": (592, 84, 170), "strpos": (259, 37, 74),
           "mixed": (144, 21, 42)},
    "ca": {"strneg": (40, 6, 12), "neg": (286, 41, 82), "pos": (298, 42, 86), "strpos": (179, 25, 52),
           "mixed": (107, 15, 31)},
    "eu": {"strneg": (14, 2, 4), "neg": (107, 15, 31), "pos": (400, 57, 115), "strpos": (268, 39, 77),
           "mixed": (72, 11, 21)},
}
SPLITS = ("train", "dev", "test")


def by_lang_split_label(corpus):
    return {key: n for key, n in corpus.counts().items() if n}


def test_real_xlmt(shared_data):
    corpus, skipped = load_corpus(f"xlmt:{shared_data('xlmt_umsab_sentiment')}")
    assert skipped == [] and corpus.labels == ("negative", "neutral", "positive")
    assert set(corpus.langs) == {"ar", "en", "fr", "de", "hi", "it", "pt", "es"}
    for lang in corpus.langs:  # identical sizes everywhere; English train is balanced
        assert [int(corpus.mask(lang=lang, split=s).sum()) for s in SPLITS] == [1839, 324, 870]
    counts = corpus.counts()
    assert [counts[("en", "train", y)] for y in corpus.labels] == [613, 613, 613]
    english = [t for t in corpus.where(lang="en").text]
    assert english[0].startswith("okay i\u2019m sorry but TAYLOR SWIFT")  # \u2019 escapes decoded
    assert not any("\\u2019" in t or "\\u002c" in t for t in english)


def test_real_xlmt_params(shared_data):
    root = shared_data("xlmt_umsab_sentiment")
    corpus, _ = load_corpus(f"xlmt:{root / 'sentiment'}?langs=german,hi&splits=dev")
    assert sorted(corpus.langs) == ["de", "hi"] and len(corpus) == 2 * 324 and set(corpus.split) == {1}
    with pytest.raises(SpecError, match="langs=xx"):
        list(read_docs(f"xlmt:{root}?langs=xx"))


@pytest.mark.parametrize("classes", ["4", "2", "5"])
def test_real_opener(shared_data, classes):
    corpus, skipped = load_corpus(f"opener:{shared_data('opener_multibooked_sentiment')}?classes={classes}")
    assert skipped == []
    mapping = {"2": {"strneg": "negative", "neg": "negative", "pos": "positive", "strpos": "positive"},
               "4": {c: c for c in ("strneg", "neg", "pos", "strpos")},
               "5": {c: c for c in ("strneg", "neg", "mixed", "pos", "strpos")}}[classes]
    assert corpus.labels == tuple(dict.fromkeys(mapping.values()))
    expected = {}
    for lang, files in OPENER.items():
        for name, label in mapping.items():
            for split, n in zip(SPLITS, files[name]):
                expected[(lang, split, label)] = expected.get((lang, split, label), 0) + n
    assert by_lang_split_label(corpus) == expected


def test_opener_params(shared_data):
    root = shared_data("opener_multibooked_sentiment")
    docs = list(read_docs(f"opener:{root / 'datasets'}?langs=eu&splits=dev&classes=2"))
    assert len(docs) == 2 + 15 + 57 + 39 and docs[0].id == "eu/dev/strneg/1" and docs[0].label == "negative"
    with pytest.raises(SpecError, match="classes=3"):
        list(read_docs(f"opener:{root}?classes=3"))
    with pytest.raises(DataError, match="no datasets/ folder"):
        list(read_docs(f"opener:{root / 'lexicons'}"))


def test_unescape():
    assert unescape(r"i\u2019m here\u002c ok") == "i\u2019m here, ok"
    assert unescape(r"\ud83d\ude00 \U0001 \\n \ud83d \u000a") == "\U0001f600 \\U0001 \\\\n \\ud83d \\u000a"


def test_sample_spec():
    corpus, _ = load_corpus("sample:mtod?langs=es")
    assert set(corpus.langs) == {"es"} and len(corpus) == 2000
    with pytest.raises(SpecError, match="unknown sample 'mldoc'"):
        list(read_docs("sample:mldoc"))


def write_xlmt(root, texts: bytes, labels: bytes, gz=False):
    folder = root / "sentiment/english"
    folder.mkdir(parents=True)
    for name, content in (("test_text.txt", texts), ("test_labels.txt", labels)):
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(content) if gz else content)
    return folder


def test_xlmt_line_counts_must_match(tmp_path):
    folder = write_xlmt(tmp_path, b"a\nb\nc\n\n", b"0\n1\n")
    with pytest.raises(DataError, match=r"test_text.txt:3: test_text.txt and test_labels.txt have different"):
        list(read_docs(f"xlmt:{tmp_path}"))
    (folder / "test_labels.txt").write_bytes(b"0\n1\n2\n0")
    with pytest.raises(DataError, match=r"test_labels.txt:4: .* different numbers of lines"):
        list(read_docs(f"xlmt:{tmp_path}"))


XLMT_KINDS = ["good"] * 4 + ["label", "empty", "utf8_text", "utf8_label"]


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(st.sampled_from(XLMT_KINDS), max_size=10), gz=st.booleans())
def test_xlmt_malformed_rows(check_read, scratch, data, kinds, gz):
    if kinds:
        kinds[-1] = "good"  # a blank last text would be a trailing blank line, making the files' lengths differ
    texts, labels, bad = [], [], {}
    suffix = ".gz" if gz else ""
    for i, kind in enumerate(kinds, 1):
        text, label = data.draw(TEXT).encode(), data.draw(st.sampled_from(["0", "1", "2", " 2 "])).encode()
        if kind == "label":
            label = data.draw(st.sampled_from(["3", "-1", "x", "", "0 1", "positive"])).encode()
        elif kind == "empty":
            text = data.draw(st.sampled_from([b"", b" ", b"\xe3\x80\x80"]))
        elif kind == "utf8_text":
            text += b"\xff"
        elif kind == "utf8_label":
            label += b"\xc3"
        texts.append(text)
        labels.append(label)
        if kind != "good":
            bad[i] = ("test_labels.txt" if "label" in kind else "test_text.txt") + suffix
    root = scratch()
    write_xlmt(root, b"".join(t + b"\n" for t in texts), b"\n".join(labels), gz)
    docs = check_read(f"xlmt:{root}", rows=len(kinds), bad=bad)
    assert [d.id for d in docs] == [f"en/test/{i}" for i, k in enumerate(kinds, 1) if k == "good"]


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(st.sampled_from(["good"] * 4 + ["blank", "utf8"]), max_size=10),
       classes=st.sampled_from(["2", "4", "5"]))
def test_opener_malformed_rows(check_read, scratch, data, kinds, classes):
    while kinds and kinds[-1] == "blank":  # blank lines at the end are not rows
        kinds.pop()
    root = scratch()
    folder = root / "datasets/ca/opener_sents/dev"
    folder.mkdir(parents=True)
    for name in ("strneg", "neg", "pos", "strpos", "mixed"):
        (folder / f"{name}.txt").write_bytes(b"")
    lines = [data.draw(TEXT).encode() if k == "good" else data.draw(st.sampled_from([b"", b"  "])) if k == "blank"
             else data.draw(TEXT).encode() + b"\x80" for k in kinds]
    (folder / "neg.txt").write_bytes(b"".join(x + b"\n" for x in lines) + b"\n")
    docs = check_read(f"opener:{root}?classes={classes}&splits=dev", rows=len(kinds),
                      bad={i: "neg.txt" for i, k in enumerate(kinds, 1) if k != "good"})
    assert all(d.label == ("negative" if classes == "2" else "neg") and d.lang == "ca" for d in docs)
