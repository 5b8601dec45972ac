import csv
import gzip
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.cli import main
from xlgraph.data.readers import ReadContext, load_corpus, read_docs
from xlgraph.errors import DataError, SpecError

TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)
LABELS = ("neg", "pos")
UNKNOWN = st.text(st.characters(blacklist_characters="\t\n\r", blacklist_categories=("Cs",)), max_size=6).filter(
    lambda s: s.strip() and s.strip() not in LABELS)


def test_real_tsv_file(shared_data):
    path = shared_data("mtod") / "es/test-es.tsv"
    corpus, _ = load_corpus(f"tsv:{path}?text=2&label=0&lang=es&split=test")
    assert len(corpus) == 3043 and corpus.langs == ("es",) and len(corpus.labels) == 11


def test_tsv_header_names_ids_and_gzip(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"id\tlabel\ttext\tlang\nd1\tpos\t good \tde\nd2\tneg\tbad\tfr\n\n"))
    docs = list(read_docs(f"tsv:{tmp_path / 't.tsv'}?header=1&label=label&id=id&lang_col=lang&split=dev"))
    assert [(d.id, d.label, d.text, d.lang, d.split) for d in docs] == [("d1", "pos", "good", "de", "dev"),
                                                                         ("d2", "neg", "bad", "fr", "dev")]
    assert [d.lang for d in read_docs(f"tsv:{path}?header=1&text=2&lang=en")] == ["en", "en"]  # unlabelled


def test_csv_quotes_and_multiline_fields(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('label,text\npos,"one, two"\nneg,"say ""hi""\nthen go"\npos,plain\n', encoding="utf-8")
    docs = list(read_docs(f"csv:{path}?header=1&label=label&lang=en"))
    assert [d.text for d in docs] == ["one, two", 'say "hi"\nthen go', "plain"]
    path.write_text('label,text\npos,"open\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"t.csv:2: bad CSV"):
        list(read_docs(f"csv:{path}?header=1&label=label&lang=en"))


def test_csv_unterminated_quote_loses_no_rows(tmp_path):
    """The quote opened on line 3 never closes: line 3 is the bad row, and the 999 rows it swallowed are read."""
    path = tmp_path / "t.csv"
    rows = [f"pos,row {i}\n" for i in range(1000)]
    rows[1] = 'neg,"never closed\n'
    path.write_text("label,text\n" + "".join(rows), encoding="utf-8")
    ctx = ReadContext(skip_bad_rows=True)
    docs = list(read_docs(f"csv:{path}?header=1&label=label&lang=en", ctx))
    assert [(e.line, e.problem) for e in ctx.skipped] == [(3, "bad CSV: unexpected end of data")]
    assert len(docs) == 999 and docs[1].text == "row 2"
    # a quote that does close, lines later, makes a record of the wrong width: the same
    rows[5] = 'pos,"a, b",x\n'
    path.write_text("label,text,note\n" + "".join(r.rstrip("\n") + ",n\n" if i != 5 else r
                                                 for i, r in enumerate(rows)), encoding="utf-8")
    ctx = ReadContext(skip_bad_rows=True)
    docs = list(read_docs(f"csv:{path}?header=1&label=label&lang=en", ctx))
    assert [e.line for e in ctx.skipped] == [3] and len(docs) == 999 and docs[4].text == "a, b"


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_a_ten_megabyte_field(tmp_path, fmt):
    text = "word " * 2_000_000 + "end"
    path = tmp_path / f"t.{fmt}"
    line = json.dumps({"text": text, "label": "pos"}) if fmt == "jsonl" else f"pos{',' if fmt == 'csv' else chr(9)}{text}"
    path.write_text(line + "\n", encoding="utf-8")
    cols = "label=label" if fmt == "jsonl" else "text=1&label=0"
    assert [d.text for d in read_docs(f"{fmt}:{path}?{cols}&lang=en")] == [text]


def test_jsonl(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "hola", "y": 1, "l": "es"}\n{"text": "adios", "y": "0", "l": "es"}\n')
    docs = list(read_docs(f"jsonl:{path}?label=y&lang_col=l"))
    assert [(d.text, d.label, d.lang) for d in docs] == [("hola", "1", "es"), ("adios", "0", "es")]


def test_spec_problems(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("pos\thello\n")
    with pytest.raises(SpecError, match="lang=CODE .* or lang_col=COLUMN"):
        list(read_docs(f"tsv:{path}?text=1"))
    with pytest.raises(SpecError, match="give text=COLUMN"):
        list(read_docs(f"tsv:{path}?lang=en"))
    with pytest.raises(SpecError, match="no header"):
        list(read_docs(f"tsv:{path}?text=text&lang=en"))
    with pytest.raises(DataError, match=r"t.tsv:1: label=5: there is no such column"):
        list(read_docs(f"tsv:{path}?text=1&label=5&lang=en"))
    with pytest.raises(DataError, match=r"t.tsv:1: text=body: the header names this column not at all"):
        list(read_docs(f"tsv:{path}?header=1&text=body&lang=en"))
    with pytest.raises(DataError, match="no such file"):
        list(read_docs(f"tsv:{tmp_path / 'nope.tsv'}?text=0&lang=en"))


def test_cli_reports_one_line(tmp_path, capsys):
    """The CLI prints a DataError as one `path:line: problem` line, even when the bad value holds line breaks."""
    path = tmp_path / "bad.tsv"
    path.write_text("pos\tfine\nneg\n", encoding="utf-8")
    assert main(["data", "inspect", f"tsv:{path}?text=1&label=0&lang=en"]) == 2
    assert capsys.readouterr().err == f"xlgraph: error: {path}:2: expected 2 columns, found 1\n"
    path.write_text("pos\tfine\nx\u2028y\x85z\ttext\n", encoding="utf-8")
    assert main(["data", "inspect", f"tsv:{path}?text=1&label=0&lang=en&labels=pos,neg"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"xlgraph: error: {path}:2: unknown label ") and len(err.splitlines()) == 1
    assert main(["data", "inspect", "--skip-bad-rows", f"tsv:{path}?text=1&label=0&lang=en&labels=pos,neg"]) == 0
    assert f"  {path}:2: unknown label" in capsys.readouterr().out


def row_values(kind, draw):
    """[label, text, note] for a delimited row of this kind (its column count may differ)."""
    label, text, note = draw(st.sampled_from(LABELS)), draw(TEXT), draw(st.sampled_from(["", "n", "x y"]))
    if kind == "columns":
        return draw(st.sampled_from([[label], [label, text], [label, text, note, "more"], ["", "", "", "", ""]]))
    if kind == "empty":
        text = draw(st.sampled_from(["", " ", "\u3000"]))
    elif kind == "label":
        label = draw(UNKNOWN)
    elif kind == "empty_label":
        label = " "
    elif kind == "nul":
        text = text + "\0"
    return [label, text, note]


TABLE_KINDS = st.sampled_from(["good"] * 4 + ["columns", "empty", "label", "empty_label", "utf8", "nul"])


def delimited(values, fmt):
    if fmt == "tsv":
        return "\t".join(values).encode() + b"\n"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue().encode()


@settings(max_examples=50, deadline=None)
@given(data=st.data(), fmt=st.sampled_from(["tsv", "csv"]), header=st.booleans(), gz=st.booleans(),
       trailing=st.integers(0, 2), kinds=st.lists(TABLE_KINDS, max_size=10))
def test_malformed_delimited_rows(check_read, scratch, data, fmt, header, gz, trailing, kinds):
    if not header:
        kinds = ["good"] + kinds  # without a header the first row fixes the number of columns
    lines = [delimited(["label", "text", "note"], fmt)] if header else []
    for kind in kinds:
        raw = delimited(row_values(kind, data.draw), fmt)
        if kind == "utf8":
            raw = raw[:1] + data.draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3("])) + raw[1:]
        lines.append(raw)
    content = b"".join(lines) + b"\n" * trailing
    name = f"t.{fmt}.gz" if gz else f"t.{fmt}"
    (root := scratch()).joinpath(name).write_bytes(gzip.compress(content) if gz else content)
    cols = "text=text&label=label&header=1" if header else "text=1&label=0"
    bad = {i + header: name for i, k in enumerate(kinds, 1) if k != "good"}
    docs = check_read(f"{fmt}:{root / name}?{cols}&lang=xx&labels=neg,pos", rows=len(kinds), bad=bad)
    assert all(d.label in LABELS and d.lang == "xx" and d.split == "train" for d in docs)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(st.sampled_from(["good"] * 3 + ["quote", "open", "columns", "utf8"]),
                                      max_size=8))
def test_bad_csv_quoting(check_read, scratch, data, kinds):
    """`open` is a row whose quote never closes: it may swallow the lines after it, but only it is a bad row."""
    lines = []
    for kind in kinds:
        raw = delimited(row_values("columns" if kind == "columns" else "good", data.draw), "csv")
        if kind == "open":
            raw = b'neg,"never closed,' + raw
        lines.append(b'"x"y,' + raw if kind == "quote" else raw[:1] + b"\xff" + raw[1:] if kind == "utf8" else raw)
    path = scratch() / "q.csv"
    path.write_bytes(b"label,text,note\n" + b"".join(lines))
    check_read(f"csv:{path}?header=1&label=label&lang=xx", rows=len(kinds),
               bad={i: "q.csv" for i, k in enumerate(kinds, 2) if k != "good"})


def json_line(kind, draw):
    record = {"text": draw(TEXT), "label": draw(st.sampled_from(LABELS)), "lang": "xx"}
    if kind == "truncated":
        full = json.dumps(record, ensure_ascii=draw(st.booleans()))
        return full[: draw(st.integers(1, len(full) - 1))].encode()
    if kind == "not_object":
        return json.dumps(draw(st.sampled_from([[1, 2], "text", 3, None]))).encode()
    if kind == "missing":
        del record[draw(st.sampled_from(["text", "label", "lang"]))]
    elif kind == "text_type":
        record["text"] = draw(st.sampled_from([None, 3, ["a"], {"a": 1}, True]))
    elif kind == "empty":
        record["text"] = draw(st.sampled_from(["", " \t "]))
    elif kind == "label":
        record["label"] = draw(st.one_of(UNKNOWN, st.sampled_from([None, 1.5, [], 7])))
    elif kind in ("nul", "surrogate"):
        key = draw(st.sampled_from(["text", "label", "lang"]))
        record[key] += "\0" if kind == "nul" else draw(st.sampled_from(["\ud800", "\udfff", "\udc00x"]))
    raw = json.dumps(record).encode()
    if kind == "utf8":
        raw = raw[:-2] + draw(st.sampled_from([b"\xff", b"\x80"])) + raw[-2:]
    return raw


@settings(max_examples=50, deadline=None)
@given(data=st.data(), gz=st.booleans(), trailing=st.integers(0, 2), kinds=st.lists(
    st.sampled_from(["good"] * 4 + ["truncated", "not_object", "missing", "text_type", "empty", "label", "utf8",
                                    "nul", "surrogate"]),
    max_size=10))
def test_malformed_jsonl(check_read, scratch, data, gz, trailing, kinds):
    content = b"".join(json_line(k, data.draw) + b"\n" for k in kinds) + b" \n" * trailing
    name = "t.jsonl.gz" if gz else "t.jsonl"
    (root := scratch()).joinpath(name).write_bytes(gzip.compress(content) if gz else content)
    docs = check_read(f"jsonl:{root / name}?label=label&lang_col=lang&labels=neg,pos", rows=len(kinds),
                      bad={i: name for i, k in enumerate(kinds, 1) if k != "good"})
    assert all(d.label in LABELS and d.lang == "xx" for d in docs)
