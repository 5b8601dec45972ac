"""CLHG graph build time and peak memory (encoding excluded: features are synthetic here — topic centroids plus
noise, so neighbours mean something), for the MTOD corpus and a synthetic corpus of N documents
(Zipf-distributed words, two languages), untagged (regex words). With --knn ivf, the recall of the approximate
kNN edges against exact search on 2,000 sampled documents is printed too.

    python experiments/bench/graph_build.py --mtod ../shared/data/mtod --synthetic 200000 --dim 768 [--knn ivf]
"""

import argparse
import logging
import resource
import time

import numpy as np

from xlgraph.config import at_least
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


def features(n, dim, topics=500, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    return centres[rng.integers(0, topics, n)] + rng.standard_normal((n, dim), np.float32)


def recall(feats, receivers, k=3, queries=2000, seed=0):
    """Share of the exact top-k neighbours found, over sampled query rows (exact search by numpy)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(feats), min(queries, len(feats)), replace=False)
    x = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sim = x[rows] @ x.T
    sim[np.arange(len(rows)), rows] = -np.inf
    exact = np.argpartition(-sim, k, axis=1)[:, :k]
    got = receivers.reshape(-1, k)[rows]
    return np.mean([len(set(a) & set(b)) / k for a, b in zip(got, exact)])


def timed_build(name, corpus, dim, knn_method="exact", seed=0):
    feats = features(len(corpus), dim, seed=seed)
    phases = {}
    knn = cg_module.knn_edges

    def timed_knn(*a, **k):
        t = time.perf_counter()
        out = knn(*a, **k)
        phases["kNN"] = time.perf_counter() - t
        phases["edges"] = out[1]
        return out

    cg_module.knn_edges = timed_knn
    t0 = time.perf_counter()
    g = build_corpus_graph(corpus, GraphOptions(knn_method=knn_method), doc_features=feats)
    total = time.perf_counter() - t0
    cg_module.knn_edges = knn
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    edges = sum(g.graph.num_edges.values())
    extra = ""
    if knn_method != "exact":  # documents are graph rows 0..n-1 in corpus order here (no unlabeled duplicates)
        extra = f"   recall@3 {recall(feats[g.doc_rows], phases['edges']):.3f}"
    print(f"{name:28} {len(corpus):>8} docs {len(g.words):>6} words {edges:>9} edges   build {total:6.1f} s "
          f"(kNN {knn_method} {phases.get('kNN', 0):5.1f} s, dim {dim})   peak RSS {rss:5.1f} GiB{extra}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mtod", default="../shared/data/mtod")
    p.add_argument("--synthetic", type=at_least(1), default=200_000)
    p.add_argument("--dim", type=at_least(1), default=768)
    p.add_argument("--knn", choices=("exact", "ivf"), default="exact")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.mtod:
        corpus, _ = load_corpus(f"mtod:{args.mtod}")
        timed_build("MTOD (en, es, th)", corpus, args.dim, args.knn)
    if args.synthetic:
        timed_build("synthetic", synthetic(args.synthetic), args.dim, args.knn)


if __name__ == "__main__":
    main()
