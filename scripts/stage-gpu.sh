#!/usr/bin/env bash
# Bundles the benchmark and stages it for the lent GPU machine (../shared/gpu/stage.sh: node, Dawn's binding and
# the Vulkan loader into .gpu/), then prints the device command. Run from anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="$root/../shared/gpu"
[[ -f "$shared/stage.sh" ]] || { echo "stage-gpu: $shared/stage.sh not found (the shared folder sits next to the repo root)" >&2; exit 1; }
# bundle outside .gpu (stage.sh copies its FILE arguments into .gpu/)
bundle=node_modules/.cache/m-mamba-bench/bench.mjs
mkdir -p "$(dirname "$bundle")"
node bench/build.mjs "$bundle"
# the bundle may import nothing but node built-ins and `webgpu`
bad=$(grep -oE "from ['\"][^'\"]+['\"]|import\(['\"][^'\"]+['\"]\)" "$bundle" | grep -vE "['\"](node:[a-z_/]+|webgpu)['\"]" || true)
[[ -z "$bad" ]] || { echo "stage-gpu: the bundle imports more than webgpu and node built-ins:" >&2; echo "$bad" >&2; exit 1; }
bash "$shared/stage.sh" "$bundle"
cat <<'MSG'
device command (carry [".gpu"]):
  bash .gpu/enter.sh node .gpu/bench.mjs --json $OUT/bench.json | tee $OUT/bench.md
MSG
