"""The CLHG graph of a corpus: document nodes, word nodes per language, and typed relations.

Nodes: documents first (rows `doc_rows` of the corpus), then words, one node per (language, word) — the same
string in two languages is two nodes. Relations (all symmetric, normalised per relation by `hetero.build`):

    word:POS     document ↔ word, one edge per (unique word, document), typed by the word's UPOS in that
                 document (its first occurrence); `word` alone when untyped (no tagger, or pos_types off)
    similar      each document ↔ its k most cosine-similar other documents (features of the fine-tuned encoder)
    translation  a document ↔ its translation, when the corpus links them

Words per language: the `words_per_lang` most frequent after dropping tokens without a letter, the language's
stopwords (spaCy's lists; one list per language, never shared or mutated) and, when tagged, tokens whose UPOS
is not in CONTENT_POS. Switches reproduce the paper's ablations (Table 4): word-doc only (pos_types, similarity,
translation and unlabeled off), + POS types, + translation, + similarity, + unlabeled documents.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from xlgraph.data.corpus import SPLITS, Corpus
from xlgraph.graph import hetero
from xlgraph.graph.knn import knn_edges
from xlgraph.errors import XlgraphError
from xlgraph.progress import progress
from xlgraph.text.pos import CONTENT_POS, segmenter

SEGMENTED = ("ja", "th")  # written without spaces between words

log = logging.getLogger("xlgraph")

Tokens = list[tuple[str, str | None]]  # (word, UPOS or None) per token


@functools.cache
def _word_pattern() -> re.Pattern:
    """Runs of word characters *and combining marks* (Python's \\w leaves out marks such as Thai vowel signs, so
    it would cut words apart), with inner apostrophes."""
    marks = "".join(re.escape(chr(c)) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M")
    word = f"[\\w{marks}]+"
    return re.compile(f"{word}(?:['’]{word})*")


@dataclasses.dataclass(frozen=True)
class GraphOptions:
    words_per_lang: int = 10_000
    knn: int = 3
    knn_method: str = "exact"  # or "ivf": approximate, for corpora where O(N²) is too slow (see graph/knn.py)
    knn_probes: int = 8
    pos_types: bool = True
    similarity: bool = True
    translation: bool = True
    unlabeled: bool = True


@dataclasses.dataclass(frozen=True)
class CorpusGraph:
    graph: hetero.HeteroGraph
    doc_rows: np.ndarray  # corpus row of document node i
    words: tuple[tuple[str, str], ...]  # (language, word) of word node num_docs + j

    @property
    def num_docs(self) -> int:
        return len(self.doc_rows)


def save_corpus_graph(cg: CorpusGraph, path, options: GraphOptions) -> None:
    """One .npz (no pickles): the graph, its document rows, its (language, word) nodes and the options."""
    words = np.array(cg.words, dtype=str).reshape(-1, 2)
    hetero.save(cg.graph, path, extra={"doc_rows": cg.doc_rows, "words": words,
                                      "options": np.array(json.dumps(dataclasses.asdict(options)))})


def load_corpus_graph(path) -> tuple[CorpusGraph, GraphOptions]:
    extra = hetero.load_extra(path)
    if not {"doc_rows", "words", "options"} <= set(extra):
        raise XlgraphError(f"{path}: a graph without the corpus layout (not written by save_corpus_graph)")
    words = tuple((str(lang), str(word)) for lang, word in extra["words"])
    options = GraphOptions(**json.loads(str(extra["options"])))
    return CorpusGraph(hetero.load(path), extra["doc_rows"].astype(np.int64), words), options


def doc_nodes(corpus: Corpus, *, unlabeled: bool = True) -> np.ndarray:
    """Corpus rows that become document nodes: every train/dev/test document, plus the unlabeled pool (without
    documents whose text already appears in the same language)."""
    split = np.asarray(SPLITS)[corpus.split]
    rows = np.flatnonzero(split != "unlabeled")
    if unlabeled:
        seen = {(corpus.lang[i], corpus.text[i]) for i in rows}
        extra = []
        for i in np.flatnonzero(split == "unlabeled"):
            if (key := (corpus.lang[i], corpus.text[i])) not in seen:
                seen.add(key)
                extra.append(i)
        rows = np.concatenate([rows, np.asarray(extra, np.int64)])
    return np.sort(rows)


def regex_tokens(texts: Sequence[str]) -> list[Tokens]:
    """Untagged words: the fallback when a language has no tagger."""
    pattern = _word_pattern()
    return [[(m.group(), None) for m in pattern.finditer(t)] for t in texts]


def untagged_tokenizer(lang: str) -> Callable[[Sequence[str]], list[Tokens]]:
    """Words without tags: `regex_tokens`, except for languages written without spaces between words (Japanese,
    Thai), which get spaCy's segmenter when its optional package is installed (`pip install 'xlgraph[ja]'` /
    `'xlgraph[th]'`) and otherwise a warning: their "words" are then whole runs between spaces."""
    if lang not in SEGMENTED:
        return regex_tokens
    try:
        return segmenter(lang)
    except XlgraphError as e:
        log.warning("%s; until then %r words are runs between spaces (often whole phrases)", e, lang)
        return regex_tokens


def stopwords(lang: str) -> frozenset[str]:
    import spacy.util

    try:
        return frozenset(w.lower() for w in spacy.util.get_lang_class(lang).Defaults.stop_words)
    except Exception:  # noqa: BLE001 - spaCy has no class for this language code
        log.warning("no spaCy stopword list for %r; keeping every word", lang)
        return frozenset()


def keep(word: str, pos: str | None, stop: frozenset[str]) -> bool:
    return any(c.isalpha() for c in word) and word not in stop and (pos is None or pos in CONTENT_POS)


def build_corpus_graph(corpus: Corpus, options: GraphOptions = GraphOptions(), *,
                       doc_features: np.ndarray | None = None,
                       tokenize: Mapping[str, Callable[[Sequence[str]], list[Tokens]]] | None = None,
                       budget: Mapping[str, int] | None = None) -> CorpusGraph:
    """The graph of `corpus` (see the module docstring). `doc_features` (one row per corpus row) give the
    similarity edges; `tokenize[lang]` returns (word, UPOS) tokens — e.g. `lambda t: pos.tag(nlp, t)` —
    and languages without one fall back to untagged words and one untyped doc-word relation, with a warning."""
    rows = doc_nodes(corpus, unlabeled=options.unlabeled)
    tokenize = dict(tokenize or {})
    n_docs = len(rows)
    doc_lang = corpus.lang[rows]
    kept: list[list[tuple[str, str | None]]] = [[] for _ in range(n_docs)]
    words: list[tuple[str, str]] = []
    langs = sorted(set(doc_lang))
    log.info("graph: %d documents in %s; spaCy's stopword lists", n_docs, ", ".join(map(str, langs)))
    stops = {lang: stopwords(lang) for lang in langs}  # spaCy's first import takes seconds
    for lang in langs:
        members = np.flatnonzero(doc_lang == lang)
        if lang not in tokenize:
            log.warning("no POS tagger for %r: its doc-word edges are one untyped relation", str(lang))
        tokens = tokenize.get(lang) or untagged_tokenizer(str(lang))
        tokens = tokens(progress((corpus.text[rows[i]] for i in members), total=len(members),
                                 desc=f"graph: words of the {lang} documents", unit="doc"))
        stop, counts = stops[lang], Counter()
        for i, doc in zip(members, tokens):
            first: dict[str, str | None] = {}
            for word, pos in doc:
                w = word.lower()
                if keep(w, pos, stop):
                    counts[w] += 1
                    first.setdefault(w, pos)
            kept[i] = list(first.items())
        top = sorted(counts, key=lambda w: (-counts[w], w))[: options.words_per_lang]
        words += [(lang, w) for w in top]
    index = {lw: n_docs + j for j, lw in enumerate(words)}
    edges: dict[str, tuple[list[int], list[int]]] = {}
    for i, doc in enumerate(kept):
        for w, pos in doc:
            if (node := index.get((doc_lang[i], w))) is not None:
                rel = f"word:{pos}" if options.pos_types and pos is not None else "word"
                senders, receivers = edges.setdefault(rel, ([], []))
                senders.append(i)
                receivers.append(node)
    arrays = {rel: (np.asarray(s, np.int32), np.asarray(r, np.int32)) for rel, (s, r) in sorted(edges.items())}
    if options.translation:
        original = corpus.translation[rows]
        node_of = np.full(len(corpus), -1, np.int64)
        node_of[rows] = np.arange(n_docs)
        has = (original >= 0) & (node_of[np.maximum(original, 0)] >= 0)
        if has.any():
            arrays["translation"] = (np.flatnonzero(has).astype(np.int32),
                                     node_of[original[has]].astype(np.int32))
    n_nodes = n_docs + len(words)
    if options.similarity and doc_features is None:
        raise ValueError("similarity edges need doc_features (or GraphOptions(similarity=False))")
    counts = {r: 2 * len(s) for r, (s, _) in arrays.items()}
    if options.similarity:
        counts["similar"] = 2 * min(options.knn, max(n_docs - 1, 0)) * n_docs  # as many as knn_edges makes
    dim = doc_features.shape[1] if doc_features is not None else 0
    hetero.check_fits(hetero.estimate_bytes(n_nodes, counts, dim))  # before the kNN pass, the expensive part
    if options.similarity:
        arrays["similar"] = knn_edges(np.asarray(doc_features)[rows], k=min(options.knn, n_docs - 1),
                                      method=options.knn_method, probes=options.knn_probes)
    graph = hetero.build(n_nodes, arrays, symmetric=True, budget=budget)
    log.info("graph: %d documents, %d words, %s", n_docs, len(words),
             ", ".join(f"{r} {graph.num_edges[r]}" for r in graph.relations))
    return CorpusGraph(graph, rows, tuple(words))
