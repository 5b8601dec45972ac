import gzip
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import ReadContext, load_corpus, read_docs
from xlgraph.errors import DataError, SpecError

# Text XML can carry: no control characters, surrogates or non-characters.
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)
HEAD = '<?xml version="1.0"?>\n<items>\n'


def item(rating="5.0", text="great", summary=None, **extra):
    parts = ["<item>", "<category>Books</category>"]
    parts += [] if rating is None else [f"<rating>{rating}</rating>"]
    parts += [] if summary is None else [f"<summary>{escape(summary)}</summary>"]
    parts += [] if text is None else [f"<text>{escape(text)}</text>"]
    return "\n".join(parts + ["</item>"]) + "\n"


def write(path, items, end="</items>\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + "".join(items) + end, encoding="utf-8")


def test_layout_labels_and_params(tmp_path):
    write(tmp_path / "en/books/train.review", [item("5.0", " loved it "), item("1.0", "hated it")])
    write(tmp_path / "en/dvd/test.review", [item("2.0", "meh")])
    write(tmp_path / "jp/music/unlabeled.review", [item("3.0", "ふつう"), item(None, "評価なし")])
    (tmp_path / "de/books").mkdir(parents=True)
    (tmp_path / "de/books/test.review.gz").write_bytes(gzip.compress((HEAD + item("4.0", "gut") + "</items>").encode()))
    corpus, _ = load_corpus(f"webis-cls:{tmp_path}")
    assert corpus.labels == ("negative", "positive")
    got = [(d.id, d.text, d.label, d.split) for d in corpus.docs()]
    assert got == [
        ("de/books/test/1", "gut", "positive", "test"),
        ("en/books/train/1", "loved it", "positive", "train"),
        ("en/books/train/2", "hated it", "negative", "train"),
        ("en/dvd/test/1", "meh", "negative", "test"),
        ("ja/music/unlabeled/1", "ふつう", None, "unlabeled"),  # ratings of the unlabeled pool are not read
        ("ja/music/unlabeled/2", "評価なし", None, "unlabeled"),
    ]
    assert [d.id for d in read_docs(f"webis-cls:{tmp_path}?langs=ja,de&domains=music")] == ["ja/music/unlabeled/1",
                                                                                            "ja/music/unlabeled/2"]
    assert [d.id for d in read_docs(f"webis-cls:{tmp_path}?splits=test&domains=dvd")] == ["en/dvd/test/1"]
    with pytest.raises(SpecError, match="domains=kitchen"):
        list(read_docs(f"webis-cls:{tmp_path}?domains=kitchen"))


def test_summary_param(tmp_path):
    write(tmp_path / "fr/dvd/train.review", [item("4.0", "le texte", summary="Le résumé")])
    assert [d.text for d in read_docs(f"webis-cls:{tmp_path}?summary=1")] == ["Le résumé\nle texte"]
    assert [d.text for d in read_docs(f"webis-cls:{tmp_path}")] == ["le texte"]


def test_rating_three_is_a_bad_row(tmp_path):
    write(tmp_path / "en/books/train.review", [item("4.0"), item("3.0")])
    with pytest.raises(DataError, match=r"train.review:8: rating 3 is neither"):
        list(read_docs(f"webis-cls:{tmp_path}"))


def test_malformed_xml_is_fatal_even_when_skipping(tmp_path):
    write(tmp_path / "en/books/test.review", [item("5.0"), item("4.0", "a <b> c").replace("&lt;", "<")])
    for skip in (False, True):  # the parser cannot resume, so skipping is no option
        with pytest.raises(DataError, match=r"test.review:11: malformed XML at column 11: not well-formed"):
            list(read_docs(f"webis-cls:{tmp_path}", ReadContext(skip_bad_rows=skip)))


def test_no_files(tmp_path):
    with pytest.raises(DataError, match="no Webis-CLS-10 files"):
        list(read_docs(f"webis-cls:{tmp_path}"))


ITEM_KINDS = ["good"] * 4 + ["rating3", "rating_text", "rating_range", "no_rating", "no_text", "empty_text"]


def make_item(kind, draw):
    rating = draw(st.sampled_from(["1.0", "2.0", "4.0", "5.0", " 4 ", "1.5"]))
    text = draw(TEXT)
    if kind == "rating3":
        rating = draw(st.sampled_from(["3.0", "3", " 3.00 "]))
    elif kind == "rating_text":
        rating = draw(st.sampled_from(["", "five", "4,0", "nan?"]))
    elif kind == "rating_range":
        rating = draw(st.sampled_from(["0.0", "6", "-1", "nan", "inf"]))
    elif kind == "no_rating":
        rating = None
    elif kind == "no_text":
        text = None
    elif kind == "empty_text":
        text = draw(st.sampled_from(["", " ", "\n"]))
    return item(rating, text)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(st.sampled_from(ITEM_KINDS), max_size=8), unlabeled=st.booleans(),
       gz=st.booleans())
def test_malformed_items(check_read, scratch, data, kinds, unlabeled, gz):
    root = scratch()
    items = [make_item(k, data.draw) for k in kinds]
    name = ("unlabeled" if unlabeled else "train") + ".review" + (".gz" if gz else "")
    path = root / "de/dvd" / name
    path.parent.mkdir(parents=True)
    content = (HEAD + "".join(items) + "</items>\n").encode()
    path.write_bytes(gzip.compress(content) if gz else content)
    starts = [HEAD.count("\n") + 1 + sum(i.count("\n") for i in items[:n]) for n in range(len(items))]
    rating_problems = {"rating3", "rating_text", "rating_range", "no_rating"}
    bad = {line: name for line, k in zip(starts, kinds)
           if k in {"no_text", "empty_text"} or (k in rating_problems and not unlabeled)}
    docs = check_read(f"webis-cls:{root}", rows=len(kinds), bad=bad)
    assert all(d.lang == "de" and (d.label is None) == unlabeled for d in docs)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), texts=st.lists(TEXT, min_size=1, max_size=6), how=st.sampled_from(["cut", "bytes", "amp"]))
def test_broken_xml(scratch, data, texts, how):
    """Truncated XML, undecodable bytes or a bare `&`: a DataError naming the file and a line, in both modes."""
    root = scratch()
    path = root / "en/music/test.review"
    path.parent.mkdir(parents=True)
    items = [item("5.0", t) for t in texts]
    content = (HEAD + "".join(items) + "</items>\n").encode()
    if how == "cut":
        content = content[: data.draw(st.integers(0, len(content) - len(b"</items>\n")))]
        lines = {n for n in range(1, content.count(b"\n") + 2)}
    else:
        n = data.draw(st.integers(0, len(items) - 1))
        target = items[n].encode()
        at = target.index(b"</text>")
        target = target[:at] + (b"\xff\xfe" if how == "bytes" else b" & ") + target[at:]
        content = (HEAD + "".join(items[:n])).encode() + target + ("".join(items[n + 1:]) + "</items>\n").encode()
        line = HEAD.count("\n") + 1 + sum(i.count("\n") for i in items[:n]) + 3  # the item's <text> line
        lines = {line}
    path.write_bytes(content)
    for skip in (False, True):
        with pytest.raises(DataError) as info:
            list(read_docs(f"webis-cls:{root}", ReadContext(skip_bad_rows=skip)))
        err = info.value
        assert err.path == str(path) and err.line in lines and "malformed XML" in err.problem
        assert str(err) == f"{path}:{err.line}: {err.problem}"
