"""The CLHG graph of a corpus: document and word nodes, typed doc-word edges, similarity and translation edges,
the ablation switches, and a build of the embedded sample."""

import time

import numpy as np
import pytest

from xlgraph.data.corpus import Corpus, Doc
from xlgraph.errors import XlgraphError
from xlgraph.graph.corpus_graph import GraphOptions, build_corpus_graph, doc_nodes, regex_tokens

DOCS = [
    Doc("Set an alarm, wow!", "en", "alarm", "train", id="e1"),
    Doc("The weather is nice", "en", "weather", "train", id="e2"),
    Doc("Alarm alarm at 7", "en", "alarm", "test", id="e3"),
    Doc("Pon una alarma", "es", "alarm", "test", id="s1", translation_of="e1"),
    Doc("El tiempo", "es", None, "unlabeled", id="s2"),
    Doc("Pon una alarma", "es", None, "unlabeled", id="s3"),  # same text as s1: not a second node
]
# a fake tagger for English: every word is a NOUN except "set" (VERB), "nice" (ADJ), "wow" (INTJ), "is" (AUX)
TAGS = {"set": "VERB", "nice": "ADJ", "wow": "INTJ", "is": "AUX"}


def en_tagger(texts):
    return [[(w, TAGS.get(w.lower(), "NOUN")) for w, _ in doc] for doc in regex_tokens(texts)]


def edge_set(graph, rel, n=None):
    r = graph.graph.edges[rel]
    m = graph.graph.num_edges[rel]
    return {(int(s), int(t)) for s, t in zip(r.senders[:m], r.receivers[:m])}


def test_nodes_relations_and_typed_edges():
    corpus = Corpus.from_docs(DOCS)
    feats = np.eye(6, 4, dtype=np.float32) + 0.1
    g = build_corpus_graph(corpus, GraphOptions(knn=1), doc_features=feats, tokenize={"en": en_tagger})
    assert g.doc_rows.tolist() == [0, 1, 2, 3, 4]  # s3 duplicates s1's text
    words = dict(((lang, w), g.num_docs + j) for j, (lang, w) in enumerate(g.words))
    # stopwords ("an", "the", "is", "at", "una", "el") and tokens without letters ("7") are not words
    assert set(words) == {("en", "set"), ("en", "alarm"), ("en", "wow"), ("en", "weather"), ("en", "nice"),
                          ("es", "pon"), ("es", "alarma"), ("es", "tiempo")}
    assert g.words[0] == ("en", "alarm")  # the most frequent English word comes first
    assert set(g.graph.relations) == {"word:VERB", "word:NOUN", "word:INTJ", "word:ADJ", "word", "translation",
                                      "similar"}
    alarm = words["en", "alarm"]
    assert edge_set(g, "word:NOUN") >= {(0, alarm), (alarm, 0), (2, alarm), (alarm, 2)}
    assert len([e for e in edge_set(g, "word:NOUN") if e == (2, alarm)]) == 1  # one edge per (word, doc)
    assert edge_set(g, "word:VERB") == {(0, words["en", "set"]), (words["en", "set"], 0)}
    assert (3, words["es", "alarma"]) in edge_set(g, "word")  # Spanish has no tagger: untyped
    assert edge_set(g, "translation") == {(3, 0), (0, 3)}
    assert all(s < g.num_docs and t < g.num_docs and s != t for s, t in edge_set(g, "similar"))


def test_ablation_switches():
    corpus = Corpus.from_docs(DOCS)
    base = GraphOptions(pos_types=False, similarity=False, translation=False, unlabeled=False)
    g = build_corpus_graph(corpus, base, tokenize={"en": en_tagger})
    assert g.graph.relations == ("word",) and g.num_docs == 4  # word-doc only: no pool, no types
    import dataclasses

    g = build_corpus_graph(corpus, dataclasses.replace(base, translation=True, unlabeled=True))
    assert set(g.graph.relations) == {"word", "translation"} and g.num_docs == 5
    with pytest.raises(ValueError, match="doc_features"):
        build_corpus_graph(corpus, GraphOptions())
    assert doc_nodes(corpus, unlabeled=False).tolist() == [0, 1, 2, 3]


def test_words_per_language_cap_and_sample_build():
    from xlgraph.data.readers import load_corpus

    corpus, _ = load_corpus("sample:mtod")
    feats = np.random.default_rng(0).standard_normal((len(corpus), 16)).astype(np.float32)
    start = time.perf_counter()
    g = build_corpus_graph(corpus, GraphOptions(words_per_lang=300, knn=3), doc_features=feats)
    seconds = time.perf_counter() - start
    langs = [lang for lang, _ in g.words]
    assert {lang: langs.count(lang) for lang in set(langs)} == {"en": 300, "es": 300, "th": 300}
    assert g.graph.num_nodes == g.num_docs + len(g.words) and g.num_docs == len(doc_nodes(corpus))
    assert len(corpus) - g.num_docs < 100  # only repeated texts of the unlabeled pools are merged
    similar = g.graph.num_edges["similar"]
    assert 3 * g.num_docs <= similar <= 6 * g.num_docs  # k = 3 each way, some mutual
    assert seconds < 60


def test_untagged_words_keep_combining_marks():
    # Python's \w alone would cut Thai words at vowel signs (category Mn)
    assert [w for w, _ in regex_tokens(["ตั้งนาฬิกาปลุก 7 โมง, don't"])[0]] == ["ตั้งนาฬิกาปลุก", "7", "โมง", "don't"]


def test_spaceless_languages_are_segmented_or_warned(monkeypatch, caplog):
    from xlgraph.graph import corpus_graph
    from xlgraph.text import pos

    thai = corpus_graph.untagged_tokenizer("th")(["ตั้งนาฬิกาปลุกตอนเจ็ดโมงเช้า"])[0]
    assert len(thai) >= 4 and "".join(w for w, _ in thai) == "ตั้งนาฬิกาปลุกตอนเจ็ดโมงเช้า"
    japanese = corpus_graph.untagged_tokenizer("ja")(["明日の朝アラームをセットして"])[0]
    assert ("アラーム", None) in japanese and len(japanese) >= 6
    assert corpus_graph.untagged_tokenizer("es") is regex_tokens
    monkeypatch.setattr(pos.importlib.util, "find_spec", lambda name: None)  # as if pythainlp were missing
    with caplog.at_level("WARNING", logger="xlgraph"):
        assert corpus_graph.untagged_tokenizer("th") is regex_tokens
    assert "pip install pythainlp" in caplog.text


def test_corpus_graph_save_load_round_trip(tmp_path):
    from xlgraph.graph.corpus_graph import load_corpus_graph, save_corpus_graph

    corpus = Corpus.from_docs(DOCS)
    options = GraphOptions(knn=1, words_per_lang=3)
    g = build_corpus_graph(corpus, options, doc_features=np.eye(6, 4, dtype=np.float32) + 0.1,
                           tokenize={"en": en_tagger})
    save_corpus_graph(g, tmp_path / "g.npz", options)
    back, opts = load_corpus_graph(tmp_path / "g.npz")
    assert opts == options and back.words == g.words and back.doc_rows.tolist() == g.doc_rows.tolist()
    assert back.graph.relations == g.graph.relations
    for r in g.graph.relations:
        for a, b in zip(back.graph.edges[r], g.graph.edges[r]):
            np.testing.assert_array_equal(a, b)
    from xlgraph.graph import hetero

    hetero.save(g.graph, tmp_path / "plain.npz")
    with pytest.raises(XlgraphError, match="corpus layout"):
        load_corpus_graph(tmp_path / "plain.npz")
