#!/usr/bin/env bash
# Device run for issue 20 (one H200, one command, under 300 s): bench/teach_recipes.ts bundled as
# .gpu/teach_recipes.mjs — whole teach-a-word runs as the page's worker runs them on the default generator
# (public/models index.json defaultGenerator), recipes compared (LoRA only as the page's default; half its LoRA steps;
# a quarter of its learning rate; textual inversion and prior preservation with RECIPES) on picture sets of three new
# things in two art styles (drawn by the benchmark; 3 sets x 3 recipes = 9 runs by default), with the word's 32-px
# PSNR gain, subject in N of 4 seeds, the 8 control prompts through the word gate (must equal the base bit for bit)
# and with the adapter forced on (the leakage), and time. Exit 2 when the word gate let a control prompt change.
# Outputs: $OUT/teach_recipes.md (per-run table, per-recipe summary, the choice), teach_recipes.json, the contact
# sheets teach_flat.png and teach_outline.png (one per style, its sets in order), teach_recipes.err.
# Before the call, here: `bash training/gpu/teach_word.sh stage` (bundles .gpu/teach_recipes.mjs and stages node +
# Dawn into .gpu). Device tool: kind nvidia-h200, carry [".gpu"], command `bash training/gpu/teach_word.sh`.
# Env: BUDGET (s, default 230: no run starts that would end past it by its recipe's mean time so far; the timeout
#      adds 60 s), SETS, RECIPES (bench/teach_recipes.ts --sets / --recipes), ARGS (more arguments).
# TINY=1 runs the same logic here on SwiftShader with the e2e tiny models (2 steps per phase, 2 render steps): the
# check that the device run cannot fail for a silly reason.
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=node_modules/.cache/m-mamba-bench/teach_recipes.mjs
if [[ ${1:-} == stage ]]; then
  mkdir -p "$(dirname "$bundle")"
  node bench/build.mjs "$bundle" bench/teach_recipes.ts || exit 1
  bad=$(grep -oE "from ['\"][^'\"]+['\"]|import\(['\"][^'\"]+['\"]\)" "$bundle" | grep -vE "['\"](node:[a-z_/]+|webgpu)['\"]" || true)
  [[ -z "$bad" ]] || { echo "teach_word.sh: $bundle imports more than webgpu and node built-ins: $bad" >&2; exit 1; }
  exec bash scripts/stage-webgpu-runtime.sh "$bundle"
fi
OUT=${OUT:-/tmp/teach-word-out}; mkdir -p "$OUT"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
if [[ ${TINY:-0} == 1 ]]; then
  mkdir -p "$(dirname "$bundle")"
  node bench/build.mjs "$bundle" bench/teach_recipes.ts >&2 || exit 1
  run=(bash scripts/with-swiftshader.sh node "$bundle")
  args=(--tiny --sets "${SETS:-robot:flat,octopus:outline}" --recipes "${RECIPES:-lora=0+2@0,lora-1=0+1@0,lora-lr=0+2@0/lr0.0025,pivotal-prior=2+2@0.25}"
        --batch 4 --rank 4 --render-steps 2 --lr 0.01 --budget "${BUDGET:-1000}")
  limit=$(( ${BUDGET:-1000} + 300 ))
else
  for f in .gpu/enter.sh .gpu/teach_recipes.mjs public/models/index.json; do
    [ -f "$f" ] || { echo "teach_word.sh: $f is missing: run 'bash training/gpu/teach_word.sh stage' here and carry [\".gpu\"]" >&2; exit 1; }
  done
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1
  run=(bash .gpu/enter.sh node .gpu/teach_recipes.mjs)
  args=(--budget "${BUDGET:-230}")
  [[ -z ${SETS:-} ]] || args+=(--sets "$SETS")
  [[ -z ${RECIPES:-} ]] || args+=(--recipes "$RECIPES")
  limit=$(( ${BUDGET:-230} + 60 ))
fi
el "teach-a-word recipes (timeout ${limit} s)"
# shellcheck disable=SC2086
timeout "$limit" "${run[@]}" "${args[@]}" ${ARGS:-} --out "$OUT" > "$OUT/teach_recipes.md" 2> "$OUT/teach_recipes.err"
rc=$?
echo "  exit $rc"; tail -3 "$OUT/teach_recipes.err"
cat "$OUT/teach_recipes.md"
ls -la "$OUT"
el "done"
exit $rc
