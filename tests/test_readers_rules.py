"""Rules every reader keeps: spec parameters are checked per scheme, a byte order mark is dropped, texts with NUL are
bad rows, `labels=` makes other labels bad rows, and a spec that yields nothing is an error."""

import json
import re
from pathlib import Path

import pytest

from xlgraph.data import readers
from xlgraph.data.readers import READERS, ReadContext, read_docs
from xlgraph.errors import DataError, SpecError

readers._load_all()
BOM = b"\xef\xbb\xbf"
CONLLU_TOKEN = "1\tw\tw\tNOUN\t_\t_\t0\troot\t_\t_"


def write(scheme: str, root: Path, texts: list[str], bom: bool = False) -> tuple[str, str, list[int]]:
    """A minimal dataset of `scheme` in `root` with one doc per text: (spec, name of the file holding the texts,
    the line of each text in it)."""
    lines = list(range(1, len(texts) + 1))
    if scheme in ("tsv", "csv"):
        sep = "\t" if scheme == "tsv" else ","
        path, body = root / f"t.{scheme}", "".join(f"{t}{sep}pos\n" for t in texts)
        spec = f"{scheme}:{path}?text=0&label=1&lang=en"
    elif scheme == "jsonl":
        path, body = root / "t.jsonl", "".join(json.dumps({"text": t, "label": "pos"}) + "\n" for t in texts)
        spec = f"jsonl:{path}?label=label&lang=en"
    elif scheme == "mldoc":
        path, body, spec = root / "english.dev", "".join(f"CCAT\t{t}\n" for t in texts), f"mldoc:{root}"
    elif scheme == "mtod":
        path = root / "en/train-en.tsv"
        body, spec = "".join(f"alarm/set_alarm\t\t{t}\ten_XX\t\n" for t in texts), f"mtod:{root}"
    elif scheme == "opener":
        path = root / "datasets/en/opener_sents/dev/pos.txt"
        path.parent.mkdir(parents=True)
        for name in ("strneg", "neg", "strpos"):
            (path.parent / f"{name}.txt").write_bytes(b"")
        body, spec = "".join(f"{t}\n" for t in texts), f"opener:{root}?splits=dev"
    elif scheme == "xlmt":
        path = root / "sentiment/english/test_text.txt"
        path.parent.mkdir(parents=True)
        (path.parent / "test_labels.txt").write_bytes((BOM if bom else b"") + b"2\n" * len(texts))
        body, spec = "".join(f"{t}\n" for t in texts), f"xlmt:{root}"
    elif scheme == "conllu":
        path = root / "xx_t-ud-dev.conllu"
        body, spec = "".join(f"# text = {t}\n{CONLLU_TOKEN}\n\n" for t in texts), f"conllu:{root}"
        lines = [3 * i + 1 for i in range(len(texts))]
    elif scheme == "webis-cls":
        path = root / "en/books/test.review"
        items = "".join(f"<item>\n<rating>5.0</rating>\n<text>{t}</text>\n</item>\n" for t in texts)
        body, spec = f"<items>\n{items}</items>\n", f"webis-cls:{root}"
        lines = [2 + 4 * i for i in range(len(texts))]
    elif scheme == "xglue-nc":
        path, body, spec = root / "NC/xglue.nc.de.dev", "".join(f"{t}\tbody\tnews\n" for t in texts), f"xglue-nc:{root}"
    else:
        raise ValueError(scheme)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((BOM if bom else b"") + body.encode())
    return spec, path.name, lines


SCHEMES = ["tsv", "csv", "jsonl", "mldoc", "mtod", "opener", "xlmt", "conllu", "webis-cls", "xglue-nc"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_byte_order_mark_is_dropped(tmp_path, scheme):
    spec, _, _ = write(scheme, tmp_path, ["first", "second"], bom=True)
    docs = list(read_docs(spec))
    assert [d.text.removesuffix("\nbody") for d in docs] == ["first", "second"]


@pytest.mark.parametrize("scheme", [s for s in SCHEMES if s != "webis-cls"])  # expat refuses NUL: malformed XML
def test_nul_in_text_is_a_bad_row(tmp_path, scheme):
    spec, name, lines = write(scheme, tmp_path, ["good", "a\0b", "fine"])
    with pytest.raises(DataError) as info:
        list(read_docs(spec))
    assert (Path(info.value.path).name, info.value.line, info.value.problem) == (name, lines[1], "NUL byte in text")
    ctx = ReadContext(skip_bad_rows=True)
    assert [d.text.removesuffix("\nbody") for d in read_docs(spec, ctx)] == ["good", "fine"]
    assert [(Path(e.path).name, e.line) for e in ctx.skipped] == [(name, lines[1])]


def test_a_lone_surrogate_is_a_bad_row(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "a\\ud800b"}\n{"text": "pair \\ud83d\\ude00"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"t.jsonl:2: lone surrogate U\+D800 in text"):
        list(read_docs(f"jsonl:{path}?lang=en"))
    ctx = ReadContext(skip_bad_rows=True)
    assert [d.text for d in read_docs(f"jsonl:{path}?lang=en", ctx)] == ["ok", "pair \U0001f600"]
    assert [e.line for e in ctx.skipped] == [2]
    path.write_text('{"text": "ok", "label": "\\udfff"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"t.jsonl:1: lone surrogate U\+DFFF in label"):
        list(read_docs(f"jsonl:{path}?lang=en&label=label"))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_documents_is_an_error(tmp_path, scheme):
    spec, _, _ = write(scheme, tmp_path, [])
    with pytest.raises(DataError, match="no documents in") as info:
        list(read_docs(spec))
    assert str(info.value).startswith(str(tmp_path))


def test_no_documents_after_skipping_names_the_first_bad_row(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(" \tpos\n\tneg\n", encoding="utf-8")
    ctx = ReadContext(skip_bad_rows=True)
    with pytest.raises(DataError, match=r"t.tsv: no documents in .*: all 2 rows were bad and skipped, the first "
                                        r".*t.tsv:1: empty text"):
        list(read_docs(f"tsv:{path}?text=0&label=1&lang=en", ctx))
    assert [e.line for e in ctx.skipped] == [1, 2]


def test_labels_param_makes_other_labels_bad_rows(tmp_path):
    """webis-cls, xlmt and opener report a label outside `labels=` at its file and line, like the other readers."""
    cases = []
    root = tmp_path / "webis"
    spec, name, lines = write("webis-cls", root, ["fine", "great"])
    review = root / "en/books/test.review"
    review.write_text(review.read_text().replace("5.0", "1.0", 1))
    cases.append((f"{spec}?labels=negative", name, lines[1], "unknown label 'positive'"))
    root = tmp_path / "xlmt"
    spec, _, _ = write("xlmt", root, ["bad", "good"])
    (root / "sentiment/english/test_labels.txt").write_text("0\n2\n")
    cases.append((f"{spec}?labels=negative,neutral", "test_labels.txt", 2, "unknown label 'positive'"))
    root = tmp_path / "opener"
    spec, name, _ = write("opener", root, ["nice"])
    (root / "datasets/en/opener_sents/dev/neg.txt").write_text("meh\n")
    cases.append((f"{spec}&labels=neg,strneg,strpos", name, 1, "unknown label 'pos'"))
    for spec, name, line, problem in cases:
        with pytest.raises(DataError) as info:
            list(read_docs(spec))
        assert (Path(info.value.path).name, info.value.line) == (name, line)
        assert info.value.problem.startswith(problem)
        ctx = ReadContext(skip_bad_rows=True)
        assert len(list(read_docs(spec, ctx))) == 1
        assert [(Path(e.path).name, e.line) for e in ctx.skipped] == [(name, line)]


@pytest.mark.parametrize("scheme", sorted(READERS))
def test_an_unknown_parameter_is_an_error(scheme):
    path = "mtod" if scheme == "sample" else "/nonexistent/x"
    with pytest.raises(SpecError) as info:
        list(read_docs(f"{scheme}:{path}?lnags=en"))
    message = str(info.value)
    assert "unknown parameter 'lnags'" in message
    accepted = sorted(readers.COMMON_PARAMS + readers.PARAMS[scheme])
    assert message.endswith(f"{scheme} accepts {', '.join(accepted)}")


def test_mldoc_names_its_parameters():
    with pytest.raises(SpecError, match=r"unknown parameter 'lnags'; mldoc accepts labels, lang, langs, split, splits, "
                                        r"train_size$"):
        list(read_docs("mldoc:/nonexistent?lnags=en"))


@pytest.mark.parametrize("query, problem", [
    ("text=0&lang=en&header=yes", "header=yes is not 0 or 1"),
    ("text=0&lang=en&labels=pos,,neg", "labels=pos,,neg has an empty item"),
    ("text=0&lang=en&labels=", "labels= is empty"),
    ("text=0&lang=en&labels=pos,neg,pos", "names pos twice"),
    ("text=0&lang=", "lang= is empty"),
    ("text=&lang=en", "text= is empty"),
    ("text=0&label=&lang=en", "label= is empty"),
])
def test_malformed_parameter_values(tmp_path, query, problem):
    path = tmp_path / "t.tsv"
    path.write_text("hello\tpos\n")
    with pytest.raises(SpecError, match=re.escape(problem)):
        list(read_docs(f"tsv:{path}?{query}"))


def test_malformed_reader_parameters(tmp_path):
    with pytest.raises(SpecError, match="summary=yes is not 0 or 1"):
        list(read_docs(f"webis-cls:{tmp_path}?summary=yes"))
    with pytest.raises(SpecError, match="langs=en,,de has an empty item"):
        list(read_docs(f"mldoc:{tmp_path}?langs=en,,de"))
    with pytest.raises(SpecError, match="names en twice"):
        list(read_docs(f"mldoc:{tmp_path}?langs=en,english"))


def test_every_parameter_a_reader_reads_is_declared():
    """Scans each reader module for the spec parameters it reads: each must be declared by one of its schemes."""
    readers._load_all()
    by_module: dict[str, set[str]] = {}
    for scheme, fn in READERS.items():
        by_module.setdefault(fn.__module__, set()).update(readers.COMMON_PARAMS + readers.PARAMS[scheme])
    pattern = re.compile(r"""(?:spec\.get|_param)\((?:spec, )?["'](\w+)["']""")
    for module, declared in by_module.items():
        source = Path(__import__(module, fromlist=["_"]).__file__).read_text()
        read = set(pattern.findall(source))
        if module.endswith(".table"):
            read |= {"text", "label", "id", "lang_col"}  # read in a loop over FIELDS
        assert read <= declared, (module, read - declared)
