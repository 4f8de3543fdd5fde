#!/usr/bin/env bash
# Device run 6 (2x H200, session 2), chained right after `PHASE=train bash training/gpu/eval.sh` (run 5) on the
# same warm machine ($R holds the evaluators, tokens and ablation runs):
#   eval.sh PHASE=eval in the background: shipped generators + VQ ceiling (GPU0), WebGPU parity images (Dawn),
#     ablation evaluations (GPU0 + GPU1)
#   GPU1, once the ablation evaluations are done: PyTorch eager layer benchmark (training/bench_layers.py)
#   then, with every other job finished (so nothing skews them): WebGPU kernels + layers (bench.mjs), end-to-end
#     generation (generate.mjs) and the fine-tuning step benchmark (finetune.mjs) through Dawn
# Carry [".gpu", "data/packed"]; outputs under $OUT/eval (from eval.sh) and $OUT/bench.
set -uo pipefail
export PYTHONUNBUFFERED=1
R=${RUNS:-/tmp/runs}; B=$OUT/bench; mkdir -p "$B"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
PHASE=eval BUDGET_S=${EVAL_BUDGET_S:-330} bash training/gpu/eval.sh > "$B/eval-run.txt" 2>&1 &
ev=$!
while kill -0 $ev 2>/dev/null && [ ! -f "$R/eval/ablation.md" ]; do sleep 3; done
el "ablation evaluations done; PyTorch layer bench on GPU1"
(cd training && CUDA_VISIBLE_DEVICES=1 timeout 130 python3 bench_layers.py --budget 100 --json "$B/layers-torch.json") \
  > "$B/layers-torch.md" 2> "$B/layers-torch.err"; tail -2 "$B/layers-torch.err"
wait $ev; el "eval done"; tail -40 "$B/eval-run.txt"
el "WebGPU kernels + layers"
timeout 100 bash .gpu/enter.sh node .gpu/bench.mjs --budget 70 --json "$B/bench.json" > "$B/bench.md" 2> "$B/bench.err"; tail -2 "$B/bench.err"
el "end-to-end generation"
timeout 45 bash .gpu/enter.sh node .gpu/generate.mjs --runs 5 > "$B/generate.md" 2>&1; cat "$B/generate.md"
el "fine-tuning step (batch 8, default limits)"
timeout 60 bash .gpu/enter.sh node .gpu/finetune.mjs --batch 8 --steps 5 --warmup 1 > "$B/finetune.md" 2>&1; cat "$B/finetune.md"
sed -n '/^## DESIGN.md targets/,/^## Calibration/p' "$B/bench.md"
sed -n '/^## Layers: M-Mamba vs UViT/,/^### Per-stage/p' "$B/bench.md"
cat "$B/layers-torch.md"
el "done"
