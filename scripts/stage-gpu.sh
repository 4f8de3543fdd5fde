#!/usr/bin/env bash
# Bundles the benchmarks (bench/main.ts, bench/generate.ts, bench/latency.ts, bench/teach_recipes.ts) and the parity
# generator (bench/generate_eval.ts) and stages them for the lent GPU machine
# (scripts/stage-webgpu-runtime.sh: node, Dawn's binding and the Vulkan loader into .gpu/), then prints the device
# commands. Run from anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
# bundle outside .gpu (the runtime stager copies its FILE arguments into .gpu/): the kernel/layer benchmark and the
# end-to-end generation benchmark
cache=node_modules/.cache/m-mamba-bench
mkdir -p "$cache"
node bench/build.mjs "$cache/bench.mjs" bench/main.ts
node bench/build.mjs "$cache/generate.mjs" bench/generate.ts
node bench/build.mjs "$cache/latency.mjs" bench/latency.ts
node bench/build.mjs "$cache/teach_recipes.mjs" bench/teach_recipes.ts
node bench/build.mjs "$cache/generate_eval.mjs" bench/generate_eval.ts
# the bundles may import nothing but node built-ins and `webgpu`
bundles=("$cache/bench.mjs" "$cache/generate.mjs" "$cache/latency.mjs" "$cache/teach_recipes.mjs" "$cache/generate_eval.mjs")
for bundle in "${bundles[@]}"; do
  bad=$(grep -oE "from ['\"][^'\"]+['\"]|import\(['\"][^'\"]+['\"]\)" "$bundle" | grep -vE "['\"](node:[a-z_/]+|webgpu)['\"]" || true)
  [[ -z "$bad" ]] || { echo "stage-gpu: $bundle imports more than webgpu and node built-ins:" >&2; echo "$bad" >&2; exit 1; }
done
bash scripts/stage-webgpu-runtime.sh "${bundles[@]}"
cat <<'MSG'
device commands (carry [".gpu"]):
  bash .gpu/enter.sh node .gpu/bench.mjs --json $OUT/bench.json | tee $OUT/bench.md
  bash .gpu/enter.sh node .gpu/generate.mjs --runs 5
  bash training/gpu/bench.sh      # both, plus training/bench_layers.py (PyTorch), outputs under $OUT
  bash training/gpu/latency.sh    # issue 18: fusions A/B, generators end to end, batched images/s (< 300 s)
  bash training/gpu/teach_word.sh # issue 20: teach-a-word recipes compared on the default generator (< 300 s)
  bash training/gpu/parity.sh     # the page's engine vs PyTorch on the shipped generators, same items and seeds (< 240 s)
MSG
