#!/usr/bin/env bash
# Create (once) the virtual environment that `make demo` / `make test` run in.
#
# The environment lives outside the clone, in $FDKD_CACHE (default
# ~/.cache/fdkd), keyed by a hash of the pins, so a fresh clone of the same
# commit reuses it and a change of any pin builds a new one. `.venv` in the
# clone is a symlink to it. A half-built environment (interrupted install) has
# no `.complete` marker and is rebuilt from scratch.
#
# mmcv 2.1.0 has no wheel for torch 2.14: it is built from the sdist once with
# its CPU ops (about 15 min on 2 cores) and the wheel is kept in
# $FDKD_CACHE/wheels/<torch version>/. Its setup.py hard-codes -std=c++17,
# while torch 2.14's headers need C++20: the unpacked sdist is patched before
# building (the installed package is never edited).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQ="$ROOT/requirements"
PYTHON=${PYTHON:-python3}
FDKD_CACHE=${FDKD_CACHE:-$HOME/.cache/fdkd}
EXTRAS=${FDKD_EXTRAS:-tests,optional}

# bump when a change of this script must rebuild existing environments
ENV_REVISION=1
hash=$( (cat "$REQ"/constraints.txt "$REQ"/runtime.txt "$REQ"/tests.txt \
          "$REQ"/optional.txt "$REQ"/build.txt; echo "$ENV_REVISION $(uname -m)") | sha256sum | cut -c1-12)
VENV="$FDKD_CACHE/venv-$hash"
log() { printf '[install_env %(%H:%M:%S)T] %s\n' -1 "$*"; }

link_venv() {
  # .venv -> the cached environment (replace a stale link, never a real dir)
  if [ -L "$ROOT/.venv" ] || [ ! -e "$ROOT/.venv" ]; then
    ln -sfn "$VENV" "$ROOT/.venv"
  fi
}

if [ -f "$VENV/.complete" ]; then
  link_venv
  # the plugin itself is installed editable; re-point it at this clone
  # (find_spec locates the package without importing the whole stack)
  if ! "$VENV/bin/python" -c "import importlib.util as u, sys; s = u.find_spec('fdkd_plugin'); sys.exit(0 if s and s.origin.startswith('$ROOT/') else 1)" 2>/dev/null; then
    "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT"
  fi
  exit 0
fi

start=$(date +%s)
log "building environment $VENV (pins hash $hash)"
rm -rf "$VENV"
mkdir -p "$FDKD_CACHE"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/pip" install --disable-pip-version-check -c "$REQ/constraints.txt")

log "torch, torchvision, torchaudio and build tools"
"${PIP[@]}" -r "$REQ/build.txt" torch torchvision torchaudio numpy

TORCH_VERSION=$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
WHEELS="$FDKD_CACHE/wheels/torch-$TORCH_VERSION"
mkdir -p "$WHEELS"
MMCV_VERSION=$(sed -n 's/^mmcv==//p' "$REQ/constraints.txt")
if ! ls "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  log "building mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (once; ~15 min on 2 cores)"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$VENV/bin/pip" download --disable-pip-version-check --no-deps --no-binary :all: \
    -d "$work" "mmcv==$MMCV_VERSION"
  tar -xzf "$work"/mmcv-"$MMCV_VERSION".tar.gz -C "$work"
  src="$work/mmcv-$MMCV_VERSION"
  grep -q -- "-std=c++17" "$src/setup.py" || { echo "mmcv setup.py no longer sets -std=c++17: revisit this patch" >&2; exit 1; }
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
     "$VENV/bin/pip" wheel --disable-pip-version-check --no-deps --no-build-isolation \
     -w "$work/dist" . )
  # move into place only when complete, so an interrupted build leaves nothing
  mv "$work"/dist/mmcv-*.whl "$WHEELS/"
fi
"${PIP[@]}" --no-deps "$WHEELS"/mmcv-"$MMCV_VERSION"-*.whl

log "OpenMMLab stack and the rest"
req_files=(-r "$REQ/runtime.txt")
case ",$EXTRAS," in *,tests,*) req_files+=(-r "$REQ/tests.txt");; esac
case ",$EXTRAS," in *,optional,*) req_files+=(-r "$REQ/optional.txt");; esac
# mmcv's own requirements (addict, yapf, ...) come from its metadata now
"${PIP[@]}" "${req_files[@]}" "mmcv==$MMCV_VERSION"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$ROOT"

touch "$VENV/.complete"
link_venv
log "environment ready in $(( $(date +%s) - start )) s"
