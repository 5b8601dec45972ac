import numpy as np
import pytest

from xlgraph.data.corpus import SPLITS, Corpus, Doc


def small():
    return Corpus.from_docs([
        Doc("hello", "en", "pos", "train", id="a"),
        Doc("bye", "en", "neg", "dev", id="b"),
        Doc("hola", "es", "pos", "test", id="c", translation_of="a"),
        Doc("adios", "es", None, "unlabeled"),
    ])


def test_columns():
    c = small()
    assert len(c) == 4 and c.labels == ("neg", "pos") and c.langs == ("en", "es")
    assert c.label.tolist() == [1, 0, 1, -1] and [SPLITS[s] for s in c.split] == ["train", "dev", "test", "unlabeled"]
    assert c.translation.tolist() == [-1, -1, 0, -1]
    assert c.counts()[("es", "unlabeled", None)] == 1


def test_take_remaps_translation_links():
    c = small()
    es = c.where(lang="es")
    assert es.translation.tolist() == [-1, -1]  # the original is not in the subset
    both = c.take(np.array([0, 2]))
    assert both.translation.tolist() == [-1, 0]


def test_fixed_labels_and_errors():
    c = Corpus.from_docs([Doc("x", "en", "b")], labels=["a", "b", "c"])
    assert c.labels == ("a", "b", "c") and c.label.tolist() == [1]
    with pytest.raises(ValueError, match="not in the fixed label set"):
        Corpus.from_docs([Doc("x", "en", "z")], labels=["a"])
    with pytest.raises(ValueError, match="twice"):
        Corpus.from_docs([Doc("x", "en", id="1"), Doc("y", "en", id="1")])
    with pytest.raises(ValueError, match="unknown id"):
        Corpus.from_docs([Doc("x", "en", translation_of="nope")])
    with pytest.raises(ValueError, match="split"):
        Doc("x", "en", split="validation")


def test_concat_merges_label_vocabularies_and_links():
    a = Corpus.from_docs([Doc("x", "en", "b", id="1"), Doc("y", "de", "b", translation_of="1")])
    b = Corpus.from_docs([Doc("z", "fr", "a", id="2"), Doc("w", "fr", "c", translation_of="2")])
    c = Corpus.concat([a, b])
    assert c.labels == ("a", "b", "c") and c.label.tolist() == [1, 1, 0, 2]
    assert c.translation.tolist() == [-1, 0, -1, 2]


def test_docs_round_trip():
    c = small()
    back = Corpus.from_docs(c.docs(), labels=c.labels)
    for name in ("text", "lang", "label", "split", "doc_id", "translation"):
        assert getattr(back, name).tolist() == getattr(c, name).tolist()
