#!/usr/bin/env bash
# Issue 16 on one GPU, in one call (benchmarks/README.md, "Pruning on one GPU"): the wheels llm-compressor needs,
# the CUDA tests of the pruning code, then rac-bench against llm-compressor on a 7B-shaped Qwen2, 4 decoder layers,
# 128 x 2,048 calibration tokens. Run from the repository root, with the wheels in .whl/:
#     bash benchmarks/gpu_prune.sh "$OUT" [more gpu_prune.py flags, e.g. --layers 8]
# Results (results.json, results.md, log.txt, cuda-tests.txt, machine.txt) are written to OUT as each step ends.
# SKIP_CUDA_TESTS=1 leaves the tests out.
set -u
out=${1:?usage: bash benchmarks/gpu_prune.sh OUT_DIR [gpu_prune.py flags]}
shift
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || echo "installing .whl/*.whl failed: the llm-compressor side will fail, rac-bench's still runs"
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python3 -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)"
    python3 -c "import llmcompressor, datasets, pyarrow; print('llmcompressor', llmcompressor.__version__, 'datasets', datasets.__version__, 'pyarrow', pyarrow.__version__)"
    nproc; free -g | head -2
} 2>&1 | tee "$out/machine.txt"
if [ "${SKIP_CUDA_TESTS:-0}" != 1 ]; then
    timeout 90 python3 -m pytest tests/test_pruning.py -q -k cuda -p no:cacheprovider 2>&1 | tail -20 | tee "$out/cuda-tests.txt"
fi
timeout 450 python3 benchmarks/gpu_prune.py all --shape 7b --layers 4 --tokens 262144 --length 2048 --out "$out" "$@"
