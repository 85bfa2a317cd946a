#!/usr/bin/env bash
# Train on a Slurm cluster, with the arguments of MMPretrain's script:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# e.g. GPUS=4 GPUS_PER_NODE=4 tools/slurm_train.sh gpu fdkd-nyu \
#        configs/fdkd/nyu_depth_from_rgb.py work_dirs/nyu_depth_from_rgb
# One task per GPU; MMEngine reads the rank and world size from Slurm
# (--launcher slurm). Slurm runs need CUDA (NCCL).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# SRUN_ARGS is split on spaces on purpose (several srun options)
# shellcheck disable=SC2086
srun -p "$PARTITION" \
  --job-name="$JOB_NAME" \
  --gres=gpu:"$GPUS_PER_NODE" \
  --ntasks="$GPUS" \
  --ntasks-per-node="$GPUS_PER_NODE" \
  --cpus-per-task="$CPUS_PER_TASK" \
  --kill-on-bad-exit=1 \
  $SRUN_ARGS \
  python -u "$ROOT"/tools/train.py "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "${@:5}"
