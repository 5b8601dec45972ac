import gzip

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlgraph.data.readers import ReadContext, load_corpus, read_docs
from xlgraph.data.readers.conllu import read_sentences
from xlgraph.errors import DataError, SpecError

UPOS = ("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X").split()
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co")), min_size=1, max_size=12).filter(str.strip)
FORM = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn", "Co", "Zs", "Zl", "Zp")), min_size=1, max_size=6)

# PROVENANCE.md of ../shared/data/ud_pos
REAL = {("en", "test"): 2077, ("de", "dev"): 799, ("de", "test"): 977, ("es", "dev"): 1400, ("es", "test"): 427,
        ("fr", "dev"): 1476, ("fr", "test"): 416}


def test_real_ud_counts(shared_data):
    corpus, skipped = load_corpus(f"conllu:{shared_data('ud_pos')}")
    assert skipped == [] and corpus.labels == () and (corpus.label == -1).all()
    got = {(lang, split): int(corpus.mask(lang=lang, split=split).sum())
           for lang in corpus.langs for split in ("train", "dev", "test") if corpus.mask(lang=lang, split=split).any()}
    assert got == REAL


def test_real_ud_sentences(shared_data):
    path = shared_data("ud_pos") / "UD_English-EWT/en_ewt-ud-test.conllu"
    sentences = list(read_sentences(path, ReadContext()))
    assert len(sentences) == 2077
    first = sentences[0]
    assert first.text == "What if Google Morphed Into GoogleOS?"
    assert first.id == "weblog-blogspot.com_zentelligence_20040423000200_ENG_20040423_000200-0001"
    assert first.tokens == ["What", "if", "Google", "Morphed", "Into", "GoogleOS", "?"]
    assert first.upos == ["PRON", "SCONJ", "PROPN", "VERB", "ADP", "PROPN", "PUNCT"]
    assert all(len(s.tokens) == len(s.upos) > 0 and set(s.upos) <= set(UPOS) for s in sentences)
    # word lines only: the file has 25,450 token lines, 354 multiword ranges and 2 empty nodes
    assert sum(len(s.tokens) for s in sentences) == 25450 - 354 - 2


def token(i, form="w", upos="NOUN", cols=10):
    return "\t".join(([str(i), form, form.lower(), upos, "_", "_", "0", "root", "_", "_"] + ["_"] * 2)[:cols])


def test_file_names_params_and_gzip(tmp_path):
    text = "# sent_id = a1\n# text = Du bist's\n1\tDu\tdu\tPRON\t_\t_\t0\troot\t_\t_\n" \
           "2-3\tbist's\t_\t_\t_\t_\t_\t_\t_\t_\n2\tbist\tsein\tAUX\t_\t_\t1\tcop\t_\t_\n" \
           "3\t's\tes\tPRON\t_\t_\t1\tobj\t_\t_\n3.1\tx\tx\tX\t_\t_\t_\t_\t_\t_\n\n\n"
    (tmp_path / "de_x-ud-dev.conllu.gz").write_bytes(gzip.compress(text.encode()))
    (tmp_path / "mine.conllu").write_text(token(1) + "\n")  # no sent_id, no text, no final blank line
    sentences = list(read_sentences(tmp_path / "de_x-ud-dev.conllu.gz", ReadContext()))
    assert [(s.id, s.text, s.tokens, s.upos) for s in sentences] == [
        ("a1", "Du bist's", ["Du", "bist", "'s"], ["PRON", "AUX", "PRON"])]
    with pytest.raises(SpecError, match="cannot tell the language of mine.conllu"):
        list(read_docs(f"conllu:{tmp_path}"))
    docs = list(read_docs(f"conllu:{tmp_path / 'mine.conllu'}?lang=fr"))
    assert [(d.id, d.text, d.lang, d.split, d.label) for d in docs] == [("mine/1", "w", "fr", "train", None)]
    docs = list(read_docs(f"conllu:{tmp_path}?lang=fr&split=test"))
    assert [(d.id, d.lang, d.split) for d in docs] == [("de_x-ud-dev/a1", "fr", "test"), ("mine/1", "fr", "test")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .conllu files"):
        list(read_docs(f"conllu:{tmp_path / 'empty'}"))
    with pytest.raises(DataError, match="no such file or directory"):
        list(read_docs(f"conllu:{tmp_path / 'nope'}?lang=en"))


SENTENCE_KINDS = ["good"] * 4 + ["columns", "id_order", "id_text", "range", "form", "upos", "utf8", "no_tokens"]


def sentence(kind, draw, number):
    """(lines as bytes, offset of the bad line within them, or None)."""
    forms = draw(st.lists(FORM, min_size=1, max_size=4))
    upos = [draw(st.sampled_from(UPOS)) for _ in forms]
    comments = [f"# sent_id = s{number}"] + ([f"# text = {draw(TEXT)}"] if draw(st.booleans()) else [])
    words = [token(i, f, u) for i, (f, u) in enumerate(zip(forms, upos), 1)]
    if len(words) > 1 and draw(st.booleans()):
        words.insert(0, "\t".join(["1-2", forms[0] + forms[1]] + ["_"] * 8))
    if draw(st.booleans()):
        words.append("\t".join([f"{len(forms)}.1", "e"] + ["_"] * 8))
    at = draw(st.integers(0, len(words) - 1))
    if kind == "columns":
        words[at] = token(1, cols=draw(st.sampled_from([1, 9, 11, 12])))
    elif kind == "id_order":
        words[at] = token(draw(st.sampled_from([0, 6, 99])))  # never the next ID
    elif kind == "id_text":
        words[at] = token(1).replace("1", draw(st.sampled_from(["x", "1-", "-1", "1.", "", " 1"])), 1)
    elif kind == "range":
        words[at] = "\t".join([draw(st.sampled_from(["9-10", "1-1", "2-1"]))] + ["_"] * 9)
    elif kind in ("form", "upos"):
        at = len(words) - 1 - ("." in words[-1].split("\t")[0])  # the last word, not an empty node
        words[at] = token(len(forms), form="" if kind == "form" else "w", upos="" if kind == "upos" else "X")
    lines = [line.encode() for line in comments + words]
    if kind == "utf8":
        lines[len(comments) + at] += b"\xff"
    if kind == "no_tokens":
        return lines[: len(comments)], -len(comments)
    return lines, (None if kind == "good" else len(comments) + at)


@settings(max_examples=50, deadline=None)
@given(data=st.data(), kinds=st.lists(st.sampled_from(SENTENCE_KINDS), max_size=8), gz=st.booleans(),
       final_blank=st.booleans(), extra_blanks=st.booleans())
def test_malformed_sentences(check_read, scratch, data, kinds, gz, final_blank, extra_blanks):
    name = "xx_toy-ud-dev.conllu" + (".gz" if gz else "")
    out, bad, line = [], {}, 1
    for n, kind in enumerate(kinds, 1):
        lines, offset = sentence(kind, data.draw, n)
        if offset is not None:
            bad[line + max(offset, 0)] = name  # a comment-only block is reported at its first line
        out += lines + [b""] * (1 + extra_blanks)
        line += len(lines) + 1 + extra_blanks
    if kinds and not final_blank:
        while out and out[-1] == b"":
            out.pop()
    content = b"".join(x + b"\n" for x in out)
    (root := scratch()).joinpath(name).write_bytes(gzip.compress(content) if gz else content)
    docs = check_read(f"conllu:{root}", rows=len(kinds), bad=bad)
    assert [d.id for d in docs] == [f"xx_toy-ud-dev/s{n}" for n, k in enumerate(kinds, 1) if k == "good"]
    assert all(d.lang == "xx" and d.split == "dev" and d.label is None for d in docs)
