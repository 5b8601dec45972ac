"""CLHG graph build time and peak memory (encoding excluded: features are random here), for the MTOD corpus and
a synthetic corpus of N documents (Zipf-distributed words, two languages), untagged (regex words).

    python experiments/bench/graph_build.py --mtod ../shared/data/mtod --synthetic 200000 --dim 768
"""

import argparse
import logging
import resource
import time

import numpy as np

from xlgraph.data.corpus import Corpus, Doc
from xlgraph.data.readers import load_corpus
from xlgraph.graph.corpus_graph import GraphOptions, build_corpus_graph
import xlgraph.graph.corpus_graph as cg_module


def synthetic(n, vocab=50_000, words=20, seed=0):
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, size=(n, words)), vocab) - 1
    names = np.array([f"w{i}" for i in range(vocab)])
    docs = [Doc(" ".join(names[row]), "en" if i % 2 else "xx", None if i % 4 else "a", "train" if i % 2 else "unlabeled")
            for i, row in enumerate(ranks)]
    return Corpus.from_docs(docs)


def timed_build(name, corpus, dim, seed=0):
    feats = np.random.default_rng(seed).standard_normal((len(corpus), dim)).astype(np.float32)
    phases = {}
    knn = cg_module.knn_edges

    def timed_knn(*a, **k):
        t = time.perf_counter()
        out = knn(*a, **k)
        phases["kNN"] = time.perf_counter() - t
        return out

    cg_module.knn_edges = timed_knn
    t0 = time.perf_counter()
    g = build_corpus_graph(corpus, GraphOptions(), doc_features=feats)
    total = time.perf_counter() - t0
    cg_module.knn_edges = knn
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    edges = sum(g.graph.num_edges.values())
    print(f"{name:28} {len(corpus):>8} docs {len(g.words):>6} words {edges:>9} edges   build {total:6.1f} s "
          f"(kNN {phases.get('kNN', 0):5.1f} s, dim {dim})   peak RSS {rss:5.1f} GiB")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mtod", default="../shared/data/mtod")
    p.add_argument("--synthetic", type=int, default=200_000)
    p.add_argument("--dim", type=int, default=768)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.mtod:
        corpus, _ = load_corpus(f"mtod:{args.mtod}")
        timed_build("MTOD (en, es, th)", corpus, args.dim)
    if args.synthetic:
        timed_build(f"synthetic", synthetic(args.synthetic), args.dim)


if __name__ == "__main__":
    main()
