"""Heterogeneous (relational) GCN in Flax NNX over segment ops: the CLHG model.

Layer: h' = Σ_r (Â_r h) W_r + b_r over relations r, Â_r the symmetric-normalised adjacency of relation r
given as edges (senders, receivers, weights); padding edges carry weight 0. Between layers leaky ReLU (0.01)
and dropout; a linear head on the document nodes. The whole graph propagates in every step; the loss is
taken on a batch of labelled document nodes.

Aggregation (`Â_r h`) has three implementations with the same result, because JAX versions have differed
in which is fastest: "segment_sum" (scatter-add), "sorted" (segment_sum on receiver-sorted edges, which the
graph builder produces) and "bcoo" (a jax.experimental.sparse BCOO matmul). experiments/bench/hetero_gcn.py
measures them; the default is the fastest measured here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from jax.experimental import sparse

Edges = tuple[jax.Array, jax.Array, jax.Array]  # senders, receivers, weights (0 on padding)
AGGREGATIONS = ("segment_sum", "sorted", "bcoo")


def aggregate(h: jax.Array, edges: Edges, num_nodes: int, how: str = "sorted") -> jax.Array:
    """Σ over edges s → r of w · h[s], per receiver r: (num_nodes, dim)."""
    senders, receivers, weights = edges
    if how == "bcoo":
        adj = sparse.BCOO((weights.astype(h.dtype), jnp.stack([receivers, senders], -1)),
                          shape=(num_nodes, h.shape[0]), indices_sorted=False, unique_indices=False)
        return adj @ h
    if how not in ("segment_sum", "sorted"):
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {how!r}")
    messages = h[senders] * weights[:, None].astype(h.dtype)
    return jax.ops.segment_sum(messages, receivers, num_segments=num_nodes, indices_are_sorted=how == "sorted")


class RelGraphConv(nnx.Module):
    """Σ_r (Â_r h) W_r + b_r. Projects before aggregating when that shrinks the messages."""

    def __init__(self, relations: Sequence[str], in_dim: int, out_dim: int, *, rngs: nnx.Rngs,
                 aggregation: str = "sorted"):
        self.relations = tuple(relations)
        self.aggregation = aggregation
        init = nnx.initializers.glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(0,))
        self.kernel = nnx.Param(init(rngs.params(), (len(self.relations), in_dim, out_dim)))
        self.bias = nnx.Param(jnp.zeros((len(self.relations), out_dim)))

    def __call__(self, h: jax.Array, edges: Mapping[str, Edges]) -> jax.Array:
        n, (in_dim, out_dim) = h.shape[0], self.kernel.shape[1:]
        out = jnp.zeros((n, out_dim), h.dtype)
        for i, rel in enumerate(self.relations):
            w = self.kernel[i]
            if out_dim < in_dim:
                out = out + aggregate(h @ w, edges[rel], n, self.aggregation)
            else:
                out = out + aggregate(h, edges[rel], n, self.aggregation) @ w
        return out + jnp.sum(self.bias[...], axis=0)


class HeteroGCN(nnx.Module):
    """dims[0] → dims[1] → … → dims[-1] relational graph convolutions, then a linear head on chosen nodes."""

    def __init__(self, relations: Sequence[str], dims: Sequence[int] = (768, 512, 768), num_classes: int = 2, *,
                 dropout: float = 0.5, negative_slope: float = 0.01, aggregation: str = "sorted", rngs: nnx.Rngs):
        self.layers = nnx.List([RelGraphConv(relations, a, b, rngs=rngs, aggregation=aggregation)
                                for a, b in zip(dims[:-1], dims[1:])])
        self.dropout = nnx.Dropout(dropout)
        self.negative_slope = negative_slope
        self.head = nnx.Linear(dims[-1], num_classes, rngs=rngs)

    def embed(self, x: jax.Array, edges: Mapping[str, Edges], *, rngs: nnx.Rngs | None = None) -> jax.Array:
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h, edges)
            if i < len(self.layers) - 1:
                h = self.dropout(jax.nn.leaky_relu(h, self.negative_slope), deterministic=rngs is None, rngs=rngs)
        return h

    def __call__(self, x, edges, nodes: jax.Array, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Logits (len(nodes), num_classes) for the node indices `nodes` (documents). Dropout iff `rngs`."""
        h = self.embed(x, edges, rngs=rngs)[nodes]
        return self.head(self.dropout(h, deterministic=rngs is None, rngs=rngs))
