"""The word tokenizer of everything that looks words up in word vectors or bilingual dictionaries: vectors are
trained on `words(text)` (experiments/embeddings/vectors.py), so a model that reads text through those vectors
must split text the same way, or its words will not be found.

The rule: Unicode NFKC, then lower case; a word is a maximal run of letters, combining marks and numbers (Unicode
categories L, M and N); everything else (whitespace, punctuation including apostrophes, hyphens and underscores,
symbols, emoji) separates words and is dropped. "L'Hôtel-Dieu’s ﬁ²" → ["l", "hôtel", "dieu", "s", "fi2"].
MUSE dictionaries are lower-case and list "homme", not "l'homme", hence apostrophes split. Marks are kept inside
words because Python's \\w leaves most of them out and would cut words of scripts such as Thai or Hindi apart.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata


@functools.cache
def _pattern() -> re.Pattern:
    # [^\W_] is \w without "_": letters and numbers (str.isalnum); marks are added explicitly
    marks = "".join(re.escape(chr(c)) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c))[0] == "M")
    return re.compile(f"(?:[^\\W_]|[{marks}])+")


def normalize(text: str) -> str:
    """NFKC, then lower case: full-width letters, ligatures and superscripts become their plain forms."""
    return unicodedata.normalize("NFKC", text).lower()


def words(text: str) -> list[str]:
    """The words of `text`, in order (see the module docstring for the rule)."""
    return _pattern().findall(normalize(text))
