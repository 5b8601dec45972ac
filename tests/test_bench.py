"""`xlgraph bench encoder`: runs end to end (ours and PyTorch on the same shapes) and its FLOPs and MFU
arithmetic is right."""

import json
from types import SimpleNamespace

import pytest

from xlgraph.bench import hf_config, model_flops, peak_flops
from xlgraph.cli import main


def test_bench_encoder_side_by_side(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "encoder", "--model", str(tiny_model_dir), "--batch-size", "8", "--seq-len", "16",
                 "--repeats", "3", "--warmup", "1", "--torch", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "xlgraph (JAX, jit)" in text and "transformers + PyTorch" in text and "speed-up" in text
    r = json.loads(out.read_text())
    assert r["ours"]["step_s"] > 0 and r["torch"]["step_s"] > 0 and r["ours"]["compile_s"] > 0
    assert r["ours"]["mfu"] is None  # no peak-FLOPs entry for a CPU
    hf, _ = hf_config(str(tiny_model_dir))
    assert r["ours"]["model_flops"] == model_flops(hf, 8, 16, "train")
    xla = r["ours"]["xla_flops"]
    assert xla is None or xla > 0.9 * r["ours"]["model_flops"]  # XLA also counts elementwise ops and AdamW


def test_bench_with_frozen_parts(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "encoder", "--model", str(tiny_model_dir), "--batch-size", "8", "--seq-len", "16",
                 "--repeats", "2", "--warmup", "1", "--torch", "--freeze-embeddings", "--freeze-layers", "1",
                 "--json", str(out)]) == 0
    assert "frozen word embeddings · bottom 1 layers frozen" in capsys.readouterr().out
    r = json.loads(out.read_text())
    assert r["freeze_embeddings"] and r["freeze_layers"] == 1 and r["torch"]["step_s"] > 0


def test_flops_and_peak_table():
    bert_base, _ = hf_config("bert-base")
    # 12 layers × (2·(4h² + 2h·4h) + 4·s·h) per token, s = 128: the textbook ~ 2·85M·tokens plus attention
    per_token = 12 * (2 * (4 * 768**2 + 2 * 768 * 3072) + 4 * 128 * 768)
    assert model_flops(bert_base, 1, 128, "forward") == per_token * 128
    assert model_flops(bert_base, 2, 128, "train") == 3 * 2 * per_token * 128
    assert peak_flops(SimpleNamespace(device_kind="NVIDIA H100 80GB HBM3"), "bf16") == pytest.approx(989e12)
    assert peak_flops(SimpleNamespace(device_kind="TPU v5 lite"), "bf16") == pytest.approx(197e12)
    assert peak_flops(SimpleNamespace(device_kind="cpu"), "bf16") is None


def test_hetero_gcn_bench_times_the_librarys_own_step(experiment_script, capsys):
    bench = experiment_script("bench/hetero_gcn.py")
    bench.main(["--nodes", "300", "--edges", "3000", "--relations", "2", "--repeats", "1", "--no-pyg",
                "--dims", "8,4,8", "--aggregations", "sorted"])
    out = capsys.readouterr().out
    assert "xlgraph (sorted)" in out and "xlgraph (fixed ÂX + block)" in out and " ms" in out
