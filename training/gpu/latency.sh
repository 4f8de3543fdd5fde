#!/usr/bin/env bash
# Device run for issue 18 (one H200, one command, under 300 s): bench/latency.ts bundled as .gpu/latency.mjs —
# fusions A/B on the default generator (all on, all off, each fusion off alone; interleaved, ≥ 20 rounds), the
# generators end to end (mmamba-v2, uvit-s, mmamba-s; 12-step guided, interleaved) and batched generation
# (images/s at batch 1, 4, 8, 32). Outputs: $OUT/latency.md (the tables), latency.json (every run), latency.err.
# Before the call, here: `bash scripts/stage-gpu.sh` (bundles .gpu/latency.mjs with the other benchmarks and stages
# node + Dawn). Device tool: kind nvidia-h200, carry [".gpu"], command `bash training/gpu/latency.sh`.
# Env: BUDGET (s, default 220: the benchmark's own budget; the timeout adds 60 s for loading and compiling),
#      RUNS (default 20), FUSIONS (bench/latency.ts), ARGS (more arguments for bench/latency.ts).
# TINY=1 runs the same logic here on SwiftShader with the tiny test fixtures (2 steps, 2 rounds): the check that
# the device run cannot fail for a silly reason (about 6 min on two shared cores; run it before staging).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/latency-out}; mkdir -p "$OUT"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
if [[ ${TINY:-0} == 1 ]]; then
  bundle=node_modules/.cache/m-mamba-bench/latency.mjs
  mkdir -p "$(dirname "$bundle")"
  node bench/build.mjs "$bundle" bench/latency.ts >&2 || exit 1
  run=(bash scripts/with-swiftshader.sh node "$bundle")
  args=(--models tests/fixtures --default mmamba_ffn_tiny --compare mmamba_ffn_tiny,uvit_tiny,mmamba_tiny
        --vq vq_tiny --tokenizer tests/fixtures/pipeline_cases.json --steps 2 --runs 2 --batch-runs 2 --batches 1,2
        --budget 1)
  limit=600
else
  for f in .gpu/enter.sh .gpu/latency.mjs; do
    [ -f "$f" ] || { echo "latency.sh: $f is missing: run 'bash scripts/stage-gpu.sh' here and carry [\".gpu\"]" >&2; exit 1; }
  done
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1
  run=(bash .gpu/enter.sh node .gpu/latency.mjs)
  args=(--runs "${RUNS:-20}" --budget "${BUDGET:-220}")
  limit=$(( ${BUDGET:-220} + 60 ))
fi
el "latency benchmark (timeout ${limit} s)"
# shellcheck disable=SC2086
timeout "$limit" "${run[@]}" "${args[@]}" ${ARGS:-} --json "$OUT/latency.json" > "$OUT/latency.md" 2> "$OUT/latency.err"
rc=$?
echo "  exit $rc"; tail -3 "$OUT/latency.err"
cat "$OUT/latency.md"
el "done"
exit $rc
