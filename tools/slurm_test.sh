#!/usr/bin/env bash
# Test a checkpoint on a Slurm cluster, with the arguments of MMPretrain's
# script:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# A distillation checkpoint is tested as it was trained (the student's
# metrics); tools/model_converters/extract_student.py makes a student-only
# one. Slurm runs need CUDA (NCCL).
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]" >&2
  exit 2
fi
exec "$(dirname "$0")/slurm_launch.sh" test.py "$1" "$2" "$3" "$4" \
  --launcher=slurm "${@:5}"
