"""Aligning two (or more) word-vector spaces: fit a map on a dictionary, refine it, evaluate it, map vocabularies.

`align` fits one of `METHODS` on a MUSE dictionary or the identical-string pseudo-dictionary; `refine` then
re-induces the dictionary from mutual CSLS nearest neighbours among the most frequent words and re-fits, as in
MUSE's Procrustes refinement; `align_to_pivot` maps several languages into the English space, one map each (for
CCA through the inverse of English's projection, as Ammar et al. 2016 build multiCCA).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from gensim.models import KeyedVectors

from xlgraph.align.cca import cca
from xlgraph.text.dictionary import Dictionary, identical_dictionary, pair_indices, require_pairs
from xlgraph.align.evaluate import TranslationScores, translation_precision
from xlgraph.align.procrustes import procrustes, procrustes_truncated
from xlgraph.align.retrieval import HIGHEST, mutual_nearest, unit_rows
from xlgraph.errors import XlgraphError
from xlgraph.text.vectors import keyed_vectors

log = logging.getLogger("xlgraph")

METHODS = ("procrustes", "procrustes-gt1", "cca")
IDENTICAL = "identical"  # the dictionary argument that asks for the identical-string pseudo-dictionary


@dataclasses.dataclass(frozen=True)
class LinearMap:
    """x ↦ (x̂ − mean) @ matrix + shift, where x̂ is x length-normalised when `unit`. CCA is fitted on centred
    unit rows and must see words the same way; Procrustes is linear and cosine ignores length, so it maps x as
    it is and the mapped vectors keep their norms."""

    matrix: np.ndarray  # (d_in, d_out)
    mean: np.ndarray | None = None
    shift: np.ndarray | None = None
    unit: bool = False

    def __call__(self, x) -> jax.Array:
        x = unit_rows(x) if self.unit else jnp.asarray(x, jnp.float32)
        if self.mean is not None:
            x = x - self.mean
        y = jnp.matmul(x, self.matrix, precision=HIGHEST)
        return y if self.shift is None else y + self.shift

    def apply(self, x: np.ndarray, chunk: int = 65536) -> np.ndarray:
        """The map of a host matrix, on the host, a chunk at a time: a memory-mapped vocabulary is never on the
        device whole."""
        out = [np.asarray(self(x[i:i + chunk])) for i in range(0, len(x), chunk)]
        return np.concatenate(out) if out else np.zeros((0, self.matrix.shape[1]), np.float32)


@dataclasses.dataclass(frozen=True)
class Alignment:
    """Maps of the source (and, for CCA, the target) space into the shared space. `tgt` None: the shared space is
    the target space itself. `pairs`: dictionary pairs of the last fit; `rounds`: pairs each refinement round
    induced."""

    method: str
    src: LinearMap
    tgt: LinearMap | None = None
    pairs: int = 0
    rounds: tuple[int, ...] = ()

    def map_src(self, kv: KeyedVectors) -> KeyedVectors:
        return keyed_vectors(kv.index_to_key, self.src.apply(kv.vectors))

    def map_tgt(self, kv: KeyedVectors) -> KeyedVectors:
        return kv if self.tgt is None else keyed_vectors(kv.index_to_key, self.tgt.apply(kv.vectors))

    def into_target_space(self) -> Alignment:
        """The same alignment with the target left as it is: CCA's source map followed by the inverse of its
        target map, (x̂ − μx) A B⁺ + μy (with full dimension and λ > 0, B is invertible and this lands in the
        space of the target's unit vectors). Procrustes maps already do this."""
        if self.tgt is None:
            return self
        t = self.tgt
        matrix = np.asarray(jnp.matmul(self.src.matrix, jnp.linalg.pinv(t.matrix), precision=HIGHEST))
        return dataclasses.replace(self, src=dataclasses.replace(self.src, matrix=matrix, shift=t.mean), tgt=None)


def fit_pairs(x, y, method: str = "procrustes", *, dim: int | None = None, reg: float = 1e-3) -> Alignment:
    """An alignment fitted on paired rows (x[i] translates to y[i])."""
    if method == "procrustes":
        return Alignment(method, LinearMap(np.asarray(procrustes(x, y))), pairs=len(x))
    if method == "procrustes-gt1":
        return Alignment(method, LinearMap(np.asarray(procrustes_truncated(x, y, 1.0))), pairs=len(x))
    if method == "cca":
        a, b, mx, my, _ = jax.device_get(cca(unit_rows(x), unit_rows(y), dim=dim, reg=reg))
        return Alignment(method, LinearMap(a, mx, unit=True), LinearMap(b, my, unit=True), pairs=len(x))
    raise XlgraphError(f"unknown alignment method {method!r}; known: {', '.join(METHODS)}")


def align(src: KeyedVectors, tgt: KeyedVectors, dictionary: Dictionary | str = IDENTICAL, *,
          method: str = "procrustes", refine: int = 0, refine_rank: int = 15000, csls_k: int = 10,
          dim: int | None = None, reg: float = 1e-3) -> Alignment:
    """Fits `method` on the pairs of `dictionary` (source word -> translations; every pair with both words in the
    vocabularies is used) or, with ``"identical"``, on the strings the two vocabularies share; then `refine`
    rounds of `refine` (below). `dim` and `reg`: CCA's dimension and regularisation."""
    what = "dictionary"
    if isinstance(dictionary, str):
        if dictionary != IDENTICAL:
            raise XlgraphError(f"dictionary must be a mapping or {IDENTICAL!r}, not {dictionary!r}")
        dictionary, what = identical_dictionary(src.index_to_key, tgt.index_to_key), "identical-string"
    s, t = pair_indices(dictionary, src.key_to_index, tgt.key_to_index)
    require_pairs(s, dictionary, what)
    log.info("fitting %s on %d %s pairs", method, len(s), what)
    alignment = fit_pairs(np.asarray(src.vectors[s]), np.asarray(tgt.vectors[t]), method, dim=dim, reg=reg)
    if refine:
        alignment = refine_alignment(alignment, src, tgt, refine, rank=refine_rank, csls_k=csls_k, dim=dim, reg=reg)
    return alignment


def refine_alignment(alignment: Alignment, src: KeyedVectors, tgt: KeyedVectors, iterations: int, *,
                     rank: int = 15000, csls_k: int = 10, dim: int | None = None, reg: float = 1e-3) -> Alignment:
    """MUSE's refinement: map the `rank` most frequent words of each side, take the mutual CSLS nearest
    neighbours as the new dictionary, re-fit from the original vectors; `iterations` times. Mutual pairs only:
    one-sided ones would feed the fit hubs and errors. A seed good enough to get frequent words right is enough
    to recover the rest."""
    if iterations < 0 or rank < 2:
        raise XlgraphError(f"refinement needs iterations ≥ 0 and rank ≥ 2, got {iterations} and {rank}")
    xs, yt = np.asarray(src.vectors[:rank], np.float32), np.asarray(tgt.vectors[:rank], np.float32)
    rounds = list(alignment.rounds)
    for it in range(iterations):
        mapped_tgt = yt if alignment.tgt is None else alignment.tgt(yt)
        i, j = mutual_nearest(alignment.src(xs), mapped_tgt, method="csls", csls_k=csls_k)
        if len(i) < 2:
            raise XlgraphError(f"refinement round {it + 1} found {len(i)} mutual nearest neighbours; the alignment "
                               "is too poor to refine (use a better seed dictionary)")
        rounds.append(len(i))
        log.info("refinement round %d: %d mutual nearest neighbour pairs among the top %d words", it + 1, len(i),
                 min(rank, len(xs), len(yt)))
        alignment = dataclasses.replace(fit_pairs(xs[i], yt[j], alignment.method, dim=dim, reg=reg),
                                        rounds=tuple(rounds))
    return alignment


def evaluate_alignment(alignment: Alignment, src: KeyedVectors, tgt: KeyedVectors, dictionary: Dictionary, *,
                       csls_k: int = 10, **kw) -> TranslationScores:
    """Word-translation P@1 (NN and CSLS) of a test dictionary, searching the whole target vocabulary."""
    mapped_tgt = tgt.vectors if alignment.tgt is None else alignment.tgt(tgt.vectors)
    return translation_precision(alignment.src(src.vectors), src.key_to_index, mapped_tgt, tgt.key_to_index,
                                 dictionary, csls_k=csls_k, **kw)


def align_to_pivot(vectors: Mapping[str, KeyedVectors], dictionaries: Mapping[str, Dictionary | str], *,
                   pivot: str = "en", **kw) -> dict[str, Alignment]:
    """One alignment per language into the pivot's (English) space, fitted on `dictionaries[lang]` (lang ->
    pivot, or ``"identical"``); the pivot gets the identity. Every language's mapped vectors then share one space,
    so words of any two languages can be compared. `kw` go to `align`."""
    if pivot not in vectors:
        raise XlgraphError(f"no vectors for the pivot language {pivot!r} (have {', '.join(vectors)})")
    missing = [lang for lang in vectors if lang != pivot and lang not in dictionaries]
    if missing:
        raise XlgraphError(f"no dictionary into {pivot} for {', '.join(missing)}")
    out = {}
    for lang, kv in vectors.items():
        if lang == pivot:
            out[lang] = Alignment("identity", LinearMap(np.eye(kv.vector_size, dtype=np.float32)))
        else:
            log.info("aligning %s -> %s", lang, pivot)
            out[lang] = align(kv, vectors[pivot], dictionaries[lang], **kw).into_target_space()
    return out
