"""Universal POS tagging with spaCy, for the CLHG graph builder's word filter and typed doc-word edges.

A tagger is a spaCy pipeline: an installed trained package (``de_core_news_lg``) or a directory written by
`train_tagger`, which trains a small ``tok2vec`` + ``tagger`` from a UD treebank in seconds. Its tagger predicts the
UD UPOS column as ``token.tag_``, and a built-in ``attribute_ruler`` copies each tag into ``token.pos_``; no custom
component is registered, so the directory loads with plain ``spacy.load`` in any process (`load_tagger` does not
need to import anything of xlgraph's first).

`tag` returns UPOS only (`UPOS`; anything a pipeline cannot map is ``X``). `CONTENT_POS` is the CLHG paper's filter
on word nodes. Without a tagger (the caller's ``NO_TAGGER = None``) the graph builder gives every doc-word edge one
untyped relation instead of one relation per POS.

Japanese and Thai tokenisation come from spaCy's optional dependencies (sudachipy, pythainlp); they are not installed
with xlgraph, and asking for ``ja`` / ``th`` without them is an error naming the package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import random
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from xlgraph.data.readers import ReadContext
from xlgraph.data.readers.conllu import Sentence, conllu_files, read_sentences
from xlgraph.errors import DataError, ModelLoadError, XlgraphError

log = logging.getLogger("xlgraph")

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT", "SCONJ",
        "SYM", "VERB", "X")
CONTENT_POS = ("ADJ", "ADV", "CCONJ", "ADP", "VERB", "NOUN", "PROPN", "PRON", "PART", "INTJ")

_UPOS = frozenset(UPOS)
_LEGACY = {"CONJ": "CCONJ"}  # spaCy still knows UD v1's CONJ
_NOT_FOR_TAGGING = ("parser", "ner", "lemmatizer", "trainable_lemmatizer", "senter", "entity_ruler",
                    "entity_linker", "textcat", "textcat_multilabel", "spancat")
_TAGGING_FACTORIES = ("tagger", "morphologizer")
# spaCy's optional tokenizer dependencies: language -> (module to look for, what to install).
_TOKENIZER_DEPS = {"ja": ("sudachipy", "sudachipy sudachidict_core"), "th": ("pythainlp", "pythainlp")}
_TRAIN_HINT = "train one from a UD treebank with `xlgraph pos train TREEBANK.conllu OUT_DIR --lang LANG`"


def check_tokenizer_deps(lang: str | None) -> None:
    """Raises XlgraphError naming the package to install when spaCy's tokenizer for `lang` needs one that is
    missing (Japanese: sudachipy, Thai: pythainlp)."""
    if lang in _TOKENIZER_DEPS:
        module, install = _TOKENIZER_DEPS[lang]
        if importlib.util.find_spec(module) is None:
            name = {"ja": "Japanese", "th": "Thai"}[lang]
            raise XlgraphError(f"spaCy's {name} ({lang}) tokenizer needs the optional package {module}, which is not "
                               f"installed: pip install {install}")


def segmenter(lang: str):
    """texts -> untagged (word, None) tokens from spaCy's own tokenizer for `lang` — the word segmenter for
    languages written without spaces (Japanese: sudachipy, Thai: pythainlp); raises XlgraphError naming the
    package when it is missing."""
    import spacy

    check_tokenizer_deps(lang)
    nlp = spacy.blank(lang)
    return lambda texts: [[(t.text, None) for t in doc if not t.is_space] for doc in nlp.pipe(texts, batch_size=256)]


def load_tagger(name_or_path: str | Path, lang: str | None = None):
    """A spaCy pipeline that sets ``token.pos_``: an installed package by name, or a directory saved by
    `train_tagger` (or any ``nlp.to_disk``). Components tagging does not need (parser, ner, lemmatizer, ...) are
    not loaded. With `lang`, the pipeline must be for that language. Raises ModelLoadError (an XlgraphError) when
    there is no such pipeline or it cannot tag."""
    import spacy

    check_tokenizer_deps(lang)
    path = Path(name_or_path)
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise ModelLoadError(f"{path}: not a spaCy pipeline directory (no config.cfg); {_TRAIN_HINT}")
        meta = path / "meta.json"
        check_tokenizer_deps(json.loads(meta.read_text()).get("lang") if meta.is_file() else None)
    elif not spacy.util.is_package(str(name_or_path)):
        raise ModelLoadError(f"no spaCy pipeline {str(name_or_path)!r}: it is neither a directory nor an installed "
                             f"package; {_TRAIN_HINT} and pass OUT_DIR, or install a trained pipeline "
                             "(python -m spacy download de_core_news_lg) where the network allows")
    try:
        nlp = spacy.load(name_or_path, exclude=list(_NOT_FOR_TAGGING))
    except ImportError as e:
        raise ModelLoadError(f"{name_or_path}: spaCy pipeline needs a package that is not installed: {e}") from e
    except (OSError, ValueError, KeyError) as e:  # version mismatch, broken files, unknown factory
        raise ModelLoadError(f"{name_or_path}: cannot load this spaCy pipeline: {e}") from e
    if lang is not None and nlp.lang != lang:
        raise ModelLoadError(f"{name_or_path}: pipeline is for language {nlp.lang!r}, not {lang!r}")
    if not any(nlp.get_pipe_meta(name).factory in _TAGGING_FACTORIES for name in nlp.pipe_names):
        raise ModelLoadError(f"{name_or_path}: pipeline has no tagger or morphologizer (components: "
                             f"{', '.join(nlp.pipe_names) or 'none'}), so it cannot tag POS; {_TRAIN_HINT}")
    return nlp


def tag(nlp, texts: Iterable[str], batch_size: int = 256) -> list[list[tuple[str, str]]]:
    """(token text, UPOS) for every token of every text, in order. Whitespace tokens (spaCy's SPACE, from runs of
    spaces or newlines) are not words and are left out."""
    upos = _upos_of(nlp)
    return [[(t.text, upos(t)) for t in doc if not t.is_space] for doc in nlp.pipe(texts, batch_size=batch_size)]


def _upos_of(nlp):
    """token -> UPOS: ``pos_`` when it is set, else ``tag_`` mapped by the pipeline's attribute-ruler patterns
    (``[{"TAG": t}] -> POS``) or taken as is when it is already UPOS, else X."""
    tag_map = {}
    for name, pipe in nlp.components:  # disabled ones too: their patterns are still a valid map
        if nlp.get_pipe_meta(name).factory == "attribute_ruler":
            for rule in pipe.patterns:
                pos = rule["attrs"].get("POS")
                for pattern in rule["patterns"]:
                    if pos and len(pattern) == 1 and set(pattern[0]) == {"TAG"} and isinstance(pattern[0]["TAG"], str):
                        tag_map.setdefault(pattern[0]["TAG"], pos)

    def upos(token) -> str:
        pos = _LEGACY.get(token.pos_, token.pos_)
        if pos in _UPOS:
            return pos
        pos = tag_map.get(token.tag_, token.tag_)
        pos = _LEGACY.get(pos, pos)
        return pos if pos in _UPOS else "X"

    return upos


def _sentences(conllu_path: str | Path, max_sentences: int | None) -> Iterator[Sentence]:
    """The treebank's sentences (at most `max_sentences`), each UPOS checked."""
    if max_sentences is not None and max_sentences < 1:
        raise XlgraphError(f"max_sentences must be at least 1, got {max_sentences}")
    n = 0
    for file in conllu_files(conllu_path):
        for sentence in read_sentences(file, ReadContext()):
            if max_sentences is not None and n >= max_sentences:
                return
            for tag_ in sentence.upos:
                if tag_ not in _UPOS:
                    raise DataError(file, None, f"sentence {sentence.id}: UPOS {tag_!r} is not a Universal POS tag "
                                                f"({' '.join(UPOS)})")
            n += 1
            yield sentence


def train_tagger(conllu_path: str | Path, out_dir: str | Path, *, lang: str, epochs: int = 5,
                 max_sentences: int | None = None, seed: int = 0, width: int = 64, depth: int = 2,
                 embed_size: int = 2000, batch_size: int = 16) -> Path:
    """Trains a ``tok2vec`` (HashEmbedCNN) + ``tagger`` on the treebank's UPOS column, with gold tokens (no spaCy
    CLI, no ``convert``), adds an ``attribute_ruler`` that sets ``pos_`` from the tag, and saves the pipeline to
    `out_dir` (a directory `load_tagger` and ``spacy.load`` read). The tagger's labels are the 17 UPOS tags.
    Deterministic for a given `seed` on one machine. Returns `out_dir`."""
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.util import fix_random_seed, minibatch

    if epochs < 1:
        raise XlgraphError(f"epochs must be at least 1, got {epochs}")
    check_tokenizer_deps(lang)
    try:
        nlp = spacy.blank(lang)
    except ImportError as e:
        raise XlgraphError(f"spaCy has no tokenizer for language {lang!r}, or it needs a missing package: {e}") from e
    fix_random_seed(seed)
    sentences = list(_sentences(conllu_path, max_sentences))
    if not sentences:
        raise DataError(conllu_path, None, "no sentences to train on")
    examples = [Example(Doc(nlp.vocab, words=s.tokens), Doc(nlp.vocab, words=s.tokens, tags=s.upos))
                for s in sentences]

    nlp.add_pipe("tok2vec", config={"model": {
        "@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, "width": width, "depth": depth,
        "embed_size": embed_size, "window_size": 1, "maxout_pieces": 3, "subword_features": True}})
    # overwrite: spaCy's Japanese tokenizer already sets tag_ (Sudachi's tags); without it the tagger keeps those
    tagger = nlp.add_pipe("tagger", config={"overwrite": True, "model": {
        "@architectures": "spacy.Tagger.v2", "nO": None, "normalize": False,
        "tok2vec": {"@architectures": "spacy.Tok2VecListener.v1", "width": width, "upstream": "*"}}})
    for label in UPOS:
        tagger.add_label(label)
    ruler = nlp.add_pipe("attribute_ruler")
    with _quiet_initialize():
        optimizer = nlp.initialize(lambda: examples)
    for label in UPOS:  # after initialize, which clears the ruler
        ruler.add(patterns=[[{"TAG": label}]], attrs={"POS": label})

    n_tokens = sum(len(s.tokens) for s in sentences)
    log.info("training a %s UPOS tagger on %d sentences (%d tokens) of %s, %d epochs", lang, len(sentences),
             n_tokens, conllu_path, epochs)
    rng, start = random.Random(seed), time.perf_counter()
    for epoch in range(1, epochs + 1):
        rng.shuffle(examples)
        losses: dict[str, float] = {}
        for batch in minibatch(examples, size=batch_size):
            nlp.update(batch, sgd=optimizer, drop=0.1, losses=losses)
        log.info("epoch %d/%d: tagger loss %.1f (%.1fs)", epoch, epochs, losses.get("tagger", 0.0),
                 time.perf_counter() - start)
    nlp.meta.update(name="xlgraph_upos", version="0.0.0",
                    description=f"UPOS tagger trained by xlgraph on {Path(conllu_path).name}")
    nlp.meta["xlgraph"] = dict(conllu=str(conllu_path), sentences=len(sentences), tokens=n_tokens, epochs=epochs,
                               seed=seed, train_seconds=round(time.perf_counter() - start, 2))
    out = Path(out_dir)
    nlp.to_disk(out)
    return out


def evaluate_tagger(nlp, conllu_path: str | Path, max_sentences: int | None = None) -> float:
    """Token-level UPOS accuracy on the treebank's (first `max_sentences`) sentences, with its gold tokens."""
    from spacy.tokens import Doc

    sentences = list(_sentences(conllu_path, max_sentences))
    if not sentences:
        raise DataError(conllu_path, None, "no sentences to evaluate on")
    upos = _upos_of(nlp)
    docs = nlp.pipe(Doc(nlp.vocab, words=s.tokens) for s in sentences)
    right = total = 0
    for sentence, doc in zip(sentences, docs):
        right += sum(upos(t) == gold for t, gold in zip(doc, sentence.upos))
        total += len(sentence.upos)
    return right / total


@contextlib.contextmanager
def _quiet_initialize():
    """Hides spaCy's W033 (no lexeme-norm tables without spacy-lookups-data: norms then default to lower case, which
    is what this small tagger wants anyway) and its INFO lines, which repeat ours."""
    spacy_log = logging.getLogger("spacy")
    level = spacy_log.level
    spacy_log.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*\[W033\]")
            yield
    finally:
        spacy_log.setLevel(level)
