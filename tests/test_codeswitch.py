import gzip

import numpy as np
import pytest

from xlgraph.data.corpus import SPLITS, Corpus, Doc
from xlgraph.errors import DataError
from xlgraph.text.codeswitch import (CodeSwitchStats, code_switch, code_switch_corpus, load_dictionary,
                                     tokenize_words, translate_word)

SMALL = {"the": ("le",), "cat": ("chat",), "sat": ("sat",), "on": ("sur",), "mat": ("tapis",), "dog": ("chien",),
         "café": ("Kaffee",)}
DOG = ("chien", "toutou", "cabot", "clebs", "pitou")


def test_exact_output_and_counts():
    texts = ["The cat sat on the mat.", "  the  CAT -- a dog's toy!", "The cat's hat", "Café: 3 cafés", ""]
    out, stats = code_switch(texts, SMALL)
    # spacing and punctuation verbatim; "dog's" and "cat's" are single words the dictionary lacks
    assert out == ["Le chat sat sur le tapis.", "  le  Chat -- a dog's toy!", "Le cat's hat", "Kaffee: 3 cafés", ""]
    # types: the cat sat on mat a dog's toy cat's hat café 3 cafés; "sat" -> "sat" is not a replacement
    assert stats == CodeSwitchStats(vocab_size=13, vocab_replaced=5, tokens=17, tokens_replaced=9)
    assert stats.vocab_share == 5 / 13 and stats.token_share == 9 / 17
    assert str(stats) == "38.5% of vocabulary / 52.9% of tokens"
    assert str(CodeSwitchStats(0, 0, 0, 0)) == "0.0% of vocabulary / 0.0% of tokens"


def test_tokenize_words():
    text = "Don't stop—naïve 42 l’été, x_y!"
    assert [text[s:e] for s, e in tokenize_words(text)] == ["Don't", "stop", "naïve", "42", "l’été", "x_y"]


def test_repeated_words_get_one_translation():
    out, stats = code_switch(["dog Dog DOG dog.", "a dog, the dog"], {"dog": DOG}, seed=3)
    pick = translate_word("dog", DOG, seed=3)
    assert pick is not None
    cap = pick[0].upper() + pick[1:]
    assert out == [f"{pick} {cap} {cap} {pick}.", f"a {pick}, the {pick}"]
    assert (stats.vocab_replaced, stats.tokens_replaced, stats.tokens) == (1, 6, 8)


def test_deterministic_across_runs_and_seeds():
    dictionary = {f"w{i}": tuple(f"t{i}_{j}" for j in range(10)) for i in range(20)}
    texts = [" ".join(dictionary)]
    assert code_switch(texts, dictionary, seed=7) == code_switch(texts, dictionary, seed=7)
    assert code_switch(texts, dictionary, seed=7)[0] != code_switch(texts, dictionary, seed=8)[0]
    # pinned: the choice must not depend on the process (Python's salted hash) nor change silently
    assert [translate_word("dog", DOG, seed=s) for s in range(6)] == ["cabot", "chien", "chien", "pitou", "chien",
                                                                      "toutou"]


def test_ratio_switches_a_consistent_share_of_types():
    dictionary = {f"w{i}": (f"t{i}",) for i in range(200)}
    words = list(dictionary)
    texts = [" ".join(words), " ".join(reversed(words)), " ".join(words[::3])]
    out, stats = code_switch(texts, dictionary, seed=1, ratio=0.5)
    chosen = {w for w in words if translate_word(w, dictionary[w], seed=1, ratio=0.5) is not None}
    assert 70 <= len(chosen) <= 130 and stats.vocab_replaced == len(chosen)
    for text, new in zip(texts, out):
        for old_word, new_word in zip(text.split(), new.split()):
            assert new_word == (dictionary[old_word][0] if old_word in chosen else old_word)
    quarter = {w for w in words if translate_word(w, dictionary[w], seed=1, ratio=0.25) is not None}
    assert quarter < chosen  # a smaller ratio switches a subset of the types
    assert code_switch(texts, dictionary, ratio=0.0)[0] == texts
    assert code_switch(texts, dictionary, ratio=1.0)[1].vocab_share == 1.0
    with pytest.raises(ValueError, match="ratio"):
        code_switch(texts, dictionary, ratio=1.5)


def test_load_dictionary(tmp_path):
    body = "the le\nthe la\n\nthe le\ncat\tchat\nhotel hotel\n"
    plain, packed = tmp_path / "en-fr.txt", tmp_path / "en-fr.txt.gz"
    plain.write_text(body, encoding="utf-8")
    packed.write_bytes(gzip.compress(body.encode()))
    expected = {"the": ("le", "la"), "cat": ("chat",), "hotel": ("hotel",)}
    assert load_dictionary(plain) == expected and load_dictionary(packed) == expected


@pytest.mark.parametrize("content, line", [(b"a b\n\nc d\nbad line here\n", 4), (b"a b\nlonely\n", 2),
                                           (b"a b\nc \xff\xfe\n", 2)])
def test_malformed_dictionary_lines(tmp_path, content, line):
    path = tmp_path / "en-xx.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_dictionary(path)
    err = info.value
    assert err.line == line and err.path == str(path)
    assert str(err) == f"{path}:{line}: {err.problem}" and len(str(err).splitlines()) == 1


def test_code_switch_corpus():
    corpus = Corpus.from_docs([Doc("The cat", "en", "pos", "dev", id="a"), Doc("on the mat", "en", "neg", "test"),
                               Doc("the dog", "en", None, "unlabeled", id="c", translation_of="a")])
    switched, stats = code_switch_corpus(corpus, SMALL, lang="fr")
    assert switched.text.tolist() == ["Le chat", "sur le tapis", "le chien"]
    assert switched.lang.tolist() == ["cs-fr"] * 3 and switched.doc_id.tolist() == ["a/cs-fr", "", "c/cs-fr"]
    assert switched.labels == corpus.labels and switched.label.tolist() == corpus.label.tolist()
    assert [SPLITS[s] for s in switched.split] == ["dev", "test", "unlabeled"]
    assert switched.translation.tolist() == [-1, -1, 0]
    assert (stats.tokens, stats.tokens_replaced) == (7, 7)
    both = Corpus.from_docs([*corpus.docs(), *switched.docs()])  # ids stay unique beside the original
    assert len(both) == 6 and corpus.text.tolist() == ["The cat", "on the mat", "the dog"]


@pytest.mark.parametrize("lang", ["es", "de"])
def test_real_muse_dictionary_on_mtod(shared_data, lang):
    from xlgraph.data.readers import load_corpus

    dictionary = load_dictionary(shared_data("muse_dicts") / f"full/en-{lang}.txt.gz")
    assert len(dictionary) > 10_000 and all(dictionary.values())
    corpus, _ = load_corpus("sample:mtod")
    dev = corpus.where(lang="en", split="dev")
    switched, stats = code_switch_corpus(dev, dictionary, lang=lang)
    print(f"\nen->{lang} on {len(dev)} MTOD dev utterances: {stats} "
          f"({stats.vocab_replaced}/{stats.vocab_size} types, {stats.tokens_replaced}/{stats.tokens} tokens)")
    print("  e.g.", dev.text[0], "->", switched.text[0])
    assert 0.2 <= stats.token_share <= 0.9 and 0.1 <= stats.vocab_share <= 0.9
    assert np.array_equal(switched.label, dev.label) and set(switched.lang.tolist()) == {f"cs-{lang}"}


def test_a_real_translation_is_preferred_over_the_word_itself():
    assert {translate_word("make", ("make", "hacer", "Make"), seed=s) for s in range(20)} == {"hacer"}
    assert translate_word("hotel", ("Hotel", "hotel"), seed=0) is None  # nothing but itself: stays English
