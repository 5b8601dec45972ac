"""Heterogeneous GCN forward + backward step, side by side: xlgraph (jitted, three aggregation kernels) vs
PyTorch Geometric (a GCNConv per relation with the same precomputed symmetric weights, no self loops, summed
over relations — the same function), on one synthetic graph: 50k nodes, 1M edges over 5 relations,
768 → 512 → 768, a loss on 256 nodes. Medians over repeats, JAX compile time apart.

    pip install torch-geometric        # on the CPU torch of the test extra
    python experiments/bench/hetero_gcn.py [--nodes 50000 --edges 1000000 --relations 5 --repeats 5]
"""

import argparse
import functools
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from xlgraph.config import at_least
from xlgraph.graph import hetero
from xlgraph.models.hetero_gcn import AGGREGATIONS, HeteroGCN
from xlgraph.objectives.classification import node_classification_loss
from xlgraph.train.steps import init_state, make_train_step


def synthetic(nodes, edges, relations, seed=0):
    """Per relation: random edges, symmetric normalisation with degrees clamped to ≥ 1, sorted by receiver."""
    rng = np.random.default_rng(seed)
    out = {}
    for r in range(relations):
        s = rng.integers(0, nodes, edges // relations).astype(np.int32)
        t = rng.integers(0, nodes, edges // relations).astype(np.int32)
        deg_out = np.maximum(np.bincount(s, minlength=nodes), 1)
        deg_in = np.maximum(np.bincount(t, minlength=nodes), 1)
        w = (1 / np.sqrt(deg_out[s] * deg_in[t])).astype(np.float32)
        order = np.argsort(t, kind="stable")
        out[f"r{r}"] = (s[order], t[order], w[order])
    return out


def time_jax(x, edges, targets, labels, dims, aggregation, repeats, precompute=False, graph=None):
    """(median step s, compile s, precompute s or None) of the library's own step (`train.steps.make_train_step`
    with the graph and features as constant arguments, `objectives.classification.node_classification_loss`), as
    method=clhg runs it. With `graph` (a HeteroGraph of the same edges), the last layer takes the block of edges
    into the targets, built on the host inside every timed step."""
    model = HeteroGCN(list(edges), dims, num_classes=4, aggregation=aggregation, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(model)
    tx = optax.adamw(1e-3)
    edges = jax.device_put(edges)
    pre_s = None
    if precompute:  # the features are fixed, so the first layer's aggregation is done once, outside the step
        agg = jax.jit(model.aggregate_inputs)
        jax.block_until_ready(agg(x, edges))  # compile apart
        t0 = time.perf_counter()
        x = jax.block_until_ready(agg(x, edges))
        pre_s = time.perf_counter() - t0
    loss = functools.partial(node_classification_loss, precomputed=precompute)
    step = make_train_step(graphdef, tx, loss, consts={"x": x, "edges": edges})
    budget = hetero.block_budget(graph, np.arange(graph.num_nodes), len(targets)) if graph else None

    def batch():
        out = {"nodes": targets, "labels": labels, "weight": np.ones(len(targets), np.float32)}
        if graph:
            block = hetero.block(graph, np.asarray(targets), budget)
            out.update(sources=block.sources, block=block.edges)
        return out

    key = jax.random.key(0)
    state = init_state(params, tx)
    t0 = time.perf_counter()
    state, metrics = step(state, batch(), key)  # the first call compiles
    jax.block_until_ready(metrics)
    compile_s = time.perf_counter() - t0
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        state, metrics = step(state, batch(), jax.random.fold_in(key, i))
        jax.block_until_ready(metrics)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), compile_s, pre_s


def time_pyg(x, edges, targets, labels, dims, repeats):
    import torch
    from torch_geometric.nn import GCNConv

    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # the same platform as JAX's, on a GPU
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    layers = torch.nn.ModuleList([torch.nn.ModuleList([GCNConv(a, b, normalize=False, add_self_loops=False)
                                                       for _ in edges]) for a, b in zip(dims[:-1], dims[1:])])
    head = torch.nn.Linear(dims[-1], 4)
    layers, head = layers.to(device), head.to(device)
    opt = torch.optim.AdamW(list(layers.parameters()) + list(head.parameters()), lr=1e-3)
    xt = torch.as_tensor(np.array(x), device=device)
    graph = [(torch.as_tensor(np.stack([s, t]).astype(np.int64), device=device), torch.as_tensor(w, device=device))
             for s, t, w in edges.values()]
    tt = torch.as_tensor(np.array(targets), dtype=torch.long, device=device)
    yt = torch.as_tensor(np.array(labels), dtype=torch.long, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        h = xt
        for i, convs in enumerate(layers):
            h = sum(conv(h, ei, ew) for conv, (ei, ew) in zip(convs, graph))
            if i < len(layers) - 1:
                h = torch.nn.functional.dropout(torch.nn.functional.leaky_relu(h, 0.01), 0.5)
        loss = torch.nn.functional.cross_entropy(head(torch.nn.functional.dropout(h[tt], 0.5)), yt)
        loss.backward()
        opt.step()

    step()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=at_least(1), default=50_000)
    p.add_argument("--edges", type=at_least(1), default=1_000_000)
    p.add_argument("--relations", type=at_least(1), default=5)
    p.add_argument("--dims", default="768,512,768")
    p.add_argument("--repeats", type=at_least(1), default=5)
    p.add_argument("--aggregations", default=",".join(AGGREGATIONS))
    p.add_argument("--no-pyg", action="store_true")
    p.add_argument("--no-precompute", action="store_true", help="skip the run with the first layer's ÂX precomputed")
    args = p.parse_args(argv)
    dims = tuple(int(d) for d in args.dims.split(","))
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((args.nodes, dims[0]), np.float32))
    targets = jnp.asarray(rng.choice(args.nodes, 256, replace=False).astype(np.int32))
    labels = jnp.asarray(rng.integers(0, 4, 256).astype(np.int32))
    edges = synthetic(args.nodes, args.edges, args.relations)
    print(f"hetero GCN fwd+bwd+AdamW · {args.nodes} nodes, {args.edges} edges, {args.relations} relations, "
          f"{'→'.join(map(str, dims))} · {jax.devices()[0].platform} · median of {args.repeats}")
    rows = {}
    for how in args.aggregations.split(","):
        rows[f"xlgraph ({how})"] = time_jax(x, edges, targets, labels, dims, how, args.repeats)
    if not args.no_precompute:
        rows["xlgraph (sorted, fixed ÂX)"] = time_jax(x, edges, targets, labels, dims, "sorted", args.repeats,
                                                      precompute=True)
        graph = hetero.HeteroGraph(args.nodes, {r: hetero.Relation(*e) for r, e in edges.items()},
                                   {r: len(e[0]) for r, e in edges.items()})
        rows["xlgraph (fixed ÂX + block)"] = time_jax(x, edges, targets, labels, dims, "sorted", args.repeats,
                                                      precompute=True, graph=graph)
    if not args.no_pyg:
        rows["PyTorch Geometric"] = (time_pyg(x, edges, targets, labels, dims, args.repeats), None, None)
    pyg = rows.get("PyTorch Geometric", (None,))[0]
    for name, (t, compile_s, pre_s) in rows.items():
        extra = f"  compile {compile_s:.1f}s" if compile_s else ""
        extra += f"  ÂX once {pre_s:.2f}s" if pre_s else ""
        ratio = f"  {t / pyg:.2f}× PyG" if pyg else ""
        print(f"{name:28} {t * 1e3:9.1f} ms{ratio}{extra}")


if __name__ == "__main__":
    main()
