"""Word vectors as gensim KeyedVectors: read and write the usual files, train Word2Vec / FastText, cap vocabularies.

Formats (`FORMATS`; chosen by argument, else by suffix, a trailing ``.gz`` ignored):
  - ``word2vec`` (``.txt``): text, a ``count dim`` header line, then ``word v1 ... vD`` per line. Read here
    rather than by gensim so that a bad line is reported with its number; files without the header (GloVe) are read
    too. Plain or gzipped, recognised by content.
  - ``fasttext`` (``.vec``): the same text format (fastText's ``.vec`` files).
  - ``word2vec-binary`` (``.bin``): the C tool's binary format, read by gensim.
  - ``npy`` (``.npy``): a float32 matrix (``np.save``) plus ``NAME.vocab.txt`` beside it, one word per line in
    row order. Loaded memory-mapped by default, so a 2M-word vocabulary costs no RAM until rows are touched.

Files are expected in frequency order (word2vec, fastText and gensim all write them so): `cap_vocab` and
``limit=`` keep the first words when no counts are known. gensim's own pickle-based ``.kv`` format is not offered
(see the design guide: no pickles unless asked for).
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

from xlgraph.data.readers.io import iter_raw_lines, real_path, without_trailing_blanks
from xlgraph.errors import DataError, XlgraphError

log = logging.getLogger("xlgraph")

FORMATS = ("word2vec", "fasttext", "word2vec-binary", "npy")
_SUFFIXES = {".txt": "word2vec", ".vec": "fasttext", ".bin": "word2vec-binary", ".npy": "npy"}
_TEXT = ("word2vec", "fasttext")
_CHUNK = 4096  # rows formatted per write


def vector_format(path: str | os.PathLike, format: str | None = None) -> str:
    """`format` checked, or the format `path`'s suffix names; an XlgraphError says how to choose when neither does."""
    if format is not None:
        if format not in FORMATS:
            raise XlgraphError(f"unknown vector format {format!r}; known: {', '.join(FORMATS)}")
        return format
    name = Path(path).name
    stem = name[:-3] if name.endswith(".gz") else name
    found = _SUFFIXES.get(Path(stem).suffix)
    if found is None or (found == "npy" and stem != name):
        raise XlgraphError(f"{path}: cannot tell the vector format from the name; give it explicitly (one of "
                           f"{', '.join(FORMATS)}) or use a suffix {', '.join(_SUFFIXES)}")
    return found


def vocab_path(npy_path: str | os.PathLike) -> Path:
    """The vocabulary file that goes with an ``npy`` matrix: ``de.npy`` -> ``de.vocab.txt``."""
    path = Path(npy_path)
    return path.with_name(path.stem + ".vocab.txt")


def keyed_vectors(words: Sequence[str], vectors: np.ndarray, counts: Sequence[int] | None = None) -> KeyedVectors:
    """KeyedVectors over `vectors` as given (a memmap stays a memmap: gensim's add_vectors would copy it)."""
    if vectors.ndim != 2 or len(words) != vectors.shape[0]:
        raise XlgraphError(f"{len(words)} words for a vector matrix of shape {vectors.shape}")
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=vectors.dtype)
    kv.index_to_key = list(words)
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    if len(kv.key_to_index) != len(kv.index_to_key):
        raise XlgraphError("duplicate words in a vocabulary")
    kv.vectors, kv.next_index = vectors, len(words)
    if counts is not None:
        kv.allocate_vecattrs(attrs=["count"], types=[np.int64])
        kv.expandos["count"][:] = np.asarray(counts, np.int64)
    return kv


def load_vectors(path: str | os.PathLike, *, format: str | None = None, limit: int | None = None,
                 mmap: bool = True) -> KeyedVectors:
    """Word vectors from a file (see the module docstring for formats), float32. `limit`: the first N words only,
    without reading further. `mmap` (npy only): map the matrix read-only instead of reading it. Malformed input
    raises DataError naming the file (and the line, for text). A word listed twice keeps its first vector, with a
    warning saying how many were dropped, as word2vec and MUSE do (real fastText files have a few)."""
    fmt = vector_format(path, format)
    if limit is not None and limit < 1:
        raise XlgraphError(f"limit must be at least 1, got {limit}")
    if fmt in _TEXT:
        return _read_text(path, limit)
    if fmt == "npy":
        return _read_npy(path, limit, mmap)
    real = real_path(path)
    try:
        kv = KeyedVectors.load_word2vec_format(real, binary=True, limit=limit)
    except (ValueError, EOFError, UnicodeDecodeError, OSError) as e:
        raise DataError(real, None, f"not a readable word2vec binary file ({e})") from None
    _check_finite(kv.vectors, kv.index_to_key, real)
    return kv


def save_vectors(kv: KeyedVectors, path: str | os.PathLike, *, format: str | None = None) -> Path:
    """Writes `kv` in its index order (word counts are not stored; the order carries frequency). Text and
    binary need words without spaces or line breaks; they are refused with the word named rather than written
    into a file that reads back differently."""
    fmt, path = vector_format(path, format), Path(path)
    if fmt == "npy" and path.suffix != ".npy":
        raise XlgraphError(f"{path}: an npy matrix must be saved with the suffix .npy (np.save would add it)")
    words, vectors = kv.index_to_key, kv.vectors
    bad = next((w for w in words if not w or "\n" in w or "\r" in w or (fmt != "npy" and " " in w)), None)
    if bad is not None:
        raise XlgraphError(f"cannot write word {bad!r} in {fmt} format (empty, or contains a space or line break)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "npy":
        np.save(path, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        vocab_path(path).write_text("".join(w + "\n" for w in words), encoding="utf-8")
        return path
    n, dim = vectors.shape
    with (gzip.open if path.name.endswith(".gz") else open)(path, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        for start in range(0, n, _CHUNK):
            rows = np.asarray(vectors[start:start + _CHUNK], dtype=np.float32)
            chunk_words = words[start:start + _CHUNK]
            if fmt == "word2vec-binary":  # the C tool's layout: word, space, raw little-endian floats, newline
                f.write(b"".join(w.encode() + b" " + r.astype("<f4").tobytes() + b"\n"
                                 for w, r in zip(chunk_words, rows)))
            else:
                line = " ".join(["%.9g"] * dim)  # 9 significant digits: float32 reads back exactly
                f.write("".join(f"{w} {line % tuple(r)}\n" for w, r in zip(chunk_words, rows.tolist())).encode())
    return path


def cap_vocab(kv: KeyedVectors, n: int) -> KeyedVectors:
    """The `n` most frequent words, in their original order: by gensim's ``count`` attribute when it holds real
    counts (trained vectors), else the first `n` (files, whose order is their frequency order). A memmapped
    matrix stays mapped when the kept words are a prefix."""
    if n < 1:
        raise XlgraphError(f"vocabulary cap must be at least 1, got {n}")
    if n >= len(kv):
        return kv
    counts = kv.expandos.get("count")
    keep = np.arange(n)
    if counts is not None and len(counts) == len(kv) and not _fake_counts(counts):
        keep = np.sort(np.argsort(-counts, kind="stable")[:n])
    prefix = bool(keep[-1] == n - 1)
    vectors = kv.vectors[:n] if prefix else np.asarray(kv.vectors[keep])
    return keyed_vectors([kv.index_to_key[i] for i in keep], vectors,
                         None if counts is None or len(counts) != len(kv) else counts[keep])


def train_vectors(sentences: Iterable[Sequence[str]], *, model: str = "word2vec", dim: int = 100, window: int = 5,
                  min_count: int = 5, epochs: int = 5, sg: bool = True, seed: int = 0, workers: int = 3,
                  max_vocab: int | None = None, **options) -> KeyedVectors:
    """Trains gensim Word2Vec or FastText (``model``) on tokenised sentences and returns its vectors, most frequent
    word first. Runs are reproducible for a given seed only with ``workers=1`` (threads race otherwise).
    `options` go to gensim as they are (e.g. FastText's ``bucket``, ``min_n``, ``max_n``). A one-shot iterator is
    read into a list first, because gensim makes one pass for the vocabulary and one per epoch."""
    from gensim.models import FastText, Word2Vec

    classes = {"word2vec": Word2Vec, "fasttext": FastText}
    if model not in classes:
        raise XlgraphError(f"unknown vector model {model!r}; known: {', '.join(classes)}")
    if iter(sentences) is sentences:
        sentences = list(sentences)
    first = next(iter(sentences), None)
    if first is None:
        raise XlgraphError("no sentences to train word vectors on")
    if isinstance(first, str):
        raise XlgraphError("sentences must be lists of tokens, not strings (a string would train one vector per "
                           f"character); got {first[:40]!r}")
    trained = classes[model](vector_size=dim, window=window, min_count=min_count, epochs=epochs, sg=int(sg),
                             seed=seed, workers=workers, **options)
    trained.build_vocab(sentences)
    if not len(trained.wv):
        raise XlgraphError(f"no word occurs min_count={min_count} times; nothing to train")
    trained.train(sentences, total_examples=trained.corpus_count, epochs=epochs)
    return trained.wv if max_vocab is None else cap_vocab(trained.wv, max_vocab)


def _fake_counts(counts: np.ndarray) -> bool:
    """gensim's word2vec-file loader makes up counts N, N-1, ..., 1; those say nothing beyond the order."""
    return bool(np.array_equal(counts, np.arange(len(counts), 0, -1)))


def _check_finite(vectors: np.ndarray, words: Sequence[str], path: str) -> None:
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        raise DataError(path, None, f"vector of {words[bad[0]]!r} (row {bad[0] + 1}) is not finite (NaN or inf); "
                                    f"{bad.size} such row(s)")


def _parse_header(line: str) -> tuple[int, int] | None:
    fields = line.split()
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        return int(fields[0]), int(fields[1])
    return None


def _read_text(path, limit: int | None) -> KeyedVectors:
    """word2vec / fastText text, with or without the header line."""
    rows: list[np.ndarray] | np.ndarray = []
    words: list[str] = []
    seen: dict[str, int] = {}
    dim = count = None
    duplicates, real, first_dup, number, stopped = 0, str(path), None, 0, False
    for number, raw, real in without_trailing_blanks(iter_raw_lines(path)):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n").rstrip(" ")
        except UnicodeDecodeError as e:
            raise DataError(real, number, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
        if number == 1 and (header := _parse_header(line)) is not None:
            count, dim = header
            if dim < 1:
                raise DataError(real, 1, f"header says vectors have {dim} dimensions")
            rows = np.empty((count if limit is None else min(count, limit), dim), np.float32)
            continue
        word, sep, rest = line.partition(" ")
        if not word or not sep:
            raise DataError(real, number, f"expected 'word v1 ... vD', got {line[:80]!r}")
        values = rest.split()
        if dim is None:
            dim = len(values)
        if len(values) != dim:
            raise DataError(real, number, f"{word!r} has {len(values)} values, expected {dim}")
        try:
            vector = np.array(values, dtype=np.float32)
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise DataError(real, number, f"{word!r}: {bad[:40]!r} is not a number") from None
        if not np.isfinite(vector).all():
            raise DataError(real, number, f"{word!r}: vector is not finite (NaN or inf)")
        if count is not None and number - 1 > count:
            raise DataError(real, number, f"more vectors than the {count} the header announces")
        if word in seen:
            duplicates += 1
            first_dup = first_dup or (word, number)
        else:
            seen[word] = len(words)
            if isinstance(rows, list):
                rows.append(vector)
            else:
                rows[len(words)] = vector
            words.append(word)
        if limit is not None and len(words) >= limit:
            stopped = True
            break
    if dim is None:
        raise DataError(real, None, "no vectors in file")
    if count is not None and not stopped and number - 1 < count:
        raise DataError(real, None, f"header announces {count} vectors, file has {number - 1}")
    if duplicates:
        log.warning("%s: %d duplicate word(s) kept their first vector and dropped the later ones (first: %r, "
                    "line %d)", real, duplicates, *first_dup)
    matrix = np.stack(rows) if isinstance(rows, list) else rows[:len(words)]
    return keyed_vectors(words, np.ascontiguousarray(matrix))


def parse_vector_paths(items: Sequence[str], key: str = "embeddings.vectors") -> dict[str, str]:
    """"lang=PATH" items (the one spelling of word vectors in a config) as {lang: path}; `key` names the setting in
    errors."""
    paths: dict[str, str] = {}
    for item in items:
        lang, eq, path = str(item).partition("=")
        if not eq or not lang or not path:
            raise XlgraphError(f"{key} item {item!r}: expected LANG=PATH, e.g. en=runs/vectors/mono/en.vec")
        if lang in paths:
            raise XlgraphError(f"{key} names language {lang!r} twice")
        paths[lang] = path
    return paths


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_npy(path, limit: int | None, mmap: bool) -> KeyedVectors:
    real = real_path(path)
    try:
        matrix = np.load(real, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DataError(real, None, f"not a readable .npy matrix ({e})") from None
    if matrix.ndim != 2:
        raise DataError(real, None, f"expected a (words, dim) matrix, got shape {matrix.shape}")
    if matrix.dtype != np.float32:
        if mmap:
            raise DataError(real, None, f"matrix is {matrix.dtype}; a memory-mapped matrix must be float32 (re-save "
                                        "it with save_vectors, or load with mmap=False to convert)")
        if not np.issubdtype(matrix.dtype, np.floating):
            raise DataError(real, None, f"matrix is {matrix.dtype}, expected floats")
        matrix = matrix.astype(np.float32)
    vocab = vocab_path(real)
    if not vocab.is_file():
        raise DataError(vocab, None, f"missing: the vocabulary of {real} (one word per line)")
    words: list[str] = []
    seen: dict[str, int] = {}
    for number, raw, _ in iter_raw_lines(vocab):
        try:
            word = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
            raise DataError(vocab, number, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
        if not word:
            raise DataError(vocab, number, "empty word")
        if word in seen:
            raise DataError(vocab, number, f"{word!r} is listed twice (first on line {seen[word]})")
        seen[word] = number
        words.append(word)
    if len(words) != matrix.shape[0]:
        raise DataError(vocab, None, f"{len(words)} words for the {matrix.shape[0]} rows of {real}")
    if limit is not None:
        words, matrix = words[:limit], matrix[:limit]
    if not mmap:
        _check_finite(matrix, words, real)  # a mapped matrix is not scanned: that would read all of it
    return keyed_vectors(words, matrix)
