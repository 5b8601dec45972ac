"""experiments/bench/align.py on tiny shapes: every column is printed, the agreement check passes, and a wrong
result makes it fail. scikit-learn is in the bench extra; without it the script runs with --no-sklearn."""

import json

try:
    import sklearn  # noqa: F401
    SKLEARN = True
except ImportError:
    SKLEARN = False


TINY = ["--n", "600", "--d", "12", "--repeats", "2", "--sk-n", "300", "--sk-components", "2",
        *([] if SKLEARN else ["--no-sklearn"])]


def test_side_by_side_and_agreement(experiment_script, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert experiment_script("bench/align.py").main([*TINY, "--sk-full", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    columns = ["xlgraph (jax.jit)", "numpy (np.linalg.svd)", "scipy (orthogonal_procrustes)", "numpy (eigh + svd)",
               "agreement: ok"]
    if SKLEARN:
        columns += ["scikit-learn CCA, 2 components", "on all 600 rows"]
    for column in columns:
        assert column in text, column
    r = json.loads(out.read_text())
    assert r["failures"] == []
    pro, cca = r["procrustes"], r["cca"]
    assert set(pro["seconds"]) == {"xlgraph", "numpy", "scipy"} and all(t > 0 for t in pro["seconds"].values())
    assert pro["compile_s"] > 0 and cca["compile_s"] > 0
    assert max(pro["max_abs_diff_w"].values()) < 1e-4 and max(cca["max_abs_diff_corr"].values()) < 1e-4
    if SKLEARN:
        assert cca["sklearn_rows"] == 300 and cca["sklearn_max_abs_diff_corr"] < 1e-4
        assert cca["speedup_vs_sklearn"] > 0 and cca["sklearn_full_s"] > 0


def test_a_wrong_result_fails_the_agreement_check(experiment_script, capsys):
    bench = experiment_script("bench/align.py")
    right = bench.scipy_procrustes
    bench.scipy_procrustes = lambda x, y: right(x, y) * 1.001  # off by 1e-3 relative: must be caught
    assert bench.main([*TINY, "--no-sklearn"]) == 1
    text = capsys.readouterr().out
    assert "agreement: FAILED" in text and "Procrustes W of scipy" in text and "xlgraph" not in text.split("FAILED")[1]
