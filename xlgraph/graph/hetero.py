"""A heterogeneous graph as normalised, padded edge lists per relation, built once on the host with numpy
(`graphs_tuples` gives them as one jraph.GraphsTuple per relation; the GCN takes either form).

Documents and words share one node index space 0..num_nodes-1; the caller keeps the layout. Each relation
holds edges s → r sorted by receiver (then sender), weighted 1/sqrt(deg_out(s) · deg_in(r)): the entries of
D_in^-1/2 A D_out^-1/2 with A[r, s] = 1 per edge (DGL's GraphConv norm="both"). Degrees are counted on that
relation's own edges after symmetrising and removing duplicates, and clamped to ≥ 1, so nodes without edges
get no inf or NaN. The normalisation is global, computed once; the official code computed it per minibatch
block, so training and inference saw different graphs.

Padding: each relation is padded to a static budget with edges DUMMY → DUMMY of weight 0, DUMMY = num_nodes.
Consumers allocate num_nodes + 1 rows and drop the last (`propagate` appends a zero row). Why a dummy node
and not node 0: padding stays at the end of the receiver-sorted order (sorted segment ops stay valid), it
never touches a real node (0 · inf in a real row would give NaN), and it stays harmless if weights are
later changed. With weight 0 it also adds nothing where a consumer keeps only num_nodes rows: JAX clamps
out-of-range gathers and drops out-of-range segment ids.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from xlgraph.errors import XlgraphError

log = logging.getLogger("xlgraph")

PAD_MULTIPLE = 1024
EDGE_BYTES = 12  # int32 sender, int32 receiver, float32 weight


class Relation(NamedTuple):
    """One relation's padded edges: int32 senders and receivers, float32 weights (0 on padding).

    A 3-tuple, the form `xlgraph.models.hetero_gcn` takes for the edges of one relation."""

    senders: np.ndarray
    receivers: np.ndarray
    weights: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class HeteroGraph:
    """Pure data: `edges[name]` per relation (in relation order), `num_edges[name]` real edges before padding."""

    num_nodes: int
    edges: dict[str, Relation]
    num_edges: dict[str, int]

    @property
    def relations(self) -> tuple[str, ...]:
        return tuple(self.edges)

    @property
    def dummy(self) -> int:
        """The node index that padding edges point at."""
        return self.num_nodes

    @functools.cached_property
    def indptr(self) -> dict[str, np.ndarray]:
        """Per relation, CSR row pointers over receivers: node r's edges are indptr[r]:indptr[r + 1]."""
        return {name: np.searchsorted(rel.receivers[: self.num_edges[name]], np.arange(self.num_nodes + 1))
                for name, rel in self.edges.items()}


def default_budget(num_edges: int) -> int:
    """The smallest multiple of PAD_MULTIPLE that holds `num_edges` (at least one), so similar graphs share shapes."""
    return max(1, -(-num_edges // PAD_MULTIPLE)) * PAD_MULTIPLE


def build(num_nodes: int, edges: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
          symmetric: Mapping[str, bool] | bool = True, budget: Mapping[str, int] | None = None) -> HeteroGraph:
    """Per relation: adds reversed edges (if symmetric), removes duplicates, normalises, pads to its budget.

    Nothing else is dropped: self-loops are kept (once each). Relations missing from a `symmetric` mapping
    are symmetrised; missing from `budget`, they get `default_budget`. Raises XlgraphError on node indices out
    of range, unknown relation names in `symmetric` or `budget`, and more edges than a budget allows."""
    if not 0 < num_nodes < np.iinfo(np.int32).max:
        raise XlgraphError(f"num_nodes={num_nodes}: must be between 1 and {np.iinfo(np.int32).max - 1}")
    budget = dict(budget or {})
    sym = dict(symmetric) if isinstance(symmetric, Mapping) else dict.fromkeys(edges, bool(symmetric))
    for what, names in (("symmetric", sym), ("budget", budget)):
        if unknown := sorted(set(names) - set(edges)):
            raise XlgraphError(f"{what} names relations the graph does not have: {unknown} (has {list(edges)})")
    out, counts = {}, {}
    for name, (senders, receivers) in edges.items():
        s, r = _checked(name, senders, receivers, num_nodes)
        if sym.get(name, True):
            s, r = np.concatenate([s, r]), np.concatenate([r, s])
        # one int64 key per edge: np.unique both dedups and sorts by receiver, in linear memory
        r, s = np.divmod(np.unique(r * num_nodes + s), num_nodes)
        size = budget.get(name, default_budget(len(s)))
        if len(s) > size:
            raise XlgraphError(f"relation {name!r}: {len(s)} edges (after symmetrising and dedup) exceed its "
                               f"budget of {size}")
        deg_out = np.maximum(np.bincount(s, minlength=num_nodes), 1)
        deg_in = np.maximum(np.bincount(r, minlength=num_nodes), 1)
        w = 1.0 / np.sqrt(deg_out[s] * deg_in[r].astype(np.float64))
        pad = size - len(s)
        out[name] = Relation(np.concatenate([s, np.full(pad, num_nodes)]).astype(np.int32),
                             np.concatenate([r, np.full(pad, num_nodes)]).astype(np.int32),
                             np.concatenate([w, np.zeros(pad)]).astype(np.float32))
        counts[name] = len(s)
    return HeteroGraph(num_nodes, out, counts)


def _checked(name: str, senders, receivers, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    s, r = np.asarray(senders), np.asarray(receivers)
    if s.ndim != 1 or s.shape != r.shape:
        raise XlgraphError(f"relation {name!r}: senders and receivers must be 1-D and of one length, "
                           f"got shapes {s.shape} and {r.shape}")
    for a in (s, r):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise XlgraphError(f"relation {name!r}: node indices must be integers, got {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= num_nodes):
            bad = a.min() if a.min() < 0 else a.max()
            raise XlgraphError(f"relation {name!r}: node index {bad} outside 0..{num_nodes - 1}")
    return s.astype(np.int64), r.astype(np.int64)


def propagate(graph: HeteroGraph, relation: str, x: jax.Array) -> jax.Array:
    """y[r] = Σ over edges s → r of w · x[s]: the relation's normalised adjacency times x (num_nodes rows)."""
    senders, receivers, weights = graph.edges[relation]
    n = graph.num_nodes
    if x.shape[0] != n:
        raise ValueError(f"x has {x.shape[0]} rows; the graph has {n} nodes")
    x = jnp.concatenate([jnp.asarray(x), jnp.zeros((1, *x.shape[1:]), x.dtype)])  # the dummy row
    messages = x[senders] * jnp.asarray(weights, x.dtype).reshape(-1, *(1,) * (x.ndim - 1))
    return jax.ops.segment_sum(messages, receivers, num_segments=n + 1, indices_are_sorted=True)[:n]


def graphs_tuples(graph: HeteroGraph, nodes=None) -> dict:
    """The graph as one `jraph.GraphsTuple` per relation: senders, receivers, the normalised weights as `edges`
    (padding included: n_edge is the budget), n_node = num_nodes + 1 (the dummy), `nodes` as given (e.g. the
    features with the dummy row). `xlgraph.models.hetero_gcn` takes these or the plain `Relation`s."""
    import jraph

    return {name: jraph.GraphsTuple(nodes=nodes, edges=rel.weights, receivers=rel.receivers, senders=rel.senders,
                                    globals=None, n_node=np.array([graph.num_nodes + 1]),
                                    n_edge=np.array([len(rel.senders)]))
            for name, rel in graph.edges.items()}


def in_degrees(graph: HeteroGraph) -> dict[str, np.ndarray]:
    """Per relation, the number of real edges into each node (num_nodes,)."""
    return {name: np.bincount(rel.receivers[: graph.num_edges[name]], minlength=graph.num_nodes)
            for name, rel in graph.edges.items()}


def block_budget(graph: HeteroGraph, candidates: np.ndarray, batch_size: int) -> dict[str, int]:
    """Per relation, the most edges that can enter any `batch_size` nodes drawn from `candidates`: the sum of
    their `batch_size` largest in-degrees (at least 1), so `block` shapes stay fixed across batches."""
    out = {}
    for name, deg in in_degrees(graph).items():
        d = np.sort(deg[np.asarray(candidates)])[::-1]
        out[name] = max(1, int(d[:batch_size].sum()))
    return out


class Block(NamedTuple):
    """The edges into a batch of nodes, for the last GCN layer (DGL calls this a block).

    `sources`: the graph nodes those edges come from (unique, sorted; padded with node 0), the only rows of the
    previous layer the last layer reads. `edges[relation]`: senders are positions in `sources`, receivers are
    positions in the batch; padding edges have weight 0 and receiver len(batch), which segment ops drop."""

    sources: np.ndarray
    edges: dict[str, Relation]


def block(graph: HeteroGraph, nodes: np.ndarray, budget: Mapping[str, int]) -> Block:
    """The `Block` of edges into `nodes`, each relation padded to `budget[relation]` edges and the sources to
    sum(budget) rows, so shapes stay fixed across batches. Built on the host from the receiver-sorted edges;
    raises XlgraphError when a relation has more edges into `nodes` than its budget (use `block_budget`)."""
    nodes = np.asarray(nodes, np.int64)
    picked = {}
    for name, rel in graph.edges.items():
        indptr = graph.indptr[name]
        starts, counts = indptr[nodes], indptr[nodes + 1] - indptr[nodes]
        total = int(counts.sum())
        if total > budget[name]:
            raise XlgraphError(f"relation {name!r}: {total} edges enter these {len(nodes)} nodes, over the "
                               f"block budget of {budget[name]}")
        first = np.cumsum(counts) - counts  # where each node's edges start in the block
        idx = np.repeat(starts - first, counts) + np.arange(total)
        picked[name] = (idx, np.repeat(np.arange(len(nodes)), counts))
    sources = np.unique(np.concatenate([graph.edges[name].senders[idx] for name, (idx, _) in picked.items()]
                                       + [np.zeros(0, np.int32)]))
    edges = {}
    for name, (idx, receivers) in picked.items():
        rel, pad = graph.edges[name], budget[name] - len(idx)
        edges[name] = Relation(
            np.concatenate([np.searchsorted(sources, rel.senders[idx]), np.zeros(pad, np.int64)]).astype(np.int32),
            np.concatenate([receivers, np.full(pad, len(nodes))]).astype(np.int32),
            np.concatenate([rel.weights[idx], np.zeros(pad, np.float32)]).astype(np.float32))
    size = sum(budget[name] for name in graph.edges)
    return Block(np.concatenate([sources, np.zeros(size - len(sources), np.int64)]).astype(np.int32), edges)


def estimate_bytes(num_nodes: int, edge_counts: Mapping[str, int], feature_dim: int) -> int:
    """Bytes of the padded graph (budgets as `build` picks them) and one float32 feature matrix with the
    dummy row. `edge_counts` are edges as stored, i.e. after symmetrising: about twice the input edges."""
    edges = sum(default_budget(c) for c in edge_counts.values()) * EDGE_BYTES
    return edges + (num_nodes + 1) * feature_dim * 4


def available_memory() -> int | None:
    """Bytes of RAM available now: MemAvailable from /proc/meminfo, else os.sysconf; None if neither works."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_fits(estimate: int, available: int | None = None) -> None:
    """Raises XlgraphError when `estimate` bytes exceed `available` (default: the RAM available now)."""
    available = available_memory() if available is None else available
    if available is None:
        log.warning("cannot tell the available memory; not checking that %s fits", human_bytes(estimate))
    elif estimate > available:
        raise XlgraphError(f"the graph and features need about {human_bytes(estimate)} but only "
                           f"{human_bytes(available)} of memory is available; use fewer nodes or edges")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # unreachable


def save(graph: HeteroGraph, path: str | Path, extra: Mapping[str, np.ndarray] | None = None) -> None:
    """Writes one .npz at exactly `path`, without pickles (relation names are a unicode array). `extra` arrays
    (non-object dtypes) are stored beside, for `load_extra`."""
    arrays = {"num_nodes": np.int64(graph.num_nodes), "relations": np.array(graph.relations, dtype=str),
              "num_edges": np.array([graph.num_edges[r] for r in graph.relations], np.int64)}
    arrays |= {f"extra_{name}": np.asarray(a) for name, a in (extra or {}).items()}
    for i, rel in enumerate(graph.edges.values()):  # keys by position: relation names may be any string
        arrays |= {f"{field}_{i}": a for field, a in zip(Relation._fields, rel)}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz"
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load(path: str | Path) -> HeteroGraph:
    """The graph `save` wrote to `path` (never unpickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            names = [str(name) for name in z["relations"]]
            edges = {name: Relation(*(z[f"{field}_{i}"] for field in Relation._fields))
                     for i, name in enumerate(names)}
            counts = {name: int(c) for name, c in zip(names, z["num_edges"], strict=True)}
            return HeteroGraph(int(z["num_nodes"]), edges, counts)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise XlgraphError(f"{path}: not a graph written by xlgraph.graph.hetero.save ({e})") from None


def load_extra(path: str | Path) -> dict[str, np.ndarray]:
    """The `extra` arrays `save` stored with a graph (never unpickles)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {key.removeprefix("extra_"): z[key] for key in z.files if key.startswith("extra_")}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise XlgraphError(f"{path}: not a graph written by xlgraph.graph.hetero.save ({e})") from None
