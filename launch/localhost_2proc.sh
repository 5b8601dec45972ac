#!/usr/bin/env bash
# Two processes on this machine through jax.distributed with CPU collectives (gloo): the multi-host code path,
# testable anywhere. Each process gets DEVICES forced CPU devices; the global mesh has 2 × DEVICES.
#   launch/localhost_2proc.sh experiments/finetune/mtod.py train.epochs=1 --workdir runs/two
# Environment set here for each process: JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID (read by
# xlgraph's `initialize`), XLA_FLAGS (forced device count), JAX_PLATFORMS=cpu. PORT (default 12355), DEVICES
# (default 1), XLGRAPH (default .venv/bin/xlgraph).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-12355}; DEVICES=${DEVICES:-1}; XLGRAPH=${XLGRAPH:-.venv/bin/xlgraph}
pids=()
for i in 0 1; do
  JAX_COORDINATOR_ADDRESS=localhost:$PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=$i JAX_PLATFORMS=cpu \
  XLA_FLAGS=--xla_force_host_platform_device_count=$DEVICES "$XLGRAPH" train "$@" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
exit $status
