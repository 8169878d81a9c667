#!/usr/bin/env bash
# One lent-GPU session's measurements, run by the `device` tool from the repository root:
#   0. bench/toy_train.py: the toy's training step (loss read every step / every 20 steps),
#   1. `clipinv toy train --like toy` from scratch on the GPU (issue 3's "GPU: <= 3 min" bar),
#   2. bench/throughput.py on ViT-B-16:random: eager fp32/bf16 at 1..128 seeds with the baseline,
#   3. the same bench with bf16 + compile at 1 and 64 seeds,
#   4. bench/precision_check.py: toy's inversions in fp32, bf16 and bf16 + compile, judged by toy-judge.
#   5. as 1, with --cuda-graph (the whole training step captured once and replayed).
# Parts 1 and 5 write a folder each (train-default/, train-cuda-graph/) that
# `python research/toy_recipe.py --gpu-run toy FOLDER` records (in its record, research/results/).
# PARTS picks some of them (default "0 1 2 3 4 5"), e.g. PARTS="0 5" bash bench/gpu_session.sh. The
# limits of all six add up to about 16 minutes, more than one call of a 15-minute lease leaves
# after the machine's start: pick the parts still to measure (bench/RESULTS.md says which).
# Each part has its own time limit so a slow part cannot eat the next one; everything is written
# under $OUT (logs, json, the retrained weights' card); what comes back is kept in
# bench/results/DATE-DEVICE/ (e.g. bench/results/2026-11-26-h100/). The device image has torch but not
# open_clip: its wheels travel in .whl/ (see the device tool's README).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, open_clip; print('torch', torch.__version__, 'open_clip', open_clip.__version__, torch.cuda.get_device_name())" \
  | tee -a "$OUT/gpu.txt"

PARTS=${PARTS:-0 1 2 3 4 5}
T_BENCH_TRAIN=${T_BENCH_TRAIN:-90}
T_TRAIN=${T_TRAIN:-240}
T_EAGER=${T_EAGER:-130}
T_COMPILE=${T_COMPILE:-130}
T_QUALITY=${T_QUALITY:-150}

if [[ " $PARTS " == *" 0 "* ]]; then
echo "== 0. toy training step (limit ${T_BENCH_TRAIN} s)"
timeout "$T_BENCH_TRAIN" python3 bench/toy_train.py --device cuda --steps 300 --json "$OUT/toy-train-bench.json" 2>&1 \
  | tee "$OUT/toy-train-bench.log"
fi

from_scratch() {  # $1: folder under $OUT, then extra flags of toy train
  local dir="$OUT/$1"; shift
  mkdir -p /tmp/gpu-train "$dir"
  cp "$OUT/gpu.txt" "$dir/"
  local start end
  start=$(date +%s.%N)
  timeout "$T_TRAIN" python3 -m clipinv.cli toy train --like toy --out /tmp/gpu-train/toy-gpu.safetensors --device cuda "$@" 2>&1 \
    | tr '\r' '\n' | tee "$dir/train.log" | grep -v "it/s\]$" | tail -n 25
  end=$(date +%s.%N)
  echo "toy train --like toy wall: $(python3 -c "print(round($end - $start, 1))") s" | tee -a "$dir/train.log"
  cp /tmp/gpu-train/toy-gpu.json "$dir/" 2>/dev/null  # the card comes back; the weights stay (they differ from the CPU's)
  rm -f /tmp/gpu-train/toy-gpu.*
}

if [[ " $PARTS " == *" 1 "* ]]; then
echo "== 1. toy from scratch on the GPU (limit ${T_TRAIN} s)"
from_scratch train-default
fi

if [[ " $PARTS " == *" 5 "* ]]; then
echo "== 5. toy from scratch on the GPU, the step captured as a CUDA graph (limit ${T_TRAIN} s)"
from_scratch train-cuda-graph --cuda-graph
fi

if [[ " $PARTS " == *" 2 "* ]]; then
echo "== 2. bench, eager (limit ${T_EAGER} s)"
timeout "$T_EAGER" python3 bench/throughput.py --device cuda --model ViT-B-16:random --batches 1,8,32,64,128 \
  --precisions fp32,bf16 --compile off --steps 10 --warmup 3 --repeats 2 --ablations \
  --json "$OUT/gpu-eager.json" 2>&1 | tee "$OUT/bench-eager.log"
fi

if [[ " $PARTS " == *" 3 "* ]]; then
echo "== 3. bench, bf16 + compile (limit ${T_COMPILE} s)"
timeout "$T_COMPILE" python3 bench/throughput.py --device cuda --model ViT-B-16:random --batches 1,64 \
  --precisions bf16 --compile on --steps 10 --warmup 3 --repeats 2 \
  --json "$OUT/gpu-compile.json" 2>&1 | tee "$OUT/bench-compile.log"
fi
if [[ " $PARTS " == *" 4 "* ]]; then
echo "== 4. toy inversion quality, fp32 / bf16 / bf16 + compile (limit ${T_QUALITY} s)"
timeout "$T_QUALITY" python3 bench/precision_check.py --device cuda --compile 2>&1 | tee "$OUT/precision.log"
fi
echo "== done"
