"""Heterogeneous (relational) GCN in Flax NNX over segment ops: the CLHG model.

Layer: h' = Σ_r (Â_r h) W_r + b_r over relations r, Â_r the symmetric-normalised adjacency of relation r
given as edges (senders, receivers, weights); padding edges carry weight 0. Between layers leaky ReLU (0.01)
and dropout; a linear head on the document nodes. The loss is taken on a batch of labelled document nodes.

Doing less work, always with the full-graph result (tests/test_hetero_gcn.py checks values and gradients):
with fixed input features (CLHG's frozen encoder features) the first layer's aggregations Â_r x are computed
once (`aggregate_inputs`, then `precomputed=True`); since the loss needs only a batch of nodes, the last layer
computes only their rows; and given a `block` (`xlgraph.graph.hetero.block`: the edges into the batch and the
nodes they come from, as DGL's full-neighbour sampler gives) the last layer aggregates only those edges and
the layer before computes only those source rows. The normalisation weights stay the global ones, so training
and full-graph inference see the same graph. On the 50k-node benchmark graph a step goes from 6.6 s (full
graph) to 0.9 s (experiments/bench/hetero_gcn.py).

Aggregation (`Â_r h`) has three implementations with the same result, because JAX versions have differed
in which is fastest: "segment_sum" (scatter-add), "sorted" (segment_sum on receiver-sorted edges, which the
graph builder produces) and "bcoo" (a jax.experimental.sparse BCOO matmul). experiments/bench/hetero_gcn.py
measures them; the default is the fastest measured here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import jraph
from flax import nnx
from jax.experimental import sparse

from xlgraph.graph.hetero import Block

Edges = tuple[jax.Array, jax.Array, jax.Array]  # senders, receivers, weights (0 on padding)
AGGREGATIONS = ("segment_sum", "sorted", "bcoo")


def aggregate(h: jax.Array, edges: Edges, num_nodes: int, how: str = "sorted") -> jax.Array:
    """Σ over edges s → r of w · h[s], per receiver r: (num_nodes, dim). `edges`: (senders, receivers,
    weights), or a jraph.GraphsTuple with the weights as its `edges` (`xlgraph.graph.hetero.graphs_tuples`)."""
    if hasattr(edges, "n_edge"):  # a jraph.GraphsTuple
        edges = (edges.senders, edges.receivers, edges.edges)
    senders, receivers, weights = edges
    if how == "bcoo":
        adj = sparse.BCOO((weights.astype(h.dtype), jnp.stack([receivers, senders], -1)),
                          shape=(num_nodes, h.shape[0]), indices_sorted=False, unique_indices=False)
        return adj @ h
    if how not in ("segment_sum", "sorted"):
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, not {how!r}")
    messages = h[senders] * weights[:, None].astype(h.dtype)
    return jraph.segment_sum(messages, receivers, num_segments=num_nodes, indices_are_sorted=how == "sorted")


class RelGraphConv(nnx.Module):
    """Σ_r (Â_r h) W_r + b_r. Projects before aggregating when that shrinks the messages."""

    def __init__(self, relations: Sequence[str], in_dim: int, out_dim: int, *, rngs: nnx.Rngs,
                 aggregation: str = "sorted"):
        self.relations = tuple(relations)
        self.aggregation = aggregation
        init = nnx.initializers.glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(0,))
        self.kernel = nnx.Param(init(rngs.params(), (len(self.relations), in_dim, out_dim)))
        self.bias = nnx.Param(jnp.zeros((len(self.relations), out_dim)))

    def __call__(self, h: jax.Array, edges: Mapping[str, Edges], nodes: jax.Array | None = None, *,
                 num_receivers: int | None = None) -> jax.Array:
        """Output rows of every node, or only of `nodes`: then each relation aggregates at the input width and
        only the chosen rows are projected, which skips most of the layer's matmul work. With `num_receivers`,
        `edges` are a block's (senders index the rows of `h`, receivers 0..num_receivers-1) and the output has
        num_receivers rows."""
        n, (in_dim, out_dim) = h.shape[0], self.kernel.shape[1:]
        if num_receivers is not None:
            return self.project(jnp.stack([aggregate(h, edges[rel], num_receivers, self.aggregation)
                                           for rel in self.relations], axis=1))
        if nodes is not None:
            return self.project(jnp.stack([aggregate(h, edges[rel], n, self.aggregation)[nodes]
                                           for rel in self.relations], axis=1))
        out = jnp.zeros((n, out_dim), h.dtype)
        for i, rel in enumerate(self.relations):
            w = self.kernel[i]
            if out_dim < in_dim:
                out = out + aggregate(h @ w, edges[rel], n, self.aggregation)
            else:
                out = out + aggregate(h, edges[rel], n, self.aggregation) @ w
        return out + jnp.sum(self.bias[...], axis=0)

    def project(self, aggregated: jax.Array) -> jax.Array:
        """Σ_r a_r W_r + b_r from already aggregated inputs (rows, relations, in_dim): one matmul."""
        rows, r, in_dim = aggregated.shape
        kernel = self.kernel[...]
        return aggregated.reshape(rows, r * in_dim) @ kernel.reshape(r * in_dim, -1) + jnp.sum(self.bias[...], axis=0)


def aggregate_inputs(x: jax.Array, edges: Mapping[str, Edges], relations: Sequence[str],
                     how: str = "sorted") -> jax.Array:
    """(num_nodes, relations, dim): Â_r x for every relation, stacked. With fixed input features (CLHG trains on
    frozen encoder features) this is the first layer's whole aggregation, so it is computed once, outside the
    training step, and passed as `HeteroGCN(..., precomputed=True)` input: every step then skips 2 × relations
    sparse passes over the edges. Costs relations × the memory of x."""
    return jnp.stack([aggregate(x, edges[r], x.shape[0], how) for r in relations], axis=1)


class HeteroGCN(nnx.Module):
    """dims[0] → dims[1] → … → dims[-1] relational graph convolutions, then a linear head on chosen nodes."""

    def __init__(self, relations: Sequence[str], dims: Sequence[int] = (768, 512, 768), num_classes: int = 2, *,
                 dropout: float = 0.5, negative_slope: float = 0.01, aggregation: str = "sorted", rngs: nnx.Rngs):
        self.relations = tuple(relations)
        self.aggregation = aggregation
        self.layers = nnx.List([RelGraphConv(relations, a, b, rngs=rngs, aggregation=aggregation)
                                for a, b in zip(dims[:-1], dims[1:])])
        self.dropout = nnx.Dropout(dropout)
        self.negative_slope = negative_slope
        self.head = nnx.Linear(dims[-1], num_classes, rngs=rngs)

    def aggregate_inputs(self, x: jax.Array, edges: Mapping[str, Edges]) -> jax.Array:
        """`aggregate_inputs` for this model's relations and aggregation kernel."""
        return aggregate_inputs(x, edges, self.relations, self.aggregation)

    def embed(self, x: jax.Array, edges: Mapping[str, Edges], nodes: jax.Array | None = None, *,
              block: Block | None = None, rngs: nnx.Rngs | None = None, precomputed: bool = False,
              input_delta: jax.Array | None = None) -> jax.Array:
        """Last-layer outputs of every node, or of `nodes` only. `precomputed`: x is `aggregate_inputs(x, edges)`,
        (num_nodes, relations, dim), not the features. `block` (`xlgraph.graph.hetero.block(graph, nodes, ...)`):
        the last layer aggregates only the edges into `nodes`, and the layer before computes only the rows of
        the block's sources — with a precomputed first layer, a two-layer model then touches no other node.
        `input_delta` is added to the input rows the first layer reads (`input_shape`): with a block and a
        precomputed first layer, the batch's block sources; otherwise every node's."""
        last = len(self.layers) - 1
        if input_delta is not None and not self._reads_source_rows(block, precomputed):
            x = x + input_delta.astype(x.dtype)  # the whole input is read
            input_delta = None

        def act(h):
            return self.dropout(jax.nn.leaky_relu(h, self.negative_slope), deterministic=rngs is None, rngs=rngs)

        h = x
        for i, layer in enumerate(self.layers):
            rows = block.sources if block is not None and i == last - 1 else nodes if i == last else None
            if i == last and block is not None:
                if last == 0:  # a one-layer model reads the inputs at the sources
                    if precomputed:
                        raise ValueError("a one-layer model takes a block or precomputed inputs, not both")
                    h = h[block.sources]
                h = layer(h, block.edges, num_receivers=nodes.shape[0])
            elif i == 0 and precomputed:
                h = h if rows is None else h[rows]
                h = layer.project(h if input_delta is None else h + input_delta.astype(h.dtype))
            else:
                h = layer(h, edges, rows)
            if i < last:
                h = act(h)
        return h

    def _reads_source_rows(self, block: Block | None, precomputed: bool) -> bool:
        """Whether the first layer reads only the block's source rows (a two-layer model with a block and a
        precomputed first layer), where `input_delta` goes; else it reads (and `input_delta` covers) every node."""
        return precomputed and block is not None and len(self.layers) == 2

    def input_shape(self, x, block: Block | None = None, precomputed: bool | None = None) -> tuple[int, ...]:
        """The shape of `input_delta`: the input rows the first layer reads (see `embed`). `precomputed` None:
        x is the precomputed aggregation when it has a relation axis (num_nodes, relations, dim)."""
        precomputed = x.ndim == 3 if precomputed is None else precomputed
        if self._reads_source_rows(block, precomputed):
            return (block.sources.shape[0], *x.shape[1:])
        return tuple(x.shape)

    def __call__(self, x, edges, nodes: jax.Array, *, block: Block | None = None,
                 rngs: nnx.Rngs | None = None, precomputed: bool = False,
                 input_delta: jax.Array | None = None) -> jax.Array:
        """Logits (len(nodes), num_classes) for the node indices `nodes` (documents). Dropout iff `rngs`.
        `block` and `precomputed`: see `embed`; neither changes the result (with a block, dropout draws its
        masks for fewer rows, so they differ from the full graph's — the same distribution). `input_delta`: a
        perturbation of the input rows (FGSM), see `embed`."""
        h = self.embed(x, edges, nodes, block=block, rngs=rngs, precomputed=precomputed, input_delta=input_delta)
        return self.head(self.dropout(h, deterministic=rngs is None, rngs=rngs))
