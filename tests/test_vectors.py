import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from gensim.models import KeyedVectors

from xlgraph.errors import DataError, XlgraphError
from xlgraph.text.vectors import (cap_vocab, keyed_vectors, load_vectors, save_vectors, train_vectors,
                                  vector_format, vocab_path)

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "café", "東京", "x_y", "naïve", "don't", "42", "a\tb"]


@pytest.fixture()
def kv():
    rng = np.random.default_rng(0)
    vectors = (rng.normal(size=(len(WORDS), 7)) * 10.0 ** rng.integers(-8, 4, size=(len(WORDS), 7)))
    return keyed_vectors(WORDS, vectors.astype(np.float32))


@pytest.mark.parametrize("name, fmt", [("v.txt", "word2vec"), ("v.vec", "fasttext"), ("v.txt.gz", "word2vec"),
                                       ("v.bin", "word2vec-binary"), ("v.npy", "npy"), ("v.data", "word2vec"),
                                       ("v.vec.gz", "fasttext")])
def test_round_trip(tmp_path, kv, name, fmt):
    path = tmp_path / name
    explicit = fmt if name == "v.data" else None
    save_vectors(kv, path, format=explicit)
    back = load_vectors(path, format=explicit, mmap=False)
    assert back.index_to_key == WORDS and back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.vectors, kv.vectors)  # exact, text included
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_ours_and_we_read_gensims(tmp_path, kv, binary):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    fmt = "word2vec-binary" if binary else "word2vec"
    save_vectors(kv, ours, format=fmt)
    read = KeyedVectors.load_word2vec_format(ours, binary=binary)
    assert read.index_to_key == WORDS and np.allclose(read.vectors, kv.vectors, rtol=1e-6)
    read.save_word2vec_format(theirs, binary=binary)
    back = load_vectors(theirs, format=fmt)
    assert back.index_to_key == WORDS and np.allclose(back.vectors, kv.vectors, rtol=1e-6)


def test_text_without_header_and_limit(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text("a 1 2 3\nb 4 5 6 \r\nc 7 8 9\n\n\n", encoding="utf-8")  # trailing space, CRLF, blank end
    kv = load_vectors(path)
    assert kv.index_to_key == ["a", "b", "c"] and kv.vectors.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert load_vectors(path, limit=2).index_to_key == ["a", "b"]
    headed = tmp_path / "w.vec"
    headed.write_text("3 2\na 1 2\nb 3 4\nc 5 6\n", encoding="utf-8")
    assert load_vectors(headed, limit=2).vectors.tolist() == [[1, 2], [3, 4]]


def test_duplicate_words_keep_the_first_vector_and_say_so(tmp_path, caplog):
    path = tmp_path / "dup.vec"
    path.write_text("4 2\na 1 2\nb 3 4\na 5 6\nc 7 8\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xlgraph"):
        kv = load_vectors(path)
    assert kv.index_to_key == ["a", "b", "c"] and kv.vectors.tolist() == [[1, 2], [3, 4], [7, 8]]
    assert "1 duplicate word" in caplog.text and "line 4" in caplog.text


@pytest.mark.parametrize("content, line, problem", [
    (b"3 2\na 1 2\nb 3\nc 4 5\n", 3, "1 values, expected 2"),
    (b"2 2\na 1 2\nb 3 x4\n", 3, "'x4' is not a number"),
    (b"a 1 2\nlonely\n", 2, "expected 'word v1 ... vD'"),
    (b"a 1 2\n\nb 1 2\n", 2, "expected 'word v1 ... vD'"),
    (b"2 2\na 1 2\nb \xff 2\n", 3, "not UTF-8"),
    (b"1 2\na 1 2\nb 3 4\n", 3, "more vectors than the 1"),
    (b"3 2\na 1 2\nb 3 4\n", None, "header announces 3 vectors, file has 2"),
    (b"2 2\na 1 nan\nb 3 4\n", 2, "not finite"),
    (b"", None, "no vectors"),
])
def test_malformed_text(tmp_path, content, line, problem):
    path = tmp_path / "bad.vec"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_vectors(path)
    err = info.value
    assert (err.path, err.line) == (str(path), line) and problem in err.problem
    assert str(err).startswith(f"{path}:{line}: " if line else f"{path}: ") and len(str(err).splitlines()) == 1


def test_malformed_binary(tmp_path, kv):
    good = tmp_path / "good.bin"
    save_vectors(kv, good)
    for name, data in [("cut.bin", good.read_bytes()[:-20]), ("text.bin", b"hello world\n1 2 3\n")]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DataError, match="not a readable word2vec binary") as info:
            load_vectors(path)
        assert info.value.path == str(path)


def test_npy_is_memory_mapped(tmp_path, kv):
    path = save_vectors(kv, tmp_path / "big.npy")
    assert vocab_path(path) == tmp_path / "big.vocab.txt"
    mapped = load_vectors(path)
    assert isinstance(mapped.vectors, np.memmap) and mapped.vectors.mode == "r"
    assert not mapped.vectors.flags.writeable
    np.testing.assert_array_equal(mapped.vectors, kv.vectors)
    assert mapped.most_similar("the", topn=1)[0][0] in WORDS  # gensim works on the mapped matrix
    capped = cap_vocab(mapped, 3)
    assert isinstance(capped.vectors, np.memmap) and capped.index_to_key == WORDS[:3]
    assert isinstance(load_vectors(path, limit=2).vectors, np.memmap)
    assert type(load_vectors(path, mmap=False).vectors) is np.ndarray


def test_malformed_npy(tmp_path, kv):
    path = save_vectors(kv, tmp_path / "m.npy")
    vocab = vocab_path(path)
    vocab.write_text("\n".join(WORDS[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"{len(WORDS) - 1} words for the {len(WORDS)} rows") as info:
        load_vectors(path)
    assert info.value.path == str(vocab)
    vocab.write_text("\n".join(WORDS[:-1] + ["the"]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="listed twice") as info:
        load_vectors(path)
    assert info.value.line == len(WORDS)
    vocab.unlink()
    with pytest.raises(DataError, match="missing") as info:
        load_vectors(path)
    assert info.value.path == str(vocab)
    np.save(tmp_path / "d.npy", np.zeros((2, 3)))
    vocab_path(tmp_path / "d.npy").write_text("a\nb\n", encoding="utf-8")
    with pytest.raises(DataError, match="float64"):
        load_vectors(tmp_path / "d.npy")
    assert load_vectors(tmp_path / "d.npy", mmap=False).vectors.dtype == np.float32


def test_formats_and_unwritable_words(tmp_path, kv):
    assert [vector_format(p) for p in ("a.txt", "a.vec.gz", "a.bin", "a.npy")] == [
        "word2vec", "fasttext", "word2vec-binary", "npy"]
    for bad in ("a.emb", "a.npy.gz"):
        with pytest.raises(XlgraphError, match="cannot tell the vector format"):
            vector_format(bad)
    with pytest.raises(XlgraphError, match="unknown vector format"):
        vector_format("a.txt", "glove")
    spaced = keyed_vectors(["new york", "b"], np.zeros((2, 3), np.float32))
    with pytest.raises(XlgraphError, match="'new york'"):
        save_vectors(spaced, tmp_path / "s.vec")
    assert load_vectors(save_vectors(spaced, tmp_path / "s.npy")).index_to_key == ["new york", "b"]


def test_cap_vocab_keeps_the_most_frequent_in_order():
    kv = keyed_vectors(list("abcde"), np.arange(10, dtype=np.float32).reshape(5, 2), counts=[5, 50, 1, 20, 20])
    capped = cap_vocab(kv, 3)
    assert capped.index_to_key == ["b", "d", "e"] and capped.vectors.tolist() == [[2, 3], [6, 7], [8, 9]]
    assert capped.expandos["count"].tolist() == [50, 20, 20]
    assert cap_vocab(keyed_vectors(list("abc"), np.zeros((3, 2), np.float32)), 2).index_to_key == ["a", "b"]
    assert cap_vocab(kv, 10) is kv
    with pytest.raises(XlgraphError):
        cap_vocab(kv, 0)


def _corpus(seed=0, sentences=400):
    """Two topics whose words never share a sentence: trained vectors should keep them apart."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(10)], [f"b{i}" for i in range(10)]]
    return [[str(w) for w in rng.choice(topics[s % 2], size=8)] for s in range(sentences)]


@pytest.mark.parametrize("model", ["word2vec", "fasttext"])
def test_train_is_deterministic_and_learns(model):
    corpus = _corpus()
    opts = dict(model=model, dim=16, min_count=1, epochs=5, workers=1, window=3, sample=0)  # no downsampling:
    # with 20 words, every word is "frequent"
    if model == "fasttext":
        opts["bucket"] = 1000  # gensim's default allocates 2M n-gram rows
    kv = train_vectors(corpus, seed=1, **opts)
    again = train_vectors(iter(corpus), seed=1, **opts)  # a one-shot iterator is fine too
    other = train_vectors(corpus, seed=2, **opts)
    assert len(kv) == 20 and sorted(kv.index_to_key) == sorted(again.index_to_key)
    np.testing.assert_array_equal(kv.vectors, again.vectors)
    assert not np.array_equal(kv.vectors, other.vectors)
    neighbours = [w for w, _ in kv.most_similar("a0", topn=5)]
    assert sum(w.startswith("a") for w in neighbours) >= 4, neighbours
    counts = kv.expandos["count"]
    assert np.all(np.diff(counts) <= 0)  # most frequent first
    assert cap_vocab(kv, 5).index_to_key == kv.index_to_key[:5]
    assert train_vectors(corpus, seed=1, max_vocab=7, **opts).index_to_key == kv.index_to_key[:7]


def test_train_errors():
    with pytest.raises(XlgraphError, match="lists of tokens"):
        train_vectors(["a whole sentence", "another"], workers=1)
    with pytest.raises(XlgraphError, match="unknown vector model"):
        train_vectors([["a"]], model="glove")
    with pytest.raises(XlgraphError, match="no sentences"):
        train_vectors([])
    with pytest.raises(XlgraphError, match="min_count"):
        train_vectors([["a", "b"]], min_count=5, workers=1)


def test_training_does_not_depend_on_the_process():
    """Python salts str hashes per process; a seed must still give the same vectors in a fresh process."""
    code = ("import sys, numpy as np; sys.path.insert(0, '.'); from tests.test_vectors import _corpus; "
            "from xlgraph.text.vectors import train_vectors; "
            "kv = train_vectors(_corpus(), dim=8, min_count=1, epochs=1, workers=1, seed=3); "
            "print(kv.index_to_key[0], float(np.abs(kv.vectors).sum()))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(outs) == 1 and outs != {""}


def test_keyed_vectors_checks():
    with pytest.raises(XlgraphError, match="2 words for a vector matrix"):
        keyed_vectors(["a", "b"], np.zeros((3, 2), np.float32))
    with pytest.raises(XlgraphError, match="duplicate"):
        keyed_vectors(["a", "a"], np.zeros((2, 2), np.float32))
