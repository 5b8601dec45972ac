"""Word vectors as CLHG node features: a document is the mean of its known words' vectors, a graph word its vector
(normalised, or the mean of its parts), zeros when unknown; and CLHG trains on them end to end."""

import json
import zlib
from collections import Counter

import numpy as np
import pytest

from xlgraph.data.corpus import Corpus, Doc
from xlgraph.errors import XlgraphError
from xlgraph.features.word_vectors import document_vectors, word_vector_features, word_vectors
from xlgraph.text.vectors import keyed_vectors, save_vectors

EN = keyed_vectors(["hôtel", "the", "l", "cat"], np.array([[1, 0], [0, 1], [3, 3], [2, 2]], np.float32))
FR = keyed_vectors(["hôtel", "chat"], np.array([[-1, 0], [5, 5]], np.float32))


def test_documents_are_the_mean_of_their_known_words():
    corpus = Corpus.from_docs([Doc("The CAT, the dog", "en"), Doc("Le chat", "fr"), Doc("?!", "en"),
                               Doc("Hôtel", "fr")])
    got = document_vectors({"en": EN, "fr": FR}, corpus)
    np.testing.assert_allclose(got, [[(0 + 2 + 0) / 3, (1 + 2 + 1) / 3], [5, 5], [0, 0], [-1, 0]])
    assert got.dtype == np.float32
    with pytest.raises(XlgraphError, match="no word vectors for it"):
        document_vectors({"en": EN}, corpus)


def test_graph_words_are_looked_up_as_the_vectors_were_trained():
    pairs = [("en", "Hôtel"), ("fr", "hôtel"), ("en", "L'Hôtel"), ("en", "dog"), ("de", "hund"), ("fr", "the")]
    got = word_vectors({"en": EN, "fr": FR}, pairs)
    np.testing.assert_allclose(got, [[1, 0], [-1, 0], [2, 1.5], [0, 0], [0, 0], [0, 0]])
    with pytest.raises(XlgraphError, match="different dimensions"):
        word_vector_features({"en": EN, "de": keyed_vectors(["x"], np.ones((1, 3), np.float32))})


def test_clhg_on_word_vector_features(tmp_path):
    """CLHG with an FT-MLP baseline: its node features default to the same (tiny, hashed) word vectors; on the
    sample's English and Spanish."""
    from xlgraph.config import apply_overrides, demo_config
    from xlgraph.data.readers import load_corpus
    from xlgraph.features.word_vectors import features_from_config
    from xlgraph.methods.clhg import train_and_evaluate
    from xlgraph.text.words import words

    corpus, _ = load_corpus("sample:mtod?langs=en,es")  # Thai would add its word segmenter's start-up time
    listed = []
    for lang in corpus.langs:
        vocab = [w for w, n in Counter(w for t in corpus.text[corpus.lang == lang] for w in words(t)).items() if n > 1]
        vecs = np.stack([np.random.default_rng(zlib.crc32(f"{lang}/{w}".encode())).standard_normal(6) for w in vocab])
        listed.append(f'"{lang}={save_vectors(keyed_vectors(vocab, vecs.astype(np.float32)), tmp_path / f"{lang}.vec")}"')
    cfg = apply_overrides(demo_config(), [
        "data.sources=['sample:mtod?langs=en,es']", "model.arch=mlp", f"embeddings.vectors=[{','.join(listed)}]", "embeddings.mlp.hidden=8", "data.max_train=64",
        "data.max_eval=24", "tokens.max_length=16", "tokens.buckets=(16,)", "train.batch_size=32",
        "train.eval_batch_size=32", "train.epochs=1", "train.lr=3e-3", "clhg.epochs=2", "clhg.words_per_lang=100",
        "clhg.hidden=8", "clhg.batch_size=32"])
    r = train_and_evaluate(cfg, tmp_path / "run")  # a word model.arch: its vectors are the default features
    features = features_from_config(cfg)
    assert r["method"] == "clhg" and r["features"]["dim"] == 6 and r["features"]["source"].startswith("word vectors")
    assert set(r["per_language"]) == {"es"} and r["graph"]["words"] == 200
    assert r["vocabulary"]["coverage"]["en"]["tokens"] > 0  # the baseline's record rides along
    x = np.load(tmp_path / "run" / "node_features.npy")
    assert x.shape == (r["graph"]["documents"] + 200 + 1, 6)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert sum(row.get("model") == "gcn" and "train/loss" in row for row in rows) == 2  # one per epoch
    expected = np.sort(np.round(features.docs(corpus), 4), axis=0)  # the doc rows are the corpus's documents'
    docs = np.round(x[: r["graph"]["documents"]], 4)
    assert all(np.isin(docs[:, j], expected[:, j]).all() for j in range(6))
