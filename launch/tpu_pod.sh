#!/usr/bin/env bash
# A Cloud TPU pod slice (e.g. v4-32, v5e-64): the same command on every worker, started over gcloud ssh.
#   launch/tpu_pod.sh my-tpu us-central2-b experiments/finetune/mtod.py model.name=/mnt/models/xlm-roberta-base
# jax.distributed.initialize() detects the slice from the TPU metadata (TPU_WORKER_HOSTNAMES, worker id), so no
# flags are needed; each worker reads its own rows of every global batch. The repository must already be at
# $REPO on every worker (e.g. `gcloud ... ssh --worker=all --command "git clone ..."`), with models and
# --workdir on storage every worker sees (a GCS FUSE mount or NFS).
# Environment: REPO (path of the checkout on the workers, default ~/xlgraph), VENV (default .venv-tpu).
set -euo pipefail
TPU=$1; ZONE=$2; shift 2
REPO=${REPO:-'~/xlgraph'}
VENV=${VENV:-.venv-tpu}
ARGS=$(printf ' %q' "$@")
gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command "
  set -e; cd $REPO
  if [ ! -x $VENV/bin/xlgraph ]; then python3 -m venv $VENV && $VENV/bin/pip install -q -c requirements.lock -e '.[tpu]'; fi
  HF_HUB_OFFLINE=1 $VENV/bin/xlgraph train$ARGS"
