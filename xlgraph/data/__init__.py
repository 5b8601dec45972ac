"""Corpus model, readers named by corpus specs, tokenization and fixed-shape batching."""

from xlgraph.data.corpus import SPLITS, Corpus, Doc
from xlgraph.data.spec import Spec, parse_spec

__all__ = ["SPLITS", "Corpus", "Doc", "Spec", "parse_spec", "load_corpus", "read_docs"]


def __getattr__(name):  # readers import lazily: they pull in optional heavy modules (tfds)
    if name in ("load_corpus", "read_docs"):
        from xlgraph.data import readers

        return getattr(readers, name)
    raise AttributeError(name)
