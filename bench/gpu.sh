#!/usr/bin/env bash
# bench/gpu.py on a lent CUDA machine (the `device` tool's nvidia-h200), in one prepared run.
#
# What the machine has (KINDS.md): python3 3.12 with torch 2.11 (cu130), transformers, peft,
# sentence-transformers, numpy, tokenizers, safetensors, huggingface_hub, tqdm, scikit-learn,
# threadpoolctl, charset-normalizer, and the CUDA 13 libraries mlx-cuda-13 links (nvidia-cublas,
# -cudnn-cu13, -cufft, -cusolver, -cuda-nvrtc, -cuda-runtime, -nccl-cu13). mlx_embed needs nothing
# else at import (pypdf and gguf are imported only for PDFs and rare GGUF types). It lacks mlx, and
# nothing can be downloaded there, so the two mlx wheels travel with the working tree. The CUDA wheel
# is 90 MB and one call carries at most 64 MiB, so it travels in two halves, in two calls made back
# to back (the machine stays warm 30 s after a call; /tmp survives between calls on it):
#
#   bash bench/gpu.sh wheels      # here, once: mlx + mlx-cuda-13 0.32.4 (cp312, manylinux_2_35) into
#                                 # .whl/a (first half) and .whl/b (second half + mlx + checksum)
#   run(command="bash bench/gpu.sh stage", carry=[".whl/a"], timeout_s=120)
#   run(command="bash bench/gpu.sh", carry=[".whl/b"], timeout_s=600)
#
# The last call joins and checks the wheel, installs both into /tmp/site (--no-index --no-deps),
# points the wheel's RPATH ($ORIGIN/../../nvidia/...) at the image's nvidia packages,
# sets CUDA_HOME for the headers MLX's run-time kernel compiler needs and NVIDIA_TF32_OVERRIDE=0 (fp32
# means fp32), then runs `python3 bench/gpu.py --device gpu --size full` (estimated 4-6 minutes; not
# yet run on a GPU), leaving gpu.json and gpu.log under $OUT. /.whl/ is git-ignored: never commit wheels.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.32.4
STAGE=/tmp/mlx-wheels

case "${1:-run}" in
wheels)
    rm -rf .whl/a .whl/b .whl/full && mkdir -p .whl/a .whl/b .whl/full
    ${PYTHON:-python3} -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_35_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        -d .whl/full "mlx==$VERSION" "mlx-cuda-13==$VERSION"
    cuda=$(ls .whl/full/mlx_cuda_13-*.whl)
    (cd .whl/full && sha256sum "$(basename "$cuda")") > .whl/b/SHA256SUMS
    split -b 46000000 -d "$cuda" ".whl/full/$(basename "$cuda").part"
    mv ".whl/full/$(basename "$cuda").part00" .whl/a/
    mv ".whl/full/$(basename "$cuda").part01" .whl/b/
    mv .whl/full/mlx-"$VERSION"-*.whl .whl/b/
    rm -rf .whl/full
    du -sh .whl/a .whl/b
    ;;
stage)
    mkdir -p "$STAGE" && cp .whl/a/* "$STAGE/" && ls -l "$STAGE"
    ;;
run)
    out=${OUT:-bench/results}
    if [ -d .whl/b ]; then
        missing="first half missing in $STAGE: run 'bash bench/gpu.sh stage' (carry .whl/a) just before"
        cp .whl/b/* "$STAGE/" 2>/dev/null || { echo "$missing" >&2; exit 2; }
        cd "$STAGE"
        part=$(ls mlx_cuda_13-*.whl.part00 2>/dev/null) || { echo "$missing" >&2; exit 2; }
        cat "${part%.part00}".part0* > "${part%.part00}"
        sha256sum -c SHA256SUMS
        cd - > /dev/null
        python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
            "$STAGE"/mlx-"$VERSION"-*.whl "$STAGE"/mlx_cuda_13-*.whl
        nvidia=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])")
        ln -sfn "$nvidia" /tmp/site/nvidia
        export PYTHONPATH=/tmp/site
    fi
    # MLX compiles its CUDA kernels at run time (NVRTC): CCCL comes in the wheel, the CUDA runtime
    # headers from nvidia/cuda_runtime/include beside mlx, else $CUDA_HOME/include. Find them.
    if [ -z "${CUDA_HOME:-}" ]; then
        nvcc_home=$(dirname "$(dirname "$(command -v nvcc || echo /x/x/x)")")
        for c in /usr/local/cuda "$nvcc_home" "${nvidia:-/x}/cu13" "${nvidia:-/x}/cuda_runtime"; do
            if [ -f "$c/include/cuda_runtime.h" ]; then export CUDA_HOME=$c; break; fi
        done
    fi
    [ -n "${CUDA_HOME:-}" ] || echo "warning: no cuda_runtime.h found; MLX may fail to compile kernels (set CUDA_HOME)" >&2
    echo "CUDA_HOME=${CUDA_HOME:-}"
    # MLX's CUDA backend runs float32 matmuls in TF32 unless told not to: the fp32 rows are meant as fp32.
    export NVIDIA_TF32_OVERRIDE=0
    export MLX_EMBED_BLAS=none HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
    python3 -c "import mlx.core as mx; print('mlx', mx.__version__, mx.default_device(), mx.device_info())"
    mkdir -p "$out"
    timeout 570 python3 bench/gpu.py --device gpu --size full --out "$out/gpu.json" "${@:2}" 2>&1 \
        | tee "$out/gpu.log"
    ;;
*)
    echo "usage: bash bench/gpu.sh [wheels|stage|run [gpu.py options]]" >&2; exit 2
    ;;
esac
