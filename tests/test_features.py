"""`xlgraph encode`: features equal the encoder's pooled output, written in chunks, resumable, refused when the
folder holds another encoding; also from a fine-tuned run's checkpoint."""

import json

import jax
import numpy as np
import pytest

from conftest import tiny_run_args
from xlgraph.cli import main
from xlgraph.data.readers import load_corpus
from xlgraph.data.tokenize import tokenize
from xlgraph.models.tokenizer import load_tokenizer
from xlgraph.errors import XlgraphError
from xlgraph.encode import encode_corpus, load_features
from xlgraph.models.encoder import pool
from xlgraph.models.hf import load_encoder


@pytest.fixture(scope="module")
def corpus():
    corpus, _ = load_corpus("sample:mtod")
    return corpus.where(lang="es", split="test").take(np.arange(70))


def reference(model_dir, texts, pooling):
    encoder, _ = load_encoder(model_dir)
    tok = tokenize(load_tokenizer(model_dir), texts, 32)
    mask = (np.arange(tok.ids.shape[1])[None] < tok.lengths[:, None]).astype(np.int32)
    return np.asarray(pool(encoder(tok.ids, mask), mask, pooling))


@pytest.mark.parametrize("pooling", ["first", "mean"])
def test_features_match_the_encoder_and_the_corpus_order(tiny_model_dir, corpus, tmp_path, pooling):
    out = encode_corpus(corpus, tmp_path / "f", model=str(tiny_model_dir), pooling=pooling, max_length=32,
                        batch_size=16, chunk_size=32)
    feats = load_features(out.path)
    assert (feats.n, feats.dim, feats.pooling) == (70, 32, pooling)
    np.testing.assert_allclose(feats.array(), reference(tiny_model_dir, corpus.text, pooling), atol=1e-5)
    docs = feats.docs()
    assert list(docs["lang"]) == list(corpus.lang) and set(docs["split"]) == {"test"}
    assert json.loads((out.path / "progress.json").read_text())["chunks_done"] == 3


def test_an_interrupted_encoding_resumes_after_its_last_chunk(tiny_model_dir, corpus, tmp_path):
    kw = dict(model=str(tiny_model_dir), max_length=32, batch_size=16, chunk_size=32)
    out = encode_corpus(corpus, tmp_path / "f", **kw)
    full = np.array(out.array())
    # as if killed after the first chunk: later rows never written
    (out.path / "progress.json").write_text(json.dumps({"chunks_done": 1}))
    arr = np.load(out.path / "features.npy", mmap_mode="r+")
    arr[32:] = 0
    arr.flush()
    with pytest.raises(XlgraphError, match="unfinished"):
        load_features(out.path)
    seen = []
    import xlgraph.encode as enc

    original = enc.tokenize
    enc.tokenize = lambda tok, texts, n: seen.append(len(texts)) or original(tok, texts, n)
    try:
        encode_corpus(corpus, tmp_path / "f", **kw)
    finally:
        enc.tokenize = original
    assert seen == [32, 6]  # chunks 2 and 3 only
    np.testing.assert_array_equal(load_features(out.path).array(), full)
    with pytest.raises(XlgraphError, match="different encoding.*pooling"):
        encode_corpus(corpus, tmp_path / "f", pooling="mean", **kw)


def test_encode_cli_from_a_fine_tuned_run(tiny_model_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny_run_args(tiny_model_dir, run, "train.epochs=1")) == 0
    out = tmp_path / "feats"
    assert main(["encode", "sample:mtod", str(out), "--split", "unlabeled", "--run", str(run),
                 "--batch-size", "32", "--max-length", "32", "--dtype", "float16"]) == 0
    assert "documents" in capsys.readouterr().out
    feats = load_features(out)
    assert feats.array().dtype == np.float16 and feats.n == 2000 and "step" in feats.model
    from xlgraph.families import restore_classifier

    _, classifier, _, _ = restore_classifier(run)
    corpus, _ = load_corpus("sample:mtod")
    corpus = corpus.where(split="unlabeled")
    assert set(feats.docs()["lang"]) == {"es", "th"}
    want = reference_of(classifier.encoder, tiny_model_dir, corpus.text[:40])
    np.testing.assert_allclose(feats.array()[:40].astype(np.float32), want, atol=2e-3, rtol=2e-3)
    fine_tuned = reference(tiny_model_dir, corpus.text[:40], "first")
    assert np.abs(fine_tuned - want).max() > 1e-3  # the run's weights, not the pretrained ones


def reference_of(encoder, model_dir, texts):
    tok = tokenize(load_tokenizer(model_dir), texts, 32)
    mask = (np.arange(tok.ids.shape[1])[None] < tok.lengths[:, None]).astype(np.int32)
    return np.asarray(jax.device_get(pool(encoder(tok.ids, mask), mask, "first")))


def test_word_vectors_from_the_encoder(tiny_model_dir, tmp_path, capsys):
    """Each word encoded alone with the prefix, mean-pooled: the rows equal the encoder's output for "prefix word";
    blank lines and repeats are dropped; the CLI writes a vector file `load_vectors` reads back."""
    from xlgraph.encode import encode_words
    from xlgraph.text.vectors import load_vectors

    words = ["house", "Haus", "house", "  ", "maison"]
    kv = encode_words(words, tmp_path / "w", model=str(tiny_model_dir), prefix="query: ", batch_size=4)
    assert kv.index_to_key == ["house", "Haus", "maison"]
    np.testing.assert_allclose(kv.vectors, reference(tiny_model_dir, [f"query: {w}" for w in kv.index_to_key],
                                                     "mean"), atol=1e-5)
    (tmp_path / "words.txt").write_text("house 12\nHaus\n\nmaison\n")
    assert main(["encode-words", str(tmp_path / "words.txt"), str(tmp_path / "w.vec"), "--model",
                 str(tiny_model_dir), "--prefix", "query: ", "--batch-size", "4"]) == 0
    back = load_vectors(tmp_path / "w.vec")
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_allclose(back.vectors, kv.vectors, atol=1e-5)
    assert "3 word vectors" in capsys.readouterr().out
