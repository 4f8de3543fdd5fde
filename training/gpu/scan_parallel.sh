#!/usr/bin/env bash
# Device run (one H200, 320 s of timeouts in all): the split scan's 'parallel' kind (MMAMBA_SPLIT_BWD=parallel:
# forward and backward as associative scans over time, d_state 1 only; mmamba/scan_parallel_triton.py) against the
# scratch backward (the default), at the lite block's shapes and in the compiled lite training step, UViT S beside.
#   1. bench_scan.py --compare --sweep-lite-bwd --lite-parallel-only: the parallel kind checked against the
#      sequential reference at N = 1 (the scan alone at L = 1, 17, 272, 1040; the scan + merge at the lite shapes,
#      f32 and bf16), then scratch and the parallel launch sets timed interleaved at N = 1, di = 256, B = 512
#      (forward and forward+backward); the fastest parallel set is exported (MMAMBA_SCAN_PAR_*) for step 3
#   2. the compiled lite step (expand 1, d_state 1, GEGLU FFN x2, 6 layers) at the stages' batch 512 with the scratch
#      backward, the same with the conv backward at 8 warps (MMAMBA_CONV_BWD_WARPS, read when the op runs: 211
#      registers and no spills against 255 and spills at 4), and UViT S compiled, interleaved in one process, with
#      the kernel breakdown
#   3. the same lite step with MMAMBA_SPLIT_BWD=parallel in its own process (the kind is read while dynamo traces,
#      so it cannot share a process with step 2's lite variant); skipped when step 1's check failed
# Repository root as cwd; synthetic tokens, no dataset. Device tool: kind nvidia-h200, command
# `bash training/gpu/scan_parallel.sh` (raw output under $OUT/scan-parallel/).
set -uo pipefail
export PYTHONUNBUFFERED=1 TRITON_INTERPRET=0
cd "$(dirname "$0")/.." || exit 1
PY=${PY:-python3}
LITE='mmamba:split+compile@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6'
out=${OUT:-/tmp}/scan-parallel; mkdir -p "$out"
t0=$(date +%s)
step() {   # step NAME TIMEOUT_S CMD...: run CMD under a timeout, tee its output to $out/NAME.txt
  local name=$1 limit=$2; shift 2
  echo; echo "=== [+$(( $(date +%s) - t0 ))s] $name (timeout ${limit}s): $*"
  timeout -k 5 "$limit" "$@" 2>&1 | grep -v -i "warning" | tee "$out/$name.txt"
  echo "=== $name: exit ${PIPESTATUS[0]}" | tee -a "$out/$name.txt"
}
$PY -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
step 1-kernel 100 $PY bench_scan.py --compare --sweep-lite-bwd --lite-parallel-only --Bs ""
best=$(grep -h '^export MMAMBA_SCAN_PAR_' "$out/1-kernel.txt" 2>/dev/null | tail -1)
if [ -n "$best" ]; then eval "${best%%#*}"; echo "the lite step's parallel set: $best"; fi
step 2-step-scratch 140 env MMAMBA_SPLIT_BWD=scratch $PY bench_train_step.py --batch 512 --steps 4 --rounds 3 \
  --warmup 2 --variants "uvit+compile,$LITE,$LITE~MMAMBA_CONV_BWD_WARPS=8" --json "$out/step-scratch.json"
if grep -q '^check summary N=1: split-parallel PASS' "$out/1-kernel.txt"; then
  step 3-step-parallel 80 env MMAMBA_SPLIT_BWD=parallel $PY bench_train_step.py --batch 512 --steps 4 --rounds 3 \
    --warmup 2 --variants "$LITE" --json "$out/step-parallel.json"
else
  echo "=== 3-step-parallel skipped: the parallel kind failed (or did not reach) step 1's check"
fi
{
  echo "# scan_parallel.sh $(date -u +%Y-%m-%dT%H:%M:%SZ), $(( $(date +%s) - t0 )) s; parallel set: ${best:-defaults}"
  grep -h -E "^=== .*exit|^check summary|FAIL" "$out"/*.txt
  for f in 1-kernel 2-step-scratch 3-step-parallel; do
    echo; echo "## $f"; grep -h -E "^\||^ +[0-9.]+ +_.*scan.*_kernel" "$out/$f.txt" 2>/dev/null
  done
} > "$out/summary.txt"
echo; cat "$out/summary.txt"
