#!/usr/bin/env bash
# Device run: every benchmark on ONE H200, one after the other (they would skew each other side by side), in
# at most 285 s of timeouts in all (each step has its own timeout and time budget):
#   1. WebGPU kernels + M-Mamba/UViT layers through Dawn (bench/main.ts)        -> $OUT/bench.md, bench.json
#   2. end-to-end 12-step guided generation with the shipped weights (bench/generate.ts) -> $OUT/generate.md, and
#      M-Mamba again with the chunk-parallel scan candidate (--scan chunked)           -> $OUT/generate-chunked.md
#   3. PyTorch eager M-Mamba/UViT layers, cores, 22-layer stacks, bf16 and f32 (training/bench_layers.py)
#                                                                                -> $OUT/layers-torch.md, .json
# Before the call, here: `bash scripts/stage-gpu.sh` (bundles .gpu/bench.mjs and .gpu/generate.mjs, stages node +
# Dawn). Device tool: kind nvidia-h200, carry [".gpu"], command `bash training/gpu/bench.sh`.
# A failing step is logged and the next one still runs; $OUT/summary.md collects the tables.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/bench-out}; mkdir -p "$OUT"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
for f in .gpu/enter.sh .gpu/bench.mjs .gpu/generate.mjs; do
  [ -f "$f" ] || { echo "bench.sh: $f is missing: run 'bash scripts/stage-gpu.sh' here and carry [\".gpu\"]" >&2; exit 1; }
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1

el "1/3 WebGPU kernels + layers (budget 70 s; the full run took 14 s on 2026-11-28)"
timeout 100 bash .gpu/enter.sh node .gpu/bench.mjs --budget 70 --json "$OUT/bench.json" > "$OUT/bench.md" 2> "$OUT/bench.err"
echo "  exit $?"; tail -3 "$OUT/bench.err"

el "2/3 end-to-end generation (shipped weights, 12 steps, guidance 4, median of 5)"
timeout 45 bash .gpu/enter.sh node .gpu/generate.mjs --runs 5 --out "$OUT/ppm" > "$OUT/generate.md" 2>&1
echo "  exit $?"
el "2b/3 the same with the chunk-parallel scan candidate (M-Mamba only)"
timeout 30 bash .gpu/enter.sh node .gpu/generate.mjs --runs 5 --generators mmamba-s --scan chunked > "$OUT/generate-chunked.md" 2>&1
echo "  exit $?"

el "3/3 PyTorch eager layers (budget 110 s; bf16 configurations first)"
(cd training && timeout 140 python3 bench_layers.py --budget 110 --json "$OUT/layers-torch.json") \
  > "$OUT/layers-torch.md" 2> "$OUT/layers-torch.err"
echo "  exit $?"; tail -3 "$OUT/layers-torch.err"

{
  echo "# H200 benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo
  echo "## WebGPU targets and layers (bench/main.ts)"; echo
  sed -n '/^## Targets/,/^## Calibration/p' "$OUT/bench.md" | sed '$d'
  sed -n '/^## Layers: M-Mamba vs UViT/,/^### Per-stage/p' "$OUT/bench.md" | sed '$d'
  echo "## End-to-end generation (bench/generate.ts)"; echo; cat "$OUT/generate.md"; echo
  echo "## End-to-end generation, chunked scan (bench/generate.ts --scan chunked)"; echo; cat "$OUT/generate-chunked.md"; echo
  echo "## Selective scan kernels"; echo; grep -E "^\| ssm \| selectiveScan(Fused|Chunked)" "$OUT/bench.md"; echo
  echo "## PyTorch eager (training/bench_layers.py)"; echo; cat "$OUT/layers-torch.md"
} > "$OUT/summary.md"
cat "$OUT/summary.md"
el "done"
