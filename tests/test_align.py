import re

import numpy as np
import pytest

from xlgraph.align.cca import cca
from xlgraph.text.dictionary import identical_dictionary, load_dictionary, pair_indices
from xlgraph.align.evaluate import translation_precision
from xlgraph.align.mapping import (Alignment, LinearMap, align, align_to_pivot, evaluate_alignment, fit_pairs,
                                   refine_alignment)
from xlgraph.align.procrustes import procrustes, procrustes_truncated
from xlgraph.align.retrieval import _block_top_k, mean_top_k_cosine, mutual_nearest, nearest, top_k
from xlgraph.cli import main
from xlgraph.errors import DataError, XlgraphError
from xlgraph.text.vectors import keyed_vectors, load_vectors, save_vectors


def _orthogonal(d, rng):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def _spaces(n=2000, d=32, noise=0.1, seed=0, shared=0):
    """Target vectors Y and source vectors X = Y R + noise for a random rotation R: source word s{i} translates
    to t{i}, and X Rᵀ ≈ Y. The first `shared` words are spelt the same in both ("n{i}"), like names."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, d)).astype(np.float32)
    r = _orthogonal(d, rng)
    x = (y @ r + noise * rng.normal(size=(n, d))).astype(np.float32)
    src = [f"n{i}" if i < shared else f"s{i}" for i in range(n)]
    tgt = [f"n{i}" if i < shared else f"t{i}" for i in range(n)]
    return keyed_vectors(src, x), keyed_vectors(tgt, y), r


def _dictionary(lo, hi, shared=0):
    return {(f"n{i}" if i < shared else f"s{i}"): ((f"n{i}" if i < shared else f"t{i}"),) for i in range(lo, hi)}


TRAIN, TEST = _dictionary(0, 1000), _dictionary(1500, 2000)


def _unit(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


# --- Procrustes -------------------------------------------------------------------------------------------------

def test_procrustes_recovers_a_known_rotation():
    src, tgt, r = _spaces()
    alignment = align(src, tgt, TRAIN)
    w = alignment.src.matrix
    assert np.abs(w - r.T).max() < 0.02  # X W ≈ Y, W = Rᵀ
    np.testing.assert_allclose(w.T @ w, np.eye(32), atol=1e-5)
    scores = evaluate_alignment(alignment, src, tgt, TEST)
    assert scores.nn >= 0.99 and scores.csls >= 0.99 and scores.evaluated == 500 and scores.coverage == 1.0
    identity = Alignment("identity", LinearMap(np.eye(32, dtype=np.float32)))
    base = evaluate_alignment(identity, src, tgt, TEST)
    assert base.nn <= 0.02 and base.csls <= 0.02
    mapped = alignment.map_src(src)  # the written vectors: original rows times W, norms kept
    assert mapped.index_to_key == src.index_to_key
    np.testing.assert_allclose(mapped.vectors, src.vectors @ w, rtol=1e-5, atol=1e-5)


def test_procrustes_against_the_official_formula():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(300, 20)), rng.normal(size=(300, 20)) * 3 + 1
    # MasterThesis/MultiEmb/offline_alignment.py learn_trans: U, s, V = svd(Xᵀ Y), W = U V on unit rows, X W
    u, _, v = np.linalg.svd(_unit(x).T @ _unit(y))
    np.testing.assert_allclose(np.asarray(procrustes(x, y)), u @ v, atol=2e-5)
    wide = np.asarray(procrustes(x, y[:, :12]))  # different widths: semi-orthogonal
    assert wide.shape == (20, 12)
    np.testing.assert_allclose(wide.T @ wide, np.eye(12), atol=1e-5)


def test_truncated_procrustes_against_the_official_code():
    rng = np.random.default_rng(2)
    # few, weakly related pairs: M's singular values straddle 1
    x = rng.normal(size=(40, 16))
    y = x @ _orthogonal(16, rng) * np.linspace(0.0, 1.0, 16) + rng.normal(size=(40, 16))
    # learn_trans_dim_red: U, s, V = svd(Xᵀ Y); keep the columns with s > 1; W = U[:, :k] V[:k]
    u, s, v = np.linalg.svd(_unit(x).T @ _unit(y))
    kept = int((s > 1).sum())
    assert 2 <= kept <= 14 and np.abs(s - 1).min() > 0.02, s  # a real cut, and no value so close to 1 that
    # float32 could put it on the other side
    w = np.asarray(procrustes_truncated(x, y))
    np.testing.assert_allclose(w, u[:, :kept] @ v[:kept], atol=2e-5)
    assert np.linalg.matrix_rank(w, tol=1e-4) == kept
    full = fit_pairs(x, y, "procrustes-gt1")
    np.testing.assert_allclose(full.src.matrix, w, atol=1e-6)


# --- CCA --------------------------------------------------------------------------------------------------------

def _cca_reference(x, y, reg):
    """Textbook CCA in float64: centre, regularise, whiten with eigh, SVD of the whitened cross-covariance."""
    n = len(x)
    xc, yc = x - x.mean(0), y - y.mean(0)
    cxx, cyy, cxy = xc.T @ xc / n, yc.T @ yc / n, xc.T @ yc / n
    cxx += reg * np.trace(cxx) / len(cxx) * np.eye(len(cxx))
    cyy += reg * np.trace(cyy) / len(cyy) * np.eye(len(cyy))

    def inv_sqrt(c):
        vals, vecs = np.linalg.eigh(c)
        return vecs @ np.diag(vals ** -0.5) @ vecs.T

    wx, wy = inv_sqrt(cxx), inv_sqrt(cyy)
    u, s, vt = np.linalg.svd(wx @ cxy @ wy)
    k = min(x.shape[1], y.shape[1])
    return wx @ u[:, :k], wy @ vt[:k].T, s[:k]


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_cca_against_a_hand_computed_reference(reg):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(400, 5))  # shared latent factors with decreasing strength
    x = np.hstack([z, rng.normal(size=(400, 3))]) @ rng.normal(size=(8, 8)) + 2.0
    y = np.hstack([z * np.linspace(1, 0.2, 5) + 0.5 * rng.normal(size=(400, 5)), rng.normal(size=(400, 1))]) \
        @ rng.normal(size=(6, 6)) - 1.0
    a, b, mx, my, corr = (np.asarray(v, np.float64) for v in cca(x, y, reg=reg))
    ra, rb, rs = _cca_reference(x, y, reg)
    assert a.shape == (8, 6) and b.shape == (6, 6)
    np.testing.assert_allclose(corr, rs, atol=1e-4)
    np.testing.assert_allclose(mx, x.mean(0), atol=1e-4)
    sign = np.sign(np.sum(a * ra, axis=0))  # columns are defined up to a sign, the same for A and B
    np.testing.assert_allclose(a * sign, ra, rtol=2e-3, atol=2e-3 * np.abs(ra).max())
    np.testing.assert_allclose(b * sign, rb, rtol=2e-3, atol=2e-3 * np.abs(rb).max())
    px, py = (x - mx) @ a, (y - my) @ b
    cross = px.T @ py / len(x)
    if reg == 0:  # the defining properties: whitened projections, correlations on the diagonal only
        np.testing.assert_allclose(px.T @ px / len(x), np.eye(6), atol=1e-3)
        np.testing.assert_allclose(py.T @ py / len(x), np.eye(6), atol=1e-3)
        np.testing.assert_allclose(cross, np.diag(corr), atol=1e-3)
        # independent of the whitening route: canonical correlations are the singular values of Qxᵀ Qy
        qx, qy = np.linalg.qr(x - x.mean(0))[0], np.linalg.qr(y - y.mean(0))[0]
        np.testing.assert_allclose(corr, np.linalg.svd(qx.T @ qy, compute_uv=False)[:6], atol=1e-4)
    assert np.all(np.diff(corr) <= 1e-6) and corr[0] > 0.8 and corr[-1] < 0.2


def test_cca_alignment_and_its_checks():
    src, tgt, _ = _spaces(d=24)
    alignment = align(src, tgt, TRAIN, method="cca", dim=16)
    assert alignment.src.matrix.shape == (24, 16) and alignment.tgt.matrix.shape == (24, 16)
    scores = evaluate_alignment(alignment, src, tgt, TEST)
    assert scores.nn >= 0.99 and scores.csls >= 0.99
    assert alignment.map_tgt(tgt).vectors.shape == (2000, 16)
    with pytest.raises(XlgraphError, match="dimension"):
        cca(src.vectors[:10], tgt.vectors[:10], dim=25)
    with pytest.raises(XlgraphError, match="paired rows"):
        cca(src.vectors[:10], tgt.vectors[:11])
    for reg in (-1.0, float("nan"), float("inf")):
        with pytest.raises(XlgraphError, match=f"regularisation must be a finite number ≥ 0, got {reg}"):
            cca(src.vectors[:10], tgt.vectors[:10], reg=reg)


# --- retrieval --------------------------------------------------------------------------------------------------

def _brute_csls(q, keys, sources, k):
    q, keys, sources = _unit(q), _unit(keys), _unit(sources)
    cos = q @ keys.T
    r_tgt = np.sort(cos, axis=1)[:, -k:].mean(1)
    r_src = np.sort(keys @ sources.T, axis=1)[:, -k:].mean(1)
    return 2 * cos - r_tgt[:, None] - r_src[None, :]


def test_csls_and_nn_against_brute_force():
    rng = np.random.default_rng(4)
    keys = rng.normal(size=(90, 12))
    keys[:5] = keys[:5] * 0.2 + rng.normal(size=12)  # a few hubs: near the centre of everything
    queries, sources = rng.normal(size=(37, 12)) + 0.3, rng.normal(size=(60, 12))
    expected = _brute_csls(queries, keys, sources, 5)
    for kw in ({}, {"block": 7}, {"score_bytes": 4 * 90 * 3}):  # blocks that do not divide the 37 queries
        idx, scores = nearest(queries, keys, method="csls", k=3, csls_k=5, sources=sources, **kw)
        np.testing.assert_array_equal(idx, np.argsort(-expected, axis=1)[:, :3])
        np.testing.assert_allclose(scores, np.take_along_axis(expected, idx, 1), atol=1e-5)
        idx, scores = nearest(queries, keys, method="nn", k=2, **kw)
        cos = _unit(queries) @ _unit(keys).T
        np.testing.assert_array_equal(idx, np.argsort(-cos, axis=1)[:, :2])
        np.testing.assert_allclose(scores, np.take_along_axis(cos, idx, 1), atol=1e-5)
    assert (np.argmax(expected, 1) != np.argmax(_unit(queries) @ _unit(keys).T, 1)).any()  # CSLS matters here
    np.testing.assert_allclose(mean_top_k_cosine(keys, sources, 5),
                               np.sort(_unit(keys) @ _unit(sources).T, 1)[:, -5:].mean(1), atol=1e-5)
    zero = nearest(np.zeros((2, 12)), keys)[1]  # a zero row has cosine 0 with everything, not NaN
    assert np.all(zero == 0)


def test_one_compilation_serves_every_block():
    rng = np.random.default_rng(5)
    keys = rng.normal(size=(50, 8)).astype(np.float32)
    top_k(rng.normal(size=(3, 8)), keys, 2, block=4)  # warm: block 3 for 3 queries
    before = _block_top_k._cache_size()
    top_k(rng.normal(size=(41, 8)), keys, 2, block=4)  # 11 blocks of 4, the last one padded
    assert _block_top_k._cache_size() == before + 1


def test_mutual_nearest_against_brute_force():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(30, 6))
    i, j = mutual_nearest(a, b, method="nn")
    cos = _unit(a) @ _unit(b).T
    s2t, t2s = cos.argmax(1), cos.argmax(0)
    expected = [(s, s2t[s]) for s in range(40) if t2s[s2t[s]] == s]
    assert list(zip(i.tolist(), j.tolist())) == expected and expected
    i, j = mutual_nearest(a, b, method="csls", csls_k=3)
    csls = 2 * _unit(a) @ _unit(b).T - np.sort(cos, 1)[:, -3:].mean(1)[:, None] \
        - np.sort(cos.T, 1)[:, -3:].mean(1)[None, :]
    s2t, t2s = csls.argmax(1), csls.argmax(0)
    assert list(zip(i.tolist(), j.tolist())) == [(s, s2t[s]) for s in range(40) if t2s[s2t[s]] == s]


# --- dictionaries -----------------------------------------------------------------------------------------------

def test_real_muse_splits(shared_data):
    folder = shared_data("muse_dicts")
    train = load_dictionary(folder / "splits/de-en.0-5000.txt")
    test = load_dictionary(folder / "splits/de-en.5000-6500.txt")
    assert len(train) == 5000 and len(test) == 1500 and not set(train) & set(test)
    assert sum(len(t) > 1 for t in test.values()) > 100  # many words have several translations
    assert "causes" in test["ursachen"]
    full = load_dictionary(folder / "full/de-en.txt.gz")
    assert list(full)[:5000] == list(train) and all(set(test[w]) <= set(full[w]) for w in test)


@pytest.mark.parametrize("content, line", [(b"a b\nc d e\n", 2), (b"a b\n\nb \xff\n", 3), (b"lonely\n", 1)])
def test_malformed_dictionary(tmp_path, content, line):
    path = tmp_path / "de-en.txt"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        load_dictionary(path)
    assert (info.value.path, info.value.line) == (str(path), line) and str(info.value).startswith(f"{path}:{line}: ")


def test_identical_dictionary_and_pair_indices():
    assert identical_dictionary(["a", "b", "c", "d"], ["d", "c", "a", "z"]) == {"a": ("a",), "c": ("c",), "d": ("d",)}
    assert identical_dictionary(["a", "b", "c", "d"], ["d", "c", "a", "z"], max_rank=3) == {"a": ("a",), "c": ("c",)}
    s, t = pair_indices({"a": ("x", "y", "missing"), "gone": ("x",), "b": ("y",)}, {"a": 0, "b": 1},
                        {"x": 5, "y": 6})
    assert s.tolist() == [0, 0, 1] and t.tolist() == [5, 6, 6] and s.dtype == np.int32


def test_alignment_on_identical_strings():
    src, tgt, r = _spaces(shared=300)
    alignment = align(src, tgt, "identical")
    assert alignment.pairs == 300
    assert evaluate_alignment(alignment, src, tgt, _dictionary(1500, 2000, shared=300)).csls >= 0.99
    with pytest.raises(XlgraphError, match="no identical-string pair"):
        align(*_spaces(n=50)[:2], "identical")
    with pytest.raises(XlgraphError, match="no dictionary pair"):
        align(src, tgt, {"t1": ("s1",)})  # reversed direction


def test_precision_counts_any_gold_translation_and_reports_coverage():
    keys = np.eye(4, dtype=np.float32)
    src_index, tgt_index = {"a": 0, "b": 1, "c": 2, "g": 2}, {"w": 0, "x": 1, "y": 2, "z": 3}
    queries = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 1, 0, 0]], np.float32)  # a -> w, b -> z, c -> x
    dictionary = {"a": ("w",), "b": ("y", "z"), "c": ("y", "unknown"), "d": ("w",), "e": ("nothing",),
                  "f": ("gone",), "g": ("gone",)}  # g: a source vector, but no translation has one
    scores = translation_precision(queries, src_index, keys, tgt_index, dictionary, csls_k=2)
    assert (scores.sources, scores.found, scores.evaluated) == (7, 4, 3)
    assert scores.coverage == 3 / 7  # the words scored: one definition, as the experiment tables print it
    assert scores.nn == pytest.approx(2 / 3) and scores.csls == pytest.approx(2 / 3)
    assert "66.67%" in str(scores) and "(3 of 7 test source words scored; coverage 42.9%)" in str(scores)
    with pytest.raises(XlgraphError, match="no test word can be scored"):
        translation_precision(queries, src_index, keys, tgt_index, {"d": ("w",)})


# --- refinement and several languages ---------------------------------------------------------------------------

def test_refinement_repairs_a_weak_seed():
    src, tgt, r = _spaces()
    seed = _dictionary(0, 20)  # fewer pairs than dimensions, two of them wrong
    seed["s0"], seed["s1"] = ("t1",), ("t0",)
    weak = align(src, tgt, seed)
    before = evaluate_alignment(weak, src, tgt, TEST)
    refined = refine_alignment(weak, src, tgt, 2, rank=1500)
    after = evaluate_alignment(refined, src, tgt, TEST)
    assert before.csls < 0.7 and after.nn >= 0.99 and after.csls >= 0.99, (before, after)
    assert len(refined.rounds) == 2 and refined.rounds[-1] > 1000 and refined.pairs == refined.rounds[-1]
    assert np.abs(refined.src.matrix - r.T).max() < 0.02
    assert align(src, tgt, seed, refine=2, refine_rank=1500).rounds == refined.rounds


@pytest.mark.parametrize("method", ["procrustes", "cca"])
def test_several_languages_into_english(method):
    rng = np.random.default_rng(9)
    y = (rng.normal(size=(2000, 32)) + 0.5).astype(np.float32)  # off-centre, so that CCA's means matter
    en_words = [f"en{i}" for i in range(len(y))]
    vectors = {"en": keyed_vectors(en_words, y)}
    for lang in ("de", "fr"):  # each its own rotation of English, plus noise
        x = (y @ _orthogonal(32, rng) + 0.1 * rng.normal(size=y.shape)).astype(np.float32)
        vectors[lang] = keyed_vectors([f"{lang}{i}" for i in range(len(y))], x)
    langs = ("de", "fr")
    dictionaries = {lang: {f"{lang}{i}": (en_words[i],) for i in range(1000)} for lang in langs}
    maps = align_to_pivot(vectors, dictionaries, method=method)
    assert maps["en"].method == "identity" and all(m.tgt is None for m in maps.values())
    mapped = {lang: maps[lang].map_src(kv) for lang, kv in vectors.items()}
    for lang in langs:
        test = {f"{lang}{i}": (en_words[i],) for i in range(1500, 2000)}
        scores = translation_precision(mapped[lang].vectors, mapped[lang].key_to_index, vectors["en"].vectors,
                                       vectors["en"].key_to_index, test)
        assert scores.nn >= 0.99 and scores.csls >= 0.99, (lang, scores)
        # into English's own space: Procrustes onto its vectors, CCA (fitted on unit rows) onto its unit vectors
        target = y if method == "procrustes" else _unit(y)
        error = np.linalg.norm(mapped[lang].vectors - target, axis=1) / np.linalg.norm(target, axis=1)
        assert np.median(error) < 0.15, np.median(error)
    de_fr = {f"de{i}": (f"fr{i}",) for i in range(1500, 2000)}  # never in a dictionary: only through English
    scores = translation_precision(mapped["de"].vectors, mapped["de"].key_to_index, mapped["fr"].vectors,
                                   mapped["fr"].key_to_index, de_fr)
    assert scores.nn >= 0.95, scores
    with pytest.raises(XlgraphError, match="no dictionary into en for fr"):
        align_to_pivot(vectors, {"de": dictionaries["de"]})


# --- command line -----------------------------------------------------------------------------------------------

def _write_dictionary(path, dictionary):
    path.write_text("".join(f"{s} {t}\n" for s, ts in dictionary.items() for t in ts), encoding="utf-8")
    return path


def test_cli_align(tmp_path, capsys):
    src, tgt, r = _spaces(n=600, d=16)
    save_vectors(src, tmp_path / "src.vec")
    save_vectors(tgt, tmp_path / "tgt.txt")
    train = _write_dictionary(tmp_path / "train.txt", _dictionary(0, 12))  # weak: refinement has to help
    test = _write_dictionary(tmp_path / "test.txt", {**_dictionary(400, 600), "unknown": ("t1",)})
    out = tmp_path / "aligned.vec"
    argv = ["align", str(tmp_path / "src.vec"), str(tmp_path / "tgt.txt"), str(out), "--dict", str(train),
            "--eval", str(test), "--refine", "2", "--refine-rank", "500"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "procrustes fitted on 12 dictionary pairs" in printed
    assert float(re.search(r"before refinement: P@1 NN ([\d.]+)%", printed)[1]) < 90
    assert "P@1 NN 100.00%  CSLS 100.00%  (200 of 201 test source words scored; coverage 99.5%)" in printed
    aligned = load_vectors(out)
    assert aligned.index_to_key == src.index_to_key
    assert np.abs(aligned.vectors - src.vectors @ r.T).max() < 0.1  # W ≈ Rᵀ

    cca_out = tmp_path / "cca.vec"
    assert main(["align", str(tmp_path / "src.vec"), str(tmp_path / "tgt.txt"), str(cca_out), "--method", "cca",
                 "--dict", str(_write_dictionary(tmp_path / "big.txt", _dictionary(0, 300))), "--eval", str(test),
                 "--dim", "8"]) == 0
    printed = capsys.readouterr().out
    assert "P@1 NN 100.00%" in printed and "aligned target vectors" in printed
    assert load_vectors(tmp_path / "cca.tgt.vec").vectors.shape == (600, 8)
    assert load_vectors(cca_out).vectors.shape == (600, 8)


def test_cli_errors_name_the_file(tmp_path, capsys):
    src, tgt, _ = _spaces(n=50, d=4)
    save_vectors(src, tmp_path / "src.vec")
    save_vectors(tgt, tmp_path / "tgt.vec")
    bad = tmp_path / "train.txt"
    bad.write_text("s1 t1\ns2 t2 extra\n", encoding="utf-8")
    assert main(["align", str(tmp_path / "src.vec"), str(tmp_path / "tgt.vec"), str(tmp_path / "o.vec"),
                 "--dict", str(bad)]) == 2
    assert f"{bad}:2: expected 'source target'" in capsys.readouterr().err
    assert main(["align", str(tmp_path / "src.vec"), str(tmp_path / "tgt.vec"), str(tmp_path / "o.vec")]) == 2
    assert "no identical-string pair" in capsys.readouterr().err
