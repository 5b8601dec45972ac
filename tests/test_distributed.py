"""Whole `xlgraph train` runs in subprocesses: two processes on localhost through jax.distributed (CPU
collectives) against one process with the same global device count, and a run killed with SIGKILL
mid-epoch then resumed against an uninterrupted one. Both must end with the same parameters and metrics."""

import json
import os
import signal
import socket
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from conftest import tiny_run_args

KILLER = """
import os, signal, sys, time
import xlgraph.methods.finetune as finetune
make = finetune.make_train_step
def make_and_die(*a, **k):
    step, calls = make(*a, **k), [0]
    def train_step(state, batch, key):
        calls[0] += 1
        if calls[0] == {kill_at}:
            time.sleep(1.0)  # let the asynchronous checkpoint before this step finish
            os.kill(os.getpid(), signal.SIGKILL)
        return step(state, batch, key)
    return train_step
finetune.make_train_step = make_and_die
from xlgraph.cli import main
sys.exit(main({argv!r}))
"""


def env(devices: int) -> dict:
    return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")


def xlgraph(args, devices=1, **kw):
    return subprocess.Popen([sys.executable, "-m", "xlgraph.cli", *args], env=env(devices), **kw)


def finished(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, (err or b"").decode()[-3000:]
    return (out or b"").decode()


def final_params(workdir):
    steps = sorted(int(p.name) for p in (workdir / "ckpt").iterdir() if p.name.isdigit())
    path = (workdir / "ckpt" / str(steps[-1]) / "state").resolve()
    checkpointer = ocp.StandardCheckpointer()
    here = jax.sharding.SingleDeviceSharding(jax.devices()[0])  # whatever mesh wrote it
    like = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=here),
                        checkpointer.metadata(path).item_metadata.tree)
    state = checkpointer.restore(path, like)
    return steps[-1], {k: np.asarray(v) for k, v in _flat(state["params"])}


def _flat(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flat(v, f"{prefix}/{k}")
    else:
        yield prefix, tree


def comparable_metrics(workdir):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "train/examples_per_s")} for r in rows]


def assert_same_run(a, b, tol=1e-5):
    ra, rb = (json.loads((w / "results.json").read_text()) for w in (a, b))
    assert ra["checkpoint_step"] == rb["checkpoint_step"] and ra["per_language"] == rb["per_language"]
    ma, mb = comparable_metrics(a), comparable_metrics(b)
    assert [r["step"] for r in ma] == [r["step"] for r in mb]
    for x, y in zip(ma, mb):
        assert x.keys() == y.keys()
        for k in x:
            assert x[k] == pytest.approx(y[k], abs=tol), (x["step"], k)
    (sa, pa), (sb, pb) = final_params(a), final_params(b)
    assert sa == sb and pa.keys() == pb.keys()
    assert max(float(np.abs(pa[k] - pb[k]).max()) for k in pa) <= tol


def free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process(tiny_model_dir, tmp_path):
    single = tmp_path / "single"
    one = xlgraph(tiny_run_args(tiny_model_dir, single), devices=4, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    port = free_port()
    multi = tmp_path / "multi"
    procs = [xlgraph(tiny_run_args(tiny_model_dir, multi, "--coordinator", f"localhost:{port}",
                                   "--num-processes", "2", "--process-id", str(i)),
                     devices=2, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(2)]
    outs = [finished(p) for p in procs]
    finished(one)
    assert "run directory" in outs[0] and "run directory" not in outs[1]  # tables from process 0 only
    assert_same_run(single, multi)


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tiny_model_dir, tmp_path):
    full, cut = tmp_path / "full", tmp_path / "cut"
    straight = xlgraph(tiny_run_args(tiny_model_dir, full), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    killer = KILLER.format(kill_at=9, argv=tiny_run_args(tiny_model_dir, cut))
    victim = subprocess.run([sys.executable, "-c", killer], env=env(1), capture_output=True, timeout=600)
    assert victim.returncode == -signal.SIGKILL, victim.stderr.decode()[-2000:]
    saved = sorted(int(p.name) for p in (cut / "ckpt").iterdir() if p.name.isdigit())
    assert saved and max(saved) == 6  # checkpoint_every=3; killed before step 9 (step 8 was logged), mid-epoch 1
    finished(xlgraph(tiny_run_args(tiny_model_dir, cut, "--resume"), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    finished(straight)
    assert_same_run(full, cut)
