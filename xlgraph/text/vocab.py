"""The one word vocabulary of the library: which words of which languages get a row of an embedding table, the
table's initial values, and the word tokenization that reads text into it.

    row 0                         padding (zeros)
    row offset[lang]              `lang`'s unknown word
    rows offset[lang] + 1 + i     `lang`'s i-th word

A row is a (language, word) pair, so the same string in two languages is two rows and each language has its own
unknown word; a *shared* vocabulary (`build_vocab(shared=True)`, the deep CNN paper's setting) instead has one
block, `ANY`, that every language reads, so an unseen language meets only the strings it shares with the training
text. A language's words come from its texts (seen `min_count` times or more; with `vectors_only`, only those with
a vector; with `max_words`, the most frequent of them) and, with `vector_words`, from the first (most frequent)
words of its vectors file whether or not the texts have them, which is what lets a language without training text
be read. Words with a vector come first, in the file's order, then the others, most frequent first. Rows with a
vector start as it; every other row but padding starts as the caller's `fill` (zeros for the frozen word models,
where an unknown word then adds nothing to a mean; random for the deep CNN, which trains its table).

Words are split as `xlgraph.text.words` splits them for training the vectors (NFKC, lower case, maximal runs of
letters, marks and numbers; everything else dropped), here with `tokenizers` (a WordLevel model per language, the
same normaliser, a Split pre-tokeniser) so a corpus is tokenized in Rust. The two agree token for token on every
document of ../shared/data/xlmt_umsab_sentiment and the MTOD sample (tests/test_vocab.py).

HAN layout (`words_per_sentence` W > 0): a document is cut into sentences after . ! ? … (and their full-width
forms) followed by whitespace, and at line breaks; a sentence longer than W words continues in the next slot; slot
s holds columns [s·W, (s+1)·W), the first max_length / W slots are kept, padding fills each slot's end.

The vocabulary of a run is saved as JSON (`vocab.json`: languages, words, dimension); the checkpoint holds the
table itself, so `xlgraph eval` rebuilds the ids from the JSON and the weights from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tokenizers
from gensim.models import KeyedVectors
from tokenizers import Regex, models, normalizers, pre_tokenizers

from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import DataError, XlgraphError
from xlgraph.text.words import words as split_words

log = logging.getLogger("xlgraph")

UNKNOWN = "[UNK]"  # brackets never survive the pre-tokeniser, so no word can collide with it
ANY = "*"  # the one block of a shared vocabulary, read by every language (no word is "*": not a letter)
_NON_WORD = r"[^\p{L}\p{M}\p{N}]+"  # the complement of xlgraph.text.words' word pattern
SENTENCE_END = re.compile(r"(?<=[.!?…。！？])\s+|[\r\n]+")
FORMAT = 1


def word_tokenizer(words: Sequence[str]) -> tokenizers.Tokenizer:
    """A tokenizer whose id 0 is the unknown word and id i + 1 is `words[i]`."""
    vocab = {UNKNOWN: 0, **{w: i + 1 for i, w in enumerate(words)}}
    if len(vocab) != len(words) + 1:
        raise XlgraphError("a word list holds a word twice")
    tok = tokenizers.Tokenizer(models.WordLevel(vocab, unk_token=UNKNOWN))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(_NON_WORD), behavior="removed")
    return tok


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (see the module docstring), blank ones left out."""
    return [s for s in SENTENCE_END.split(text) if s.strip()]


@dataclasses.dataclass(frozen=True)
class Coverage:
    """Corpus tokens of one language, and how many of them fall on its unknown row (no vector, or not kept)."""

    tokens: int
    unknown: int

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict:
        return {"tokens": self.tokens, "unknown": self.unknown, "unknown_share": round(self.unknown_share, 5)}


@dataclasses.dataclass(frozen=True, eq=False)
class WordVocab:
    words: dict[str, tuple[str, ...]]  # per language (or ANY alone: shared), in table order
    dim: int  # the vectors' dimension; 0 without vectors (the model sizes its own table)
    table: np.ndarray | None = None  # (size, dim) float32; None without vectors, or rebuilt from vocab.json
    sources: dict[str, str] = dataclasses.field(default_factory=dict)  # vectors file per language, for the record
    _cache: dict = dataclasses.field(default_factory=dict, repr=False)  # tokenizers and word indices, built on use

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(self.words)

    @property
    def shared(self) -> bool:
        return ANY in self.words

    def _block(self, lang: str) -> str:
        return ANY if self.shared else lang

    @functools.cached_property
    def offsets(self) -> dict[str, int]:
        """Row of each language's unknown word; its words follow."""
        out, row = {}, 1
        for lang, words in self.words.items():
            out[lang] = row
            row += 1 + len(words)
        return out

    @property
    def size(self) -> int:
        return 1 + sum(1 + len(w) for w in self.words.values())

    def row(self, lang: str, word: str) -> int:
        """The table row of `word` (already normalised) in `lang`; the language's unknown row if it has none."""
        lang = self._block(lang)
        return self.offsets[lang] + self._index(lang).get(word, 0)

    def _index(self, lang: str) -> dict[str, int]:
        if lang not in self._cache:
            self._cache[lang] = {w: i + 1 for i, w in enumerate(self.words[lang])}
        return self._cache[lang]

    def tokenizer(self, lang: str) -> tokenizers.Tokenizer:
        lang = self._block(lang)
        if lang not in self.words:
            raise XlgraphError(f"no word vectors for language {lang!r} (vocabulary languages: "
                               f"{', '.join(self.langs)}); add embeddings.vectors {lang}=PATH")
        if (lang, "tokenizer") not in self._cache:
            self._cache[lang, "tokenizer"] = word_tokenizer(self.words[lang])
        return self._cache[lang, "tokenizer"]

    def encode(self, texts: Sequence[str], langs: Sequence[str]) -> list[np.ndarray]:
        """Table rows of every word of every text (its language's unknown row for a word it does not have)."""
        texts = list(texts)
        blocks = np.full(len(texts), ANY) if self.shared else np.asarray(langs)
        out: list[np.ndarray] = [np.zeros(0, np.int32)] * len(texts)
        for block in dict.fromkeys(blocks.tolist()):
            where = np.flatnonzero(blocks == block)
            encoded = self.tokenizer(block).encode_batch([texts[i] for i in where], add_special_tokens=False)
            offset = self.offsets[block]
            for i, enc in zip(where, encoded):
                out[i] = np.asarray(enc.ids, np.int32) + offset
        return out

    def coverage(self, texts: Sequence[str], langs: Sequence[str]) -> dict[str, Coverage]:
        """Per language: corpus tokens and those that fall on the unknown row."""
        langs = np.asarray(langs)
        ids = self.encode(texts, langs)
        out = {}
        for lang in dict.fromkeys(langs.tolist()):
            rows = [ids[i] for i in np.flatnonzero(langs == lang)]
            flat = np.concatenate(rows) if rows else np.zeros(0, np.int32)
            out[lang] = Coverage(int(flat.size), int(np.sum(flat == self.offsets[self._block(lang)])))
        return out

    def tokenize(self, texts: Sequence[str], langs: Sequence[str], max_length: int, *,
                 words_per_sentence: int = 0) -> Tokenized:
        """Fixed-width ids (pad 0). Flat: the first max_length words. With `words_per_sentence` W: the HAN layout
        of max_length / W sentence slots (the module docstring)."""
        texts = list(texts)
        if len(langs) != len(texts):
            raise XlgraphError(f"{len(texts)} texts but {len(langs)} languages")
        w = words_per_sentence
        if w and max_length % w:
            raise XlgraphError(f"max_length={max_length} is not a whole number of {w}-word sentences")
        ids = np.zeros((len(texts), max_length), np.int32)
        lengths = np.zeros(len(texts), np.int32)
        if not w:
            for i, row in enumerate(self.encode(texts, langs)):
                row = row[:max_length]
                ids[i, :len(row)] = row
                lengths[i] = len(row)
            return Tokenized(ids, lengths, 0, closing_token=False)
        sentences = [split_sentences(t) for t in texts]
        owner = np.repeat(np.arange(len(texts)), [len(s) for s in sentences])
        encoded = self.encode([s for doc in sentences for s in doc], np.asarray(langs)[owner])
        slots = max_length // w
        filled = np.zeros(len(texts), np.int32)
        for i, row in zip(owner, encoded):
            for start in range(0, len(row), w):
                if filled[i] == slots:
                    break
                piece = row[start:start + w]
                ids[i, filled[i] * w: filled[i] * w + len(piece)] = piece
                lengths[i] = filled[i] * w + len(piece)
                filled[i] += 1
        return Tokenized(ids, lengths, 0, closing_token=False, slot=w)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"format": FORMAT, "dim": self.dim, "sources": self.sources,
                                    "words": {lang: list(w) for lang, w in self.words.items()}},
                                   ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def load_vocab(path: str | Path) -> WordVocab:
    """A vocabulary saved by `WordVocab.save` (without its table)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        words = {str(lang): tuple(map(str, w)) for lang, w in data["words"].items()}
        return WordVocab(words, int(data["dim"]), sources=dict(data.get("sources", {})))
    except FileNotFoundError:
        raise DataError(path, None, "missing: the run's word vocabulary") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DataError(path, None, f"not a word vocabulary written by xlgraph ({e})") from None


def build_vocab(texts: Sequence[str], langs: Sequence[str], *, vectors: Mapping[str, KeyedVectors] | None = None,
                min_count: int = 1, max_words: int = 0, vectors_only: bool = False, vector_words: int = 0,
                shared: bool = False, extra_langs: Sequence[str] = (),
                fill: Callable[[tuple[int, int]], np.ndarray] = np.zeros,
                sources: Mapping[str, str] | None = None) -> tuple[WordVocab, dict[str, Coverage]]:
    """The vocabulary of `texts` (each in its language of `langs`) and, given `vectors` (language → KeyedVectors,
    one space, one dimension), its table; returned with the coverage of `texts` per language.

    A language's words follow the module docstring (`min_count`; `vectors_only`; `max_words`, ties broken by table
    order; `vector_words`). Its languages: those with vectors, then those of `texts`, then `extra_langs` (a language
    without a word still gets its unknown row, so it can be read). `shared`: the one block ANY, from all `texts`,
    without vectors. Rows without a vector, unknown rows included, start as `fill((rows, dim))`."""
    texts, langs = list(texts), np.asarray(langs)
    if len(langs) != len(texts):
        raise XlgraphError(f"{len(texts)} texts but {len(langs)} languages")
    vectors = dict(vectors or {})
    if shared and vectors:
        raise XlgraphError("a shared vocabulary takes no word vectors: its strings belong to no one language")
    if vectors_only:
        if not vectors:
            raise XlgraphError("no word vectors given")
        missing = sorted(set(langs.tolist()) - set(vectors))
        if missing:
            raise XlgraphError(f"documents in {', '.join(missing)} but no word vectors for "
                               f"{'it' if len(missing) == 1 else 'them'} (vectors: {', '.join(vectors)})")
    dims = {lang: kv.vector_size for lang, kv in vectors.items()}
    if len(set(dims.values())) > 1:
        raise XlgraphError(f"word vectors of different dimensions cannot share a table: {dims}")
    if shared:
        blocks = {ANY: texts}
    else:
        blocks = {lang: [texts[i] for i in np.flatnonzero(langs == lang)]
                  for lang in dict.fromkeys([*vectors, *langs.tolist(), *extra_langs])}
    words = {block: _choose(Counter(w for t in mine for w in split_words(t)), vectors.get(block),
                            min_count=min_count, max_words=max_words, vectors_only=vectors_only,
                            vector_words=vector_words)
             for block, mine in blocks.items()}
    dim = next(iter(dims.values()), 0)
    vocab = WordVocab(words, dim, _table(words, vectors, dim, fill) if vectors else None, dict(sources or {}))
    return vocab, vocab.coverage(texts, langs)


def _choose(counts: Counter, kv: KeyedVectors | None, *, min_count: int, max_words: int, vectors_only: bool,
            vector_words: int) -> tuple[str, ...]:
    """One language's words in table order: those with a vector in the file's order, then by frequency."""
    index = kv.key_to_index if kv is not None else {}

    def order(w):
        return index.get(w, len(index)), -counts[w], w

    chosen = sorted((w for w, n in counts.items() if n >= min_count and (w in index or not vectors_only)), key=order)
    if max_words and len(chosen) > max_words:
        keep = set(sorted(chosen, key=lambda w: -counts[w])[:max_words])  # a stable sort: ties in table order
        chosen = [w for w in chosen if w in keep]
    if vector_words and kv is not None:
        # only words the tokenizer can produce: a row for "The" or "l'homme" would never be read
        extra = (w for w in kv.index_to_key[:vector_words] if split_words(w) == [w])
        chosen = sorted(set(chosen).union(extra), key=order)
    return tuple(chosen)


def _table(words: Mapping[str, Sequence[str]], vectors: Mapping[str, KeyedVectors], dim: int,
           fill: Callable[[tuple[int, int]], np.ndarray]) -> np.ndarray:
    size = 1 + sum(1 + len(w) for w in words.values())
    table = np.zeros((size, dim), np.float32)
    unset = np.ones(size, bool)
    unset[0] = False  # padding stays zero
    row = 1
    for lang, mine in words.items():
        kv = vectors.get(lang)
        if kv is not None and mine:
            found = np.asarray([kv.key_to_index.get(w, -1) for w in mine])
            hit = np.flatnonzero(found >= 0)
            table[row + 1 + hit] = kv.vectors[found[hit]]
            unset[row + 1 + hit] = False
        row += 1 + len(mine)
    if unset.any():
        table[unset] = np.asarray(fill((int(unset.sum()), dim)), np.float32)
    return table
