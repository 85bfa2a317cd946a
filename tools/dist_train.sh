#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args...]
# e.g. tools/dist_train.sh configs/fdkd/fdkd_r18-deeplabv3plus_4xb4-50e_nyu-depth-from-rgb.py 4
# Env: NNODES, NODE_RANK, MASTER_ADDR, PORT (see dist_launch.sh).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 CONFIG NPROC [train.py args...]" >&2; exit 2
fi
exec "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
