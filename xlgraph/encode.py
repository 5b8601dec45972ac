"""Encode a whole corpus into pooled features on every device, written in chunks, resumable.

    OUT/features.npy   (n, dim) float32/float16, a plain .npy: `np.load(..., mmap_mode="r")` maps it
    OUT/docs.npz       lang, split, label (-1: none), doc_id of each row, in corpus order
    OUT/meta.json      model, pooling, sizes, a fingerprint of the texts, label names
    OUT/progress.json  chunks done; a rerun continues after the last finished chunk

Batches are sharded over the mesh's data axis (every device of every process); each process builds its own
rows of every batch, the pooled outputs come back replicated and process 0 writes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from xlgraph.data.corpus import SPLITS, Corpus
from xlgraph.data.tokenize import tokenize
from xlgraph.errors import XlgraphError
from xlgraph.models.encoder import pool
from xlgraph.models.tokenizer import load_tokenizer
from xlgraph.progress import progress
from xlgraph.train.infer import map_rows
from xlgraph.train.parallel import DataParallel, is_main_process

log = logging.getLogger("xlgraph")


@dataclasses.dataclass(frozen=True)
class Features:
    path: Path
    n: int
    dim: int
    dtype: str
    pooling: str
    model: str

    def array(self) -> np.ndarray:
        """The (n, dim) features, memory-mapped read-only."""
        return np.load(self.path / "features.npy", mmap_mode="r")

    def docs(self) -> dict[str, np.ndarray]:
        with np.load(self.path / "docs.npz") as z:
            return {k: z[k] for k in z.files}


def load_features(path: str | Path) -> Features:
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
        done = json.loads((path / "progress.json").read_text())["chunks_done"]
    except (OSError, ValueError, KeyError) as e:
        raise XlgraphError(f"{path}: not an encoding written by `xlgraph encode` ({e})") from None
    if done < meta["chunks"]:
        raise XlgraphError(f"{path}: encoding unfinished ({done} of {meta['chunks']} chunks); rerun to resume")
    return Features(path, meta["n"], meta["dim"], meta["dtype"], meta["pooling"], meta["model"])


def fingerprint(texts) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def _buckets(max_length: int) -> tuple[int, ...]:
    out, b = [], 16
    while b < max_length:
        out.append(b)
        b *= 2
    return (*out, max_length)


def _encoder_from(model: str | None, run: str | None, pooling: str | None, precision: str, allow_pickle: bool,
                  prefix: str | None = None):
    """(encoder graphdef, params, pooling, tokenizer name, text prefix, description); `prefix` None: the run's
    (model.prefix), or none for a pretrained model."""
    dtype = {"fp32": None, "bf16": jnp.bfloat16}[precision]
    if run is None:
        from xlgraph.models.hf import load_encoder
        from xlgraph.config import DEFAULT_MODEL

        name = model or DEFAULT_MODEL
        encoder, _ = load_encoder(name, allow_pickle=allow_pickle, dtype=dtype)
        graphdef, params = nnx.split(encoder)
        return graphdef, params, pooling or "first", name, prefix or "", str(name)
    from xlgraph.families import restore_classifier

    cfg, classifier, step, _ = restore_classifier(run, allow_pickle=allow_pickle, precision=precision)
    graphdef, params = nnx.split(classifier.encoder)
    return (graphdef, params, pooling or cfg.model.pooling, cfg.model.name,
            cfg.model.prefix if prefix is None else prefix, f"{run} (step {step})")


def encode_corpus(corpus: Corpus, out_dir: str | Path, *, model: str | None = None, run: str | None = None,
                  pooling: str | None = None, max_length: int = 128, batch_size: int = 128,
                  chunk_size: int = 8192, dtype: str = "float32", precision: str = "fp32",
                  allow_pickle: bool = False, dp: DataParallel | None = None, prefix: str | None = None) -> Features:
    """Encodes every document of `corpus` (first-token or mean pooling of the last layer) into OUT_DIR. `prefix`
    is prepended to every text (default: the run's model.prefix, none for a pretrained model)."""
    if len(corpus) == 0:
        raise XlgraphError("nothing to encode: the corpus is empty")
    dp = dp or DataParallel.create()
    dp.check_batch_size(batch_size, "--batch-size")
    graphdef, params, pooling, tok_name, prefix, source = _encoder_from(model, run, pooling, precision, allow_pickle,
                                                                        prefix)
    params = dp.place(params)
    tokenizer = load_tokenizer(tok_name, prefix=prefix)
    out = Path(out_dir)
    n, dim = len(corpus), graphdef_dim(graphdef, params)
    chunks = -(-n // chunk_size)
    meta = {"model": source, "pooling": pooling, "prefix": prefix, "n": n, "dim": dim, "dtype": dtype,
            "max_length": max_length,
            "chunk_size": chunk_size, "chunks": chunks, "texts": fingerprint(corpus.text),
            "labels": list(corpus.labels)}
    done = _prepare(out, meta, corpus) if is_main_process() else 0
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        done = int(multihost_utils.broadcast_one_to_all(np.int32(done)))
    if done:
        log.info("%s: resuming after %d of %d chunks", out, done, chunks)

    def forward(params, batch):
        hidden = nnx.merge(graphdef, params)(batch["input_ids"], batch["attention_mask"])
        return pool(hidden, batch["attention_mask"], pooling).astype(jnp.float32)

    step = jax.jit(forward, in_shardings=(dp.replicated, dp.batch), out_shardings=dp.replicated)
    buckets = _buckets(max_length)
    array = np.load(out / "features.npy", mmap_mode="r+") if is_main_process() else None
    for c in progress(range(done, chunks), total=chunks - done, desc="encode", unit="chunk",
                      enabled=is_main_process()):
        lo, hi = c * chunk_size, min((c + 1) * chunk_size, n)
        tok = tokenize(tokenizer, corpus.text[lo:hi], max_length)
        values = map_rows(step, params, tok, buckets=buckets, batch_size=batch_size, dp=dp)
        if array is not None:
            array[lo:hi] = values.astype(dtype)
            array.flush()
            _write_json(out / "progress.json", {"chunks_done": c + 1})
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("xlgraph encode done")
    return Features(out, n, dim, dtype, pooling, source)


def graphdef_dim(graphdef, params) -> int:
    return nnx.merge(graphdef, params).cfg.hidden_size


def _prepare(out: Path, meta: dict, corpus: Corpus) -> int:
    """Creates the files, or checks that OUT holds this same encoding; returns the chunks already done."""
    if (out / "meta.json").exists():
        old = json.loads((out / "meta.json").read_text())
        differ = sorted(k for k in meta if old.get(k) != meta[k])
        if differ:
            raise XlgraphError(f"{out} holds a different encoding ({', '.join(differ)} differ); "
                               "use a new directory or delete it")
        try:
            return int(json.loads((out / "progress.json").read_text())["chunks_done"])
        except (OSError, ValueError, KeyError):
            return 0
    out.mkdir(parents=True, exist_ok=True)
    np.lib.format.open_memmap(out / "features.npy", mode="w+", dtype=meta["dtype"], shape=(meta["n"], meta["dim"]))
    np.savez(out / "docs.npz", lang=corpus.lang, split=np.asarray(SPLITS)[corpus.split], label=corpus.label,
             doc_id=corpus.doc_id)
    _write_json(out / "progress.json", {"chunks_done": 0})
    _write_json(out / "meta.json", meta)
    return 0


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


def encode_words(words, out_dir: str | Path, *, lang: str = "xx", model: str | None = None, run: str | None = None,
                 pooling: str = "mean", prefix: str | None = None, max_length: int = 16, batch_size: int = 256,
                 **kwargs):
    """Static vectors for a word list from an encoder: each word encoded alone (with `prefix`), pooled, as CLHG's
    word nodes are. The features go to OUT_DIR (resumable, as `encode_corpus`); returns gensim KeyedVectors, in the
    order of `words` (duplicates and blank entries dropped). Multilingual encoders give vectors of every language
    in one space: aligned by construction."""
    from xlgraph.data.corpus import Doc
    from xlgraph.text.vectors import keyed_vectors

    unique = list(dict.fromkeys(w.strip() for w in words if w.strip()))
    if not unique:
        raise XlgraphError("no words to encode")
    feats = encode_corpus(Corpus.from_docs(Doc(w, lang) for w in unique), out_dir, model=model, run=run,
                          pooling=pooling, prefix=prefix, max_length=max_length, batch_size=batch_size, **kwargs)
    return keyed_vectors(unique, np.asarray(feats.array(), np.float32))
