#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh: one srun task per GPU running
# tools/SCRIPT ARGS... (the callers pass --launcher=slurm: MMEngine reads the
# rank and world size from Slurm). Usage:
#   slurm_launch.sh SCRIPT PARTITION JOB_NAME ARGS...
# Env (MMPretrain's names): GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS.
set -euo pipefail
SCRIPT=$1
PARTITION=$2
JOB_NAME=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# SRUN_ARGS is split on spaces on purpose (several srun options)
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  python -u "$ROOT/tools/$SCRIPT" "${@:4}"
