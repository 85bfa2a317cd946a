#!/usr/bin/env bash
# Usage: tools/dist_launch.sh SCRIPT NPROC [script args...]
# What dist_train.sh and dist_test.sh share: run tools/SCRIPT under torchrun
# with NPROC processes per node (one per GPU; on a CPU-only machine they
# share the cores and talk over gloo) and --launcher pytorch.
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
SCRIPT=$1
NPROC=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}
[ -x "$ROOT/.venv/bin/python" ] && [ "$PYTHON" = python ] && PYTHON="$ROOT/.venv/bin/python"

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$ROOT/tools/$SCRIPT" "${@:3}" --launcher pytorch
