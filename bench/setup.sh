#!/usr/bin/env bash
# Make bench/.venv: PyTorch (used on CPU only), transformers, safetensors, numpy, tiktoken, all from PyPI.
# Idempotent: if bench/.venv already imports everything, it does nothing. Override the location with BENCH_VENV=...
#
# Why it installs torch with --no-deps: PyPI's Linux x86_64 torch wheel (2.15.0, ~1 GB) is a CUDA build, and a plain
# `pip install torch` also pulls triton, cuda-bindings and the whole cu13 toolkit (cuDNN, NCCL, cuSOLVER, ...).
# The wheel does NOT import with only its pure-Python deps: libtorch_cpu.so itself has DT_NEEDED entries on
# libcudart.so.13 and libcupti.so.13, and torch/__init__.py preloads the nvidia/* libraries, so `import torch`
# fails with "libcudart.so.13: cannot open shared object file" / "libcublasLt.so.*[0-9] not found".
# So we install exactly the NVIDIA wheels whose libraries torch's .so files link against (readelf -d ... | NEEDED):
# cudart, cupti, cublas(+Lt), cufft, cufile, cusparse (+ its nvjitlink), nvrtc, cuDNN, cuSPARSELt, NCCL, NVSHMEM,
# and leave out triton (~290 MB wheel), cusolver (~230 MB wheel, only loaded by torch.linalg on CUDA), nvtx and
# cuda-bindings, none of which a CPU run touches. `pip check` will list triton/cuda-bindings as missing: expected.
# PyPI has no CPU-only torch wheel for Linux x86_64 (the +cpu builds live on PyTorch's own index, unreachable here).
#
# Cost measured on this machine (2 vCPU, 2026-11): ~2.5 GB downloaded, ~3 minutes, bench/.venv = 4.3 GB on disk
# (torch 1.2 GB, nvidia/* 2.8 GB, transformers & co. ~0.2 GB). A plain `pip install torch` would add ~0.5 GB of
# wheels (~1 GB installed) on top. Versions are pinned: the nvidia pins must match the torch version's own pins.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${BENCH_VENV:-$HERE/.venv}"
PYTHON="${PYTHON:-python3}"

works() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - <<'PY' >/dev/null 2>&1
import torch, transformers, safetensors, numpy, tiktoken
assert float(torch.ones(4) @ torch.ones(4)) == 4.0
PY
}

if works; then
  echo "setup.sh: $VENV already works; nothing to do"
  exit 0
fi

echo "setup.sh: creating $VENV (downloads ~2.5 GB, takes a few minutes)"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check)

# 1. Everything except torch, with their normal dependencies (none of these depends on torch), plus torch's own
#    pure-Python requirements.
"${PIP[@]}" \
  "transformers==5.23.0" "safetensors==0.8.0" "numpy==2.4.6" "tiktoken==0.14.0" \
  filelock "typing-extensions>=4.13.0" "setuptools>=77.0.3" "sympy>=1.13.3" "networkx>=2.5.1" jinja2 "fsspec>=0.8.5"

# 2. torch itself, without its dependency list.
"${PIP[@]}" --no-deps "torch==2.15.0"

# 3. Only the CUDA libraries torch's shared objects are linked against (pins copied from torch 2.15.0's METADATA).
"${PIP[@]}" \
  "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,cusparse,nvrtc]==13.2.2" \
  "nvidia-cudnn-cu13==9.26.0.51" "nvidia-cusparselt-cu13==0.8.1" \
  "nvidia-nccl-cu13==2.30.7" "nvidia-nvshmem-cu13==3.7.2"

if works; then
  "$VENV/bin/python" -c "import torch, transformers; print('setup.sh: ok: torch', torch.__version__, '(CUDA available:', torch.cuda.is_available(), ') transformers', transformers.__version__)"
  du -sh "$VENV" 2>/dev/null || true
else
  echo "setup.sh: $VENV was built but 'import torch, transformers, safetensors, numpy, tiktoken' still fails:" >&2
  "$VENV/bin/python" -c "import torch, transformers, safetensors, numpy, tiktoken" >&2 || true
  exit 1
fi
