"""The one word vocabulary: table layout and offsets, unknown words, restriction to the corpus, the cap, coverage;
the deep CNN's cases (a vocabulary shared by all languages, min_count, vectors for some languages only, words
taken from a vectors file beyond the corpus, the caller's fill); the HAN sentence layout, batching of word ids (no
closing token, masks with gaps), save/load, and agreement with the word splitter the vectors are trained with."""

import json

import numpy as np
import pytest

from xlgraph.data.batching import make_batch
from xlgraph.data.readers import load_corpus
from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import DataError, XlgraphError
from xlgraph.text.vectors import keyed_vectors
from xlgraph.text.vocab import ANY, build_vocab, load_vocab, split_sentences, word_tokenizer
from xlgraph.text.words import words


def kv(words_, start):
    return keyed_vectors(words_, start + np.arange(2 * len(words_), dtype=np.float32).reshape(-1, 2))


EN = kv(["the", "cat", "dog", "sat", "zebra"], 1)  # rows [1 2], [3 4], [5 6], [7 8], [9 10]
DE = kv(["die", "katze", "the"], -100)  # "the" is a German word too, with its own vector


def vectors_vocab(vectors, texts, langs, **kw):
    """The word models' vocabulary: the corpus's words that have a vector."""
    return build_vocab(texts, langs, vectors=vectors, vectors_only=True, **kw)


def test_layout_offsets_unknown_rows_and_corpus_restriction():
    texts = ["The cat sat on the mat.", "THE DOG!", "Die Katze, the Katze und der Hund"]
    langs = ["en", "en", "de"]
    vocab, coverage = vectors_vocab({"en": EN, "de": DE}, texts, langs)
    assert vocab.words == {"en": ("the", "cat", "dog", "sat"), "de": ("die", "katze", "the")}  # no zebra: unused
    assert vocab.offsets == {"en": 1, "de": 6} and vocab.size == 10 == len(vocab.table)
    np.testing.assert_array_equal(vocab.table[[0, 1, 6]], 0)  # padding and the unknown rows
    np.testing.assert_array_equal(vocab.table[2:6], EN.vectors[:4])
    np.testing.assert_array_equal(vocab.table[7:10], DE.vectors)
    ids = vocab.encode(texts, langs)
    assert ids[0].tolist() == [2, 3, 5, 1, 2, 1]  # the cat sat <unk on> the <unk mat>
    assert ids[1].tolist() == [2, 4]  # lower-cased
    assert ids[2].tolist() == [7, 8, 9, 8, 6, 6, 6]  # German "the" is German row 9, not English row 2
    assert vocab.row("de", "the") == 9 and vocab.row("en", "the") == 2 and vocab.row("de", "mat") == 6
    assert {k: (c.tokens, c.unknown) for k, c in coverage.items()} == {"en": (8, 2), "de": (7, 3)}
    assert coverage["de"].as_dict()["unknown_share"] == pytest.approx(3 / 7, abs=1e-5)


def test_cap_keeps_the_most_frequent_corpus_words():
    texts = ["dog dog dog cat cat zebra the", "zebra zebra dog"]
    vocab, coverage = vectors_vocab({"en": EN}, texts, ["en", "en"], max_words=2)
    assert vocab.words["en"] == ("dog", "zebra")  # 4 and 3 occurrences; kept in the vectors file's order
    np.testing.assert_array_equal(vocab.table[2:], EN.vectors[[2, 4]])
    assert (coverage["en"].tokens, coverage["en"].unknown) == (10, 3)  # cat cat the


def test_errors_name_the_problem():
    with pytest.raises(XlgraphError, match="no word vectors for it"):
        vectors_vocab({"en": EN}, ["hallo"], ["de"])
    with pytest.raises(XlgraphError, match="different dimensions"):
        vectors_vocab({"en": EN, "de": keyed_vectors(["x"], np.ones((1, 3), np.float32))}, ["x"], ["en"])
    vocab, _ = vectors_vocab({"en": EN}, ["cat"], ["en"])
    with pytest.raises(XlgraphError, match="embeddings.vectors fr=PATH"):
        vocab.tokenize(["chat"], ["fr"], 4)


def test_shared_vocabulary_is_read_by_every_language(tmp_path):
    """The deep CNN paper's setting: the training words seen min_count times, one set for all languages, no
    vectors; a language never seen reads the strings it shares with the training text."""
    texts, langs = ["alarm an alarm, an alarm at 7", "Pon una alarma 7"], ["en", "es"]
    vocab, coverage = build_vocab(texts, langs, shared=True, min_count=2)
    assert vocab.words == {ANY: ("alarm", "7", "an")}  # most frequent first, ties alphabetical
    assert vocab.shared and vocab.table is None and vocab.dim == 0 and vocab.offsets == {ANY: 1} and vocab.size == 5
    assert [r.tolist() for r in vocab.encode(["Alarm at 7", "alarma 7"], ["th", "de"])] == [[2, 1, 3], [1, 3]]
    assert {k: (c.tokens, c.unknown) for k, c in coverage.items()} == {"en": (7, 1), "es": (4, 3)}
    back = load_vocab(vocab.save(tmp_path / "vocab.json"))
    assert back.shared and back.tokenize(["alarm 7 x"], ["xx"], 4).ids.tolist() == [[2, 3, 1, 0]]
    with pytest.raises(XlgraphError, match="shared vocabulary takes no word vectors"):
        build_vocab(texts, langs, shared=True, vectors={"en": EN})


def test_vectors_for_some_languages_words_beyond_the_corpus_and_the_callers_fill():
    """The deep CNN with vectors: corpus words are kept with or without a vector, a vectors file adds its first
    words (those the tokenizer can produce), a language without text or vectors still gets its unknown row, and
    every row without a vector (unknown rows included, padding not) comes from `fill`."""
    en = kv(["the", "l'homme", "Dog", "cat", "dog"], 1)  # rows [1 2], [3 4], [5 6], [7 8], [9 10]
    shapes = []

    def fill(shape):
        shapes.append(shape)
        return np.full(shape, 7.0)

    texts, langs = ["The mouse and the dog and a mouse", "Katze katze Hund"], ["en", "de"]
    vocab, coverage = build_vocab(texts, langs, vectors={"en": en}, min_count=2, vector_words=4, extra_langs=["th"],
                                  fill=fill)
    # en: the (vector), cat (one of the file's first 4; "l'homme" and "Dog" can never be read), then and, mouse
    assert vocab.words == {"en": ("the", "cat", "and", "mouse"), "de": ("katze",), "th": ()}
    assert vocab.offsets == {"en": 1, "de": 6, "th": 8} and vocab.size == 9 == len(vocab.table)
    np.testing.assert_array_equal(vocab.table[[0, 2, 3]], [[0, 0], [1, 2], [7, 8]])
    assert shapes == [(6, 2)] and np.all(vocab.table[[1, 4, 5, 6, 7, 8]] == 7.0)
    ids = vocab.encode(["the dog a mouse", "Katze hund", "อะไร"], ["en", "de", "th"])
    assert [r.tolist() for r in ids] == [[2, 1, 1, 5], [7, 6], [8]]
    assert {k: (c.tokens, c.unknown) for k, c in coverage.items()} == {"en": (8, 2), "de": (3, 1)}


def test_flat_tokenization_truncates_without_a_closing_token():
    vocab, _ = vectors_vocab({"en": EN}, ["the cat sat", "dog"], ["en", "en"])
    tok = vocab.tokenize(["the cat sat the dog", "dog", ""], ["en"] * 3, 4)
    assert tok.ids.tolist() == [[2, 3, 5, 2], [4, 0, 0, 0], [0, 0, 0, 0]]
    assert tok.lengths.tolist() == [4, 1, 0] and tok.pad_id == 0 and not tok.closing_token and tok.slot == 0
    batch = make_batch(tok, None, 2, np.array([0, 1, -1]))  # a shorter bucket: the first words, nothing moved
    assert batch["input_ids"].tolist() == [[2, 3], [4, 0], [0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1], [1, 0], [0, 0]]
    encoder = Tokenized(np.array([[101, 7, 8, 9, 102]]), np.array([5]), 0)  # the encoder path keeps [SEP]
    assert make_batch(encoder, None, 3, np.array([0]))["input_ids"].tolist() == [[101, 7, 102]]


def test_sentence_split_rule():
    assert split_sentences("Great day!!! Love it. e.g. no?\nnew line  ") == ["Great day!!!", "Love it.", "e.g.",
                                                                            "no?", "new line  "]
    assert split_sentences("3.5 stars…fine") == ["3.5 stars…fine"]  # no space after: one sentence
    assert split_sentences(" \n ") == []


def test_han_layout_slots_wrapping_and_masks():
    vocab, _ = vectors_vocab({"en": EN}, ["the cat sat dog"], ["en"])
    texts = ["The cat sat. Dog!", "the cat sat the dog the. cat", "dog. dog. dog. dog. dog."]
    tok = vocab.tokenize(texts, ["en"] * 3, 9, words_per_sentence=3)  # 3 slots of 3 words
    assert tok.slot == 3 and not tok.closing_token
    assert tok.ids.tolist() == [[2, 3, 5, 4, 0, 0, 0, 0, 0],
                                [2, 3, 5, 2, 4, 2, 3, 0, 0],  # a 6-word sentence fills two slots
                                [4, 0, 0, 4, 0, 0, 4, 0, 0]]  # only 3 of 5 sentences fit
    assert tok.lengths.tolist() == [4, 7, 7]
    batch = make_batch(tok, None, 6, np.array([2, 0, 1]))  # a 2-slot bucket: whole sentences dropped
    assert batch["input_ids"].tolist() == [[4, 0, 0, 4, 0, 0], [2, 3, 5, 4, 0, 0], [2, 3, 5, 2, 4, 2]]
    assert batch["attention_mask"].tolist() == [[1, 0, 0, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]
    with pytest.raises(XlgraphError, match="whole number of 3-word sentences"):
        vocab.tokenize(texts, ["en"] * 3, 8, words_per_sentence=3)


def test_save_and_load_rebuild_the_same_ids(tmp_path):
    texts, langs = ["The cat sat", "die Katze the"], ["en", "de"]
    vocab, _ = vectors_vocab({"en": EN, "de": DE}, texts, langs, sources={"en": "a.vec", "de": "b.vec"})
    path = vocab.save(tmp_path / "vocab.json")
    back = load_vocab(path)
    assert back.table is None and back.dim == 2 and back.words == vocab.words and back.sources["de"] == "b.vec"
    assert back.size == vocab.size and back.offsets == vocab.offsets
    np.testing.assert_array_equal(back.tokenize(texts, langs, 5).ids, vocab.tokenize(texts, langs, 5).ids)
    with pytest.raises(DataError, match="missing"):
        load_vocab(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text(json.dumps({"format": 1, "dim": 2}))
    with pytest.raises(DataError, match=r"bad\.json: not a word vocabulary"):
        load_vocab(tmp_path / "bad.json")


def test_tokenizer_splits_as_the_vectors_were_trained(shared_data):
    """Token for token the same as `text.words.words` (what vectors are trained on), on the MTOD sample (en, es,
    Thai script) and the XLM-T tweets of the six languages the experiments use."""
    corpus, _ = load_corpus("sample:mtod")
    texts = list(corpus.text[::3])
    xlmt, _ = load_corpus(f"xlmt:{shared_data('xlmt_umsab_sentiment')}?langs=en,de,fr,es,it,pt&splits=train")
    texts += list(xlmt.text[::4])
    vocabulary = sorted({w for t in texts for w in words(t)})
    tok = word_tokenizer(vocabulary)
    for text, enc in zip(texts, tok.encode_batch(texts, add_special_tokens=False)):
        assert [vocabulary[i - 1] for i in enc.ids] == words(text), text
