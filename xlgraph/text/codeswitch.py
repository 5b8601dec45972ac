"""Code-switching with a bilingual dictionary: the challenge set of the adversarial self-learning paper.

Every word of an (English) text that has a translation in a MUSE dictionary (en -> xx) is replaced by one of its
translations, in place, keeping word order, spacing and punctuation. Which translation a word gets, and (with
`ratio` < 1) whether it is switched at all, is decided once per lower-cased word type by a stable hash of
(seed, word): the same word reads the same everywhere in a run, and in every run and process with that seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from xlgraph.text.dictionary import Dictionary, load_dictionary
from xlgraph.data.corpus import Corpus

__all__ = ["Dictionary", "load_dictionary", "tokenize_words", "translate_word", "CodeSwitchStats", "code_switch",
           "code_switch_corpus"]

WORD = re.compile(r"\w+(?:['\u2019]\w+)*", re.UNICODE)  # letters/digits, inner apostrophes: "don't" is one word


def tokenize_words(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the word tokens of `text`: maximal runs of Unicode letters, digits and
    underscores, joined by inner apostrophes. Everything between them is not a word and is never changed."""
    return [m.span() for m in WORD.finditer(text)]


def _unit(seed: int, purpose: str, word: str) -> float:
    """A stable pseudo-random number in [0, 1) for (seed, purpose, word); Python's hash() is salted per process."""
    digest = hashlib.blake2b(f"{seed}\x00{purpose}\x00{word}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def translate_word(word: str, translations: Sequence[str], *, seed: int = 0, ratio: float = 1.0) -> str | None:
    """What code-switching puts for the lower-cased word type `word`: one of `translations` chosen by a stable
    hash of (seed, word), or None when the word stays as it is. It stays when it has no translation, when the hash
    leaves it out of the `ratio` share of switched types (types switched at a ratio are also switched at any
    larger ratio), or when its only translations are the word itself up to case (MUSE lists many identical pairs;
    the paper replaces words with non-English translations, so those are never chosen over a real one)."""
    real = [t for t in translations if t.lower() != word.lower()]
    if not real or _unit(seed, "switch", word) >= ratio:
        return None
    return real[int(_unit(seed, "pick", word) * len(real))]


@dataclasses.dataclass(frozen=True)
class CodeSwitchStats:
    """How much of a set of texts code-switching changed, counted on lower-cased word types and on word tokens."""

    vocab_size: int
    vocab_replaced: int
    tokens: int
    tokens_replaced: int

    @property
    def vocab_share(self) -> float:
        return self.vocab_replaced / self.vocab_size if self.vocab_size else 0.0

    @property
    def token_share(self) -> float:
        return self.tokens_replaced / self.tokens if self.tokens else 0.0

    def __str__(self) -> str:
        return f"{100 * self.vocab_share:.1f}% of vocabulary / {100 * self.token_share:.1f}% of tokens"


def code_switch(texts: Iterable[str], dictionary: Dictionary, *, seed: int = 0,
                ratio: float = 1.0) -> tuple[list[str], CodeSwitchStats]:
    """Replaces every word token whose lower-cased form the dictionary translates (see `translate_word`) and
    returns the new texts with what was replaced. A token whose first letter is upper case gets its translation
    with the first letter upper-cased; others get the translation as it is. Tokens left as they are (untranslated,
    outside `ratio`, or translated to themselves) are copied verbatim and do not count as replaced."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"ratio must be in [0, 1], got {ratio}")
    choice: dict[str, str | None] = {}  # lower-cased type -> its replacement, decided once
    counts: Counter[str] = Counter()
    out = []
    for text in texts:
        pieces, last = [], 0
        for start, end in tokenize_words(text):
            word = text[start:end]
            key = word.lower()
            if key not in choice:
                choice[key] = translate_word(key, dictionary.get(key, ()), seed=seed, ratio=ratio)
            counts[key] += 1
            new = choice[key]
            if new is None:
                new = word
            elif word[0].isupper():
                new = new[:1].upper() + new[1:]
            pieces += [text[last:start], new]
            last = end
        pieces.append(text[last:])
        out.append("".join(pieces))
    replaced = [key for key in counts if choice[key] is not None]
    stats = CodeSwitchStats(vocab_size=len(counts), vocab_replaced=len(replaced), tokens=sum(counts.values()),
                            tokens_replaced=sum(counts[key] for key in replaced))
    return out, stats


def code_switch_corpus(corpus: Corpus, dictionary: Dictionary, *, lang: str, seed: int = 0,
                       ratio: float = 1.0) -> tuple[Corpus, CodeSwitchStats]:
    """A code-switched copy of `corpus` (meant for English documents and an en -> `lang` dictionary): same
    labels, splits and translation links, texts switched by `code_switch`, language `cs-{lang}`, and ids suffixed
    `/cs-{lang}` so the copy can be concatenated with the original without clashing ids."""
    texts, stats = code_switch(corpus.text.tolist(), dictionary, seed=seed, ratio=ratio)
    code = f"cs-{lang}"
    switched = dataclasses.replace(
        corpus,
        text=np.array(texts, dtype=object),
        lang=np.array([code] * len(corpus), dtype=np.str_),
        doc_id=np.array([f"{i}/{code}" if i else "" for i in corpus.doc_id.tolist()], dtype=np.str_),
    )
    return switched, stats
