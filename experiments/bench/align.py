"""Procrustes and CCA fits, side by side: xlgraph (jax.numpy, jitted; compile time apart, `block_until_ready`) vs
numpy's closed forms (`np.linalg.svd`, `np.linalg.eigh`), scipy's `orthogonal_procrustes` and scikit-learn's
iterative `CCA` (NIPALS), on synthetic dictionary pairs of n rows × d dimensions, float32.

Procrustes: every implementation normalises the rows, forms M = Yᵀ X and takes its SVD (scipy on rows normalised
by numpy inside the timing). CCA: centred covariances, whitening by eigh, SVD (λ = 0, as scikit-learn has no
ridge). scikit-learn computes one component per NIPALS power iteration, in float64, with a pseudo-inverse of X and
Y for each: minutes per component at this size. So it fits `--sk-components` components on the first `--sk-n`
rows, once (the fit alone is timed), and the speed-up is against xlgraph's CCA of the same rows, which computes all
d components; `--sk-full` also fits it on all n rows. Each repeat runs every implementation once, in turn, so a
busy machine slows them alike; medians.

The results must agree, or the script exits with status 1: W and the canonical correlations within 1e-4 of a
float64 numpy reference, the top components' CCA coefficients within 1e-3 (relative, up to sign), and
scikit-learn's per-component correlations within 1e-4 of xlgraph's on the same rows.

    pip install 'xlgraph[bench]'
    python experiments/bench/align.py [--n 200000 --d 300 --repeats 5 --sk-n 20000 --sk-components 3 --sk-full]

On a machine other jobs are using, one core and one thread per library give steadier ratios:
    OPENBLAS_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
        taskset -c 1 python experiments/bench/align.py
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import time
import warnings

import jax
import numpy as np

from xlgraph.align.cca import cca
from xlgraph.align.procrustes import procrustes
from xlgraph.config import at_least

W_TOL = CORR_TOL = SK_TOL = 1e-4
COEF_TOL = 1e-3
STRONG = 5  # CCA components with well separated correlations: the ones whose coefficients are compared


def _orthogonal(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def procrustes_pairs(n, d, rng):
    """Y ≈ X R for a random rotation R, plus noise; rows of varying length, so that normalising them matters."""
    x = rng.standard_normal((n, d), np.float32)
    y = x @ _orthogonal(d, rng).astype(np.float32) + 0.5 * rng.standard_normal((n, d), np.float32)
    x *= rng.lognormal(0, 0.5, (n, 1)).astype(np.float32)
    y *= rng.lognormal(0, 0.5, (n, 1)).astype(np.float32)
    return x, y


def cca_pairs(n, d, rng):
    """Mixed, shifted views of shared latent factors whose population canonical correlations are `c`: a few
    strong, well separated ones, then a tail down to 0."""
    strong = min(STRONG, d)
    c = np.concatenate([0.95 - 0.1 * np.arange(strong), np.linspace(0.95 - 0.1 * strong, 0.0, d - strong)])
    z = rng.standard_normal((n, d), np.float32)
    noise = rng.standard_normal((n, d), np.float32)
    mix = [(_orthogonal(d, rng) * np.linspace(0.5, 2.0, d)).astype(np.float32) for _ in range(2)]
    x = z @ mix[0] + 0.5
    y = (z * c.astype(np.float32) + noise * np.sqrt(1 - c ** 2).astype(np.float32)) @ mix[1] - 0.5
    return x, y


# --- the numpy / scipy / scikit-learn implementations -----------------------------------------------------------

def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def numpy_procrustes(x, y):
    u, _, vt = np.linalg.svd(_unit(y).T @ _unit(x))
    return (u @ vt).T


def scipy_procrustes(x, y):
    from scipy.linalg import orthogonal_procrustes

    return orthogonal_procrustes(_unit(x), _unit(y), check_finite=False)[0]  # argmin_R ‖X R − Y‖: our W


def numpy_cca(x, y):
    """(A, B, correlations): the closed form xlgraph computes, in numpy at the inputs' precision."""
    n = len(x)
    xc, yc = x - x.mean(0), y - y.mean(0)

    def inv_sqrt(c):
        vals, vecs = np.linalg.eigh(c)
        return (vecs / np.sqrt(vals)) @ vecs.T

    wx, wy = inv_sqrt(xc.T @ xc / n), inv_sqrt(yc.T @ yc / n)
    u, s, vt = np.linalg.svd(wx @ (xc.T @ yc / n) @ wy)
    k = min(x.shape[1], y.shape[1])
    return wx @ u[:, :k], wy @ vt[:k].T, s[:k]


def sklearn_cca(x, y, k):
    """(seconds the fit took, correlation of each of its k component pairs, components that hit max_iter)."""
    from sklearn.cross_decomposition import CCA
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t0 = time.perf_counter()
        model = CCA(n_components=k).fit(x, y)
        seconds = time.perf_counter() - t0
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    xs, ys = model.transform(x, y)
    corr = np.array([np.corrcoef(xs[:, i], ys[:, i])[0, 1] for i in range(k)])
    return seconds, corr, unconverged


# --- timing ------------------------------------------------------------------------------------------------------

def _jitted(fn, *args):
    """(compiled function, compile seconds) of `fn` for these arguments."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - t0


def _median_times(fns: dict, repeats: int) -> dict:
    """Median seconds of each function; every repeat runs each once, in turn, after one untimed warm-up call."""
    for fn in fns.values():
        jax.block_until_ready(fn())
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn())
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _sign_match(a, ref):
    """`a`'s columns flipped to point the way `ref`'s do (canonical directions are defined up to a sign)."""
    return a * np.sign(np.sum(a * ref, axis=0))


def _row(name, seconds, ratio="", compile_s=None, delta=None):
    extra = f"compile {compile_s:6.2f} s" if compile_s is not None else ""
    err = f"{delta:.1e}" if delta is not None else ""
    return f"  {name:34} {seconds:9.3f} s  {ratio:>18}  {err:>9}  {extra}"


def bench_procrustes(n, d, repeats, rng) -> tuple[dict, list[str], list[str]]:
    x, y = procrustes_pairs(n, d, rng)
    ref = numpy_procrustes(x.astype(np.float64), y.astype(np.float64))
    xj, yj = jax.device_put(x), jax.device_put(y)
    ours, compile_s = _jitted(procrustes, xj, yj)
    times = _median_times({"xlgraph": lambda: ours(xj, yj), "numpy": lambda: numpy_procrustes(x, y),
                           "scipy": lambda: scipy_procrustes(x, y)}, repeats)
    deltas = {"xlgraph": float(np.abs(np.asarray(ours(xj, yj), np.float64) - ref).max()),
              "numpy": float(np.abs(numpy_procrustes(x, y) - ref).max()),
              "scipy": float(np.abs(scipy_procrustes(x, y) - ref).max())}
    base = times["numpy"]
    lines = [_row("xlgraph (jax.jit)", times["xlgraph"], f"{times['xlgraph'] / base:.2f}× numpy", compile_s,
                  deltas["xlgraph"]),
             _row("numpy (np.linalg.svd)", times["numpy"], "1.00× numpy", None, deltas["numpy"]),
             _row("scipy (orthogonal_procrustes)", times["scipy"], f"{times['scipy'] / base:.2f}× numpy", None,
                  deltas["scipy"])]
    failures = [f"Procrustes W of {k} differs from the float64 reference by {v:.1e} > {W_TOL}"
                for k, v in deltas.items() if not v <= W_TOL]
    return {"seconds": times, "compile_s": compile_s, "max_abs_diff_w": deltas}, lines, failures


def _cca_deltas(a, corr, ref_a, ref_corr):
    top = min(STRONG, a.shape[1])
    rel = np.abs(_sign_match(a[:, :top], ref_a[:, :top]) - ref_a[:, :top]).max() / np.abs(ref_a[:, :top]).max()
    return float(np.abs(corr - ref_corr).max()), float(rel)


def bench_cca(n, d, repeats, rng, sk_n, sk_k, sk_full, sklearn=True) -> tuple[dict, list[str], list[str]]:
    x, y = cca_pairs(n, d, rng)
    ref_a, _, ref_corr = numpy_cca(x.astype(np.float64), y.astype(np.float64))
    xj, yj = jax.device_put(x), jax.device_put(y)
    fit = functools.partial(cca, reg=0.0)
    ours, compile_s = _jitted(fit, xj, yj)
    fns = {"xlgraph": lambda: ours(xj, yj), "numpy": lambda: numpy_cca(x, y)}
    rows = min(sk_n, n)
    if sklearn:  # xlgraph on scikit-learn's rows too, for the speed-up
        xs, ys = jax.device_put(x[:rows]), jax.device_put(y[:rows])
        ours_sub, compile_sub = _jitted(fit, xs, ys)
        fns["xlgraph_sub"] = lambda: ours_sub(xs, ys)
    times = _median_times(fns, repeats)
    a, _, _, _, corr = (np.asarray(v, np.float64) for v in ours(xj, yj))
    np_a, _, np_corr = numpy_cca(x, y)
    deltas = {"xlgraph": _cca_deltas(a, corr, ref_a, ref_corr), "numpy": _cca_deltas(np_a, np_corr, ref_a, ref_corr)}
    failures = [f"CCA of {k}: correlations differ from the float64 reference by {c:.1e} > {CORR_TOL}, or the top "
                f"{STRONG} coefficient columns by {r:.1e} > {COEF_TOL} (relative)"
                for k, (c, r) in deltas.items() if not (c <= CORR_TOL and r <= COEF_TOL)]
    lines = [_row("xlgraph (jax.jit)", times["xlgraph"], f"{times['xlgraph'] / times['numpy']:.2f}× numpy",
                  compile_s, deltas["xlgraph"][0]),
             _row("numpy (eigh + svd)", times["numpy"], "1.00× numpy", None, deltas["numpy"][0])]
    result = {"seconds": times, "compile_s": compile_s, "max_abs_diff_corr": {k: v[0] for k, v in deltas.items()},
              "rel_diff_top_coef": {k: v[1] for k, v in deltas.items()}}
    if not sklearn:
        return result, lines, failures

    sk_s, sk_corr, unconverged = sklearn_cca(x[:rows], y[:rows], sk_k)
    sk_delta = float(np.abs(sk_corr - np.asarray(ours_sub(xs, ys)[4], np.float64)[:sk_k]).max())
    if not sk_delta <= SK_TOL:
        failures.append(f"scikit-learn's component correlations on {rows} rows differ from xlgraph's by "
                        f"{sk_delta:.1e} > {SK_TOL}")
    lines += [f"  on the first {rows} rows (scikit-learn: {sk_k} of {d} components, one fit; {unconverged} hit "
              "max_iter):",
              _row("xlgraph (jax.jit), all components", times["xlgraph_sub"], "", compile_sub),
              _row(f"scikit-learn CCA, {sk_k} components", sk_s, f"{sk_s / times['xlgraph_sub']:.0f}× slower", None,
                   sk_delta)]
    result.update(sklearn_rows=rows, sklearn_components=sk_k, sklearn_s=sk_s, sklearn_unconverged=unconverged,
                  sklearn_max_abs_diff_corr=sk_delta, speedup_vs_sklearn=sk_s / times["xlgraph_sub"])
    if sk_full and rows < n:
        full_s, full_corr, full_unconverged = sklearn_cca(x, y, sk_k)
        full_delta = float(np.abs(full_corr - corr[:sk_k]).max())
        if not full_delta <= SK_TOL:
            failures.append(f"scikit-learn's correlations on all {n} rows differ from xlgraph's by {full_delta:.1e} "
                            f"> {SK_TOL}")
        lines += [f"  on all {n} rows ({full_unconverged} scikit-learn components hit max_iter):",
                  _row(f"scikit-learn CCA, {sk_k} components", full_s, f"{full_s / times['xlgraph']:.0f}× slower",
                       None, full_delta)]
        result.update(sklearn_full_s=full_s, sklearn_full_max_abs_diff_corr=full_delta,
                      speedup_vs_sklearn_full=full_s / times["xlgraph"])
    return result, lines, failures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=at_least(1), default=200_000, help="dictionary pairs (rows)")
    p.add_argument("--d", type=at_least(1), default=300, help="dimensions")
    p.add_argument("--repeats", type=at_least(1), default=5)
    p.add_argument("--sk-n", type=at_least(1), default=20_000, help="rows scikit-learn's CCA is fitted on")
    p.add_argument("--sk-components", type=at_least(1), default=3, help="components scikit-learn's CCA computes")
    p.add_argument("--sk-full", action="store_true", help="also fit scikit-learn's CCA on all n rows (slow)")
    p.add_argument("--no-sklearn", action="store_true", help="leave scikit-learn out (not installed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the figures to this file")
    args = p.parse_args(argv)
    if not 1 <= args.sk_components <= args.d:
        p.error(f"--sk-components must be between 1 and --d ({args.d})")
    rng = np.random.default_rng(args.seed)
    print(f"alignment fits · {args.n} pairs × {args.d} dims, float32 · {jax.devices()[0].platform} · median of "
          f"{args.repeats} · columns: time, ratio, max |Δ| vs float64 numpy (W; correlations), compile")
    print("Procrustes (normalise rows, M = YᵀX, SVD, W = UVᵀ)")
    pro, lines, failures = bench_procrustes(args.n, args.d, args.repeats, rng)
    print("\n".join(lines), flush=True)
    print("CCA (centre, covariances, eigh whitening, SVD; λ = 0)")
    cc, lines, more = bench_cca(args.n, args.d, args.repeats, rng, args.sk_n, args.sk_components, args.sk_full,
                          sklearn=not args.no_sklearn)
    print("\n".join(lines))
    failures += more
    print("agreement: ok" if not failures else "agreement: FAILED\n  " + "\n  ".join(failures))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "procrustes": pro, "cca": cc, "failures": failures}, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
