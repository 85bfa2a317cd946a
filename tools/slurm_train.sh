#!/usr/bin/env bash
# Train on a Slurm cluster, with the arguments of MMPretrain's script:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# e.g. GPUS=4 GPUS_PER_NODE=4 tools/slurm_train.sh gpu fdkd-nyu \
#        configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py work_dirs/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb
# Slurm runs need CUDA (NCCL).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]" >&2
  exit 2
fi
exec "$(dirname "$0")/slurm_launch.sh" train.py "$1" "$2" "$3" \
  --work-dir="$4" --launcher=slurm "${@:5}"
