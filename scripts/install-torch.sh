#!/usr/bin/env bash
# Install torch into the given Python's environment without pulling a CUDA build onto a machine
# that has no NVIDIA GPU.
#   1. torch already importable: nothing to do.
#   2. a wheel of $TORCH_VERSION that pip's own configuration finds without an index
#      (find-links, a local wheelhouse): install that version; its dependencies come from the
#      configured index.
#   3. no NVIDIA GPU (no nvidia-smi): the CPU build from the PyTorch CPU index.
#   4. otherwise: the default build from PyPI (CUDA on Linux).
set -euo pipefail
py=${1:-python3}
version=${TORCH_VERSION:-2.13.0}
if "$py" -c "import torch" >/dev/null 2>&1; then
  echo "torch $("$py" -c 'import torch; print(torch.__version__)') already installed"
  exit 0
fi
probe=$(mktemp -d)
if "$py" -m pip download -q --no-index --no-deps -d "$probe" "torch==$version" >/dev/null 2>&1; then
  rm -rf "$probe"
  echo "installing torch==$version from the local wheel"
  exec "$py" -m pip install -q "torch==$version"
fi
rm -rf "$probe"
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "no NVIDIA GPU found: installing the CPU build of torch"
  exec "$py" -m pip install -q torch --index-url "${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
fi
exec "$py" -m pip install -q torch
