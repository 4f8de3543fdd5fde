#!/usr/bin/env bash
# Device run 3 (2x H200), everything side by side so one call fits in 10 minutes:
#   GPU0: WebGPU kernel/layer benchmark through Dawn (bench/main.ts), end-to-end generation benchmark with the
#         shipped weights (bench/generate.ts), then UViT retrained with early stopping (2,000 steps, the
#         best-validation point of run 1).
#   GPU1: Triton scan launch sweep at the training batch, then M-Mamba trained with the fastest setting.
# Carry [".gpu", "data/packed"]; results come back tarred and split under $OUT/parts.
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=${RUNS:-/tmp/runs}; mkdir -p "$R" "$OUT/parts"; MM_MIN=${MM_MIN:-5.0}; UV_STEPS=${UV_STEPS:-2000}
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
el "tokens (BPE + VQ codes from the shipped vq-s)"
CUDA_VISIBLE_DEVICES=0 python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$R/tokens" > "$R/tokens.log" 2>&1; tail -2 "$R/tokens.log"
(
  cd training && CUDA_VISIBLE_DEVICES=1 timeout 90 python3 bench_scan.py --B 256 --triton-only --sweep > "$R/sweep.log" 2>&1
  eval "$(grep ^export "$R/sweep.log")"; cd ..
  echo "scan tuning: block_d=${MMAMBA_SCAN_BLOCK_D:-32} warps=${MMAMBA_SCAN_WARPS:-4} chunk=${MMAMBA_SCAN_CHUNK:-16}" > "$R/mmamba.log"
  CUDA_VISIBLE_DEVICES=1 python3 training/train_gen.py --model mmamba --data "$R/tokens" --out "$R/mmamba" \
    --max-minutes "$MM_MIN" --batch-size 256 --lr 8e-4 >> "$R/mmamba.log" 2>&1
) &
(
  timeout 200 bash .gpu/enter.sh node .gpu/bench.mjs --json "$R/bench.json" > "$R/bench.md" 2> "$R/bench.err"
  timeout 100 bash .gpu/enter.sh node .gpu/generate.mjs --out "$R/ppm" --runs 5 > "$R/generate.md" 2>&1
  CUDA_VISIBLE_DEVICES=0 python3 training/train_gen.py --model uvit --data "$R/tokens" --out "$R/uvit" \
    --steps "$UV_STEPS" --batch-size 512 > "$R/uvit.log" 2>&1
) &
wait; el "trained"
grep -E "BEST|export" "$R/sweep.log"; head -1 "$R/mmamba.log"; grep -E "val_loss|done" "$R/mmamba.log" | tail -3; grep -E "val_loss" "$R/uvit.log" | tail -3
cat "$R/generate.md"; tail -5 "$R/bench.err"
mkdir -p "$R/models"
(cd training && python3 -m mmamba.export --ckpt "$R/mmamba" --out "$R/models/mmamba-s" --id mmamba-s --int8 \
  && python3 -m mmamba.export --ckpt "$R/uvit" --out "$R/models/uvit-s" --id uvit-s --int8) 2>&1 | tail -2
for m in mmamba uvit; do
  timeout 40 python3 training/sample_grid.py --gen "$R/models/$m-s" --vq public/models/vq-s --data data/packed --out "$R/grid-$m.png" 2>&1 | tail -1
  timeout 30 python3 training/sample_grid.py --gen "$R/models/$m-s" --vq public/models/vq-s --data data/packed --prompts "red apple|red apple, noto style|yellow star, outline icon, center, blue background|cat face, twemoji style" --out "$R/grid-$m-demo.png" 2>&1 | tail -1
done
(cd "$R" && tar cf - models ppm *.md *.json *.log *.err */log.jsonl grid-*.png 2>/dev/null) | split -b 15m - "$OUT/parts/runs.tar."
ls -la "$OUT/parts"; el "done"
