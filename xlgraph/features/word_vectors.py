"""(Aligned) word vectors as CLHG node features (`features.source.Features`), the composition of the multilingual
embeddings method with the graph method: a document is the mean of its words' vectors (words without a vector left
out, zeros when none has one), a (language, word) node its word's vector (zeros when the language has none).

Documents are split as the vectors were trained (`text.vocab`, i.e. `text.words`). Graph words come from the
graph's own tokenizer (spaCy or a regex), so one may hold several of ours ("l'hôtel"): it is looked up whole after
the same normalisation, else as the mean of its parts that have vectors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
from gensim.models import KeyedVectors

from xlgraph.config import ConfigDict
from xlgraph.data.corpus import Corpus
from xlgraph.errors import XlgraphError
from xlgraph.features.source import Features
from xlgraph.text.vocab import build_vocab
from xlgraph.text.words import normalize, words

log = logging.getLogger("xlgraph")


def document_vectors(vectors: Mapping[str, KeyedVectors], corpus: Corpus) -> np.ndarray:
    """(len(corpus), dim) float32: each document's mean known-word vector (zeros for a document without one)."""
    vocab, coverage = build_vocab(corpus.text, corpus.lang, vectors=vectors, vectors_only=True)  # unknown rows: zeros
    for lang, c in coverage.items():
        log.info("word-vector features %s: %d tokens, %.1f%% without a vector", lang, c.tokens, 100 * c.unknown_share)
    ids = vocab.encode(corpus.text, corpus.lang)
    unknown = np.asarray(list(vocab.offsets.values()))
    doc = np.repeat(np.arange(len(ids)), [len(r) for r in ids])
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    known = ~np.isin(flat, unknown)
    out = np.zeros((len(ids), vocab.dim), np.float64)
    np.add.at(out, doc[known], vocab.table[flat[known]])
    counts = np.bincount(doc[known], minlength=len(ids))
    return (out / np.maximum(counts, 1)[:, None]).astype(np.float32)


def word_vectors(vectors: Mapping[str, KeyedVectors], pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """(len(pairs), dim) float32: the vector of each (language, word), zeros when there is none."""
    dim = next(iter(vectors.values())).vector_size
    out = np.zeros((len(pairs), dim), np.float32)
    for i, (lang, word) in enumerate(pairs):
        kv = vectors.get(lang)
        if kv is None:
            continue
        whole = normalize(word)
        if whole in kv.key_to_index:
            out[i] = kv[whole]
            continue
        parts = [kv[w] for w in words(word) if w in kv.key_to_index]
        if parts:
            out[i] = np.mean(parts, axis=0)
    return out


def word_vector_features(vectors: Mapping[str, KeyedVectors], name: str = "word vectors") -> Features:
    """CLHG node features from `vectors` (language → KeyedVectors, one space, one dimension)."""
    if not vectors:
        raise XlgraphError("no word vectors given")
    dims = {lang: kv.vector_size for lang, kv in vectors.items()}
    if len(set(dims.values())) != 1:
        raise XlgraphError(f"word vectors of different dimensions cannot share a feature space: {dims}")

    def docs(corpus: Corpus) -> np.ndarray:
        return document_vectors(vectors, corpus)

    def word_rows(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        found = word_vectors(vectors, pairs)
        missing = int(np.sum(~found.any(axis=1)))
        if missing:
            log.info("word-vector features: %d of %d graph words have no vector (zero features)", missing, len(pairs))
        return found

    return Features(docs=docs, words=word_rows, name=name)


def features_from_config(cfg: ConfigDict) -> Features:
    """`word_vector_features` of every language in embeddings.vectors ("lang=PATH"), whatever the classifier's
    embeddings.mode."""
    from xlgraph.text.vectors import load_vectors, parse_vector_paths

    paths = parse_vector_paths(list(cfg.embeddings.vectors))
    if not paths:
        raise XlgraphError('word-vector features read embeddings.vectors: set it, e.g. '
                           '\'embeddings.vectors=["en=runs/vectors/procrustes/en.vec"]\'')
    return word_vector_features({lang: load_vectors(p) for lang, p in paths.items()},
                                name=f"word vectors ({', '.join(f'{k}={v}' for k, v in paths.items())})")
