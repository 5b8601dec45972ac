"""One embedding table over several languages' word vectors, and the word tokenization that reads text into it.

    row 0                         padding (zeros)
    row offset[lang]              `lang`'s unknown word (zeros: with a frozen table an unknown word adds nothing to
                                  a mean; unfrozen, each language learns its own unknown-word vector)
    rows offset[lang] + 1 + i     `lang`'s i-th word, in the order of its vectors file

Mono mode builds it from one language's own vectors, multi mode from every language's aligned vectors: the same
string in two languages is two rows. Only words that occur in the corpus are kept (optionally the `max_words` most
frequent per language), so the table stays the size of the task, not of the vector files.

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
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import tokenizers
from gensim.models import KeyedVectors
from tokenizers import Regex, models, normalizers, pre_tokenizers

from xlgraph.data.tokenize import Tokenized
from xlgraph.errors import DataError, XlgraphError

log = logging.getLogger("xlgraph")

UNKNOWN = "[UNK]"  # brackets never survive the pre-tokeniser, so no word can collide with it
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
    """Corpus tokens of one language, and how many of them have no vector."""

    tokens: int
    unknown: int

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0

    def as_dict(self) -> dict:
        return {"tokens": self.tokens, "unknown": self.unknown, "unknown_share": round(self.unknown_share, 5)}


@dataclasses.dataclass(frozen=True, eq=False)
class WordVocab:
    words: dict[str, tuple[str, ...]]  # per language, in table order
    dim: int
    table: np.ndarray | None = None  # (size, dim) float32; None when rebuilt from vocab.json (weights: checkpoint)
    sources: dict[str, str] = dataclasses.field(default_factory=dict)  # vectors file per language, for the record
    _cache: dict = dataclasses.field(default_factory=dict, repr=False)  # tokenizers and word indices, built on use

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(self.words)

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
        return self.offsets[lang] + self._index(lang).get(word, 0)

    def _index(self, lang: str) -> dict[str, int]:
        if lang not in self._cache:
            self._cache[lang] = {w: i + 1 for i, w in enumerate(self.words[lang])}
        return self._cache[lang]

    def tokenizer(self, lang: str) -> tokenizers.Tokenizer:
        if lang not in self.words:
            raise XlgraphError(f"no word vectors for language {lang!r} (vocabulary languages: "
                               f"{', '.join(self.langs)}); add embeddings.vectors {lang}=PATH")
        if (lang, "tokenizer") not in self._cache:
            self._cache[lang, "tokenizer"] = word_tokenizer(self.words[lang])
        return self._cache[lang, "tokenizer"]

    def encode(self, texts: Sequence[str], langs: Sequence[str]) -> list[np.ndarray]:
        """Table rows of every word of every text (its language's unknown row for a word without a vector)."""
        texts, langs = list(texts), np.asarray(langs)
        out: list[np.ndarray] = [np.zeros(0, np.int32)] * len(texts)
        for lang in dict.fromkeys(langs.tolist()):
            where = np.flatnonzero(langs == lang)
            encoded = self.tokenizer(lang).encode_batch([texts[i] for i in where], add_special_tokens=False)
            offset = self.offsets[lang]
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
            out[lang] = Coverage(int(flat.size), int(np.sum(flat == self.offsets[lang])))
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
        path.write_text(json.dumps({"format": FORMAT, "dim": self.dim, "unknown": "zeros", "sources": self.sources,
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


def build_vocab(vectors: Mapping[str, KeyedVectors], texts: Sequence[str], langs: Sequence[str], *,
                max_words: int = 0, sources: Mapping[str, str] | None = None) -> tuple[WordVocab, dict[str, Coverage]]:
    """The joint vocabulary and table of `vectors` (language → KeyedVectors, one dimension), restricted to the words
    of `texts` (each in its language of `langs`); with `max_words`, each language's most frequent ones in the texts
    (ties: the vectors file's order). Returns it with the coverage of the texts per language."""
    if not vectors:
        raise XlgraphError("no word vectors given")
    dims = {lang: kv.vector_size for lang, kv in vectors.items()}
    if len(set(dims.values())) != 1:
        raise XlgraphError(f"word vectors of different dimensions cannot share a table: {dims}")
    dim = next(iter(dims.values()))
    langs = np.asarray(langs)
    texts = list(texts)
    missing = sorted(set(langs.tolist()) - set(vectors))
    if missing:
        raise XlgraphError(f"documents in {', '.join(missing)} but no word vectors for "
                           f"{'it' if len(missing) == 1 else 'them'} (vectors: {', '.join(vectors)})")
    words, rows = {}, []
    for lang, kv in vectors.items():
        mine = [texts[i] for i in np.flatnonzero(langs == lang)]
        full = word_tokenizer(kv.index_to_key)
        counts = np.zeros(len(kv) + 1, np.int64)
        for enc in full.encode_batch(mine, add_special_tokens=False):
            counts += np.bincount(np.asarray(enc.ids, np.int64), minlength=len(counts))
        seen = np.flatnonzero(counts[1:]) + 1
        if max_words and len(seen) > max_words:
            seen = np.sort(seen[np.argsort(-counts[seen], kind="stable")[:max_words]])
        words[lang] = tuple(kv.index_to_key[i - 1] for i in seen)
        rows.append(np.asarray(kv.vectors[seen - 1], np.float32).reshape(len(seen), dim))
    table = np.zeros((1 + sum(1 + len(w) for w in words.values()), dim), np.float32)
    row = 1
    for block in rows:
        table[row + 1: row + 1 + len(block)] = block
        row += 1 + len(block)
    vocab = WordVocab(words, dim, table, dict(sources or {}))
    return vocab, vocab.coverage(texts, langs)
