#!/usr/bin/env bash
# npm run bench [-- --local] [-- --quick] [-- --json FILE] [-- --only kernels|layers]
# Bundles bench/main.ts (esbuild, `?raw` WGSL imports as text, `webgpu` external) into .gpu/bench.mjs.
# With --local, also runs it here on SwiftShader (Dawn's Vulkan on the CPU); other flags go to the benchmark.
# Without --local it only bundles: stage and run it on the GPU machine with scripts/stage-gpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
local_run=0
pass=()
for a in "$@"; do
  if [[ "$a" == "--local" ]]; then local_run=1; else pass+=("$a"); fi
done
mkdir -p .gpu
node bench/build.mjs .gpu/bench.mjs
if [[ $local_run == 0 ]]; then
  echo "bench: bundled .gpu/bench.mjs; run it here with 'npm run bench -- --local [--quick]' or stage it with scripts/stage-gpu.sh" >&2
  exit 0
fi
# Run a copy from node_modules/.cache: .gpu/node_modules/webgpu (made by scripts/stage-webgpu-runtime.sh) holds only a compressed dawn.node,
# so the bundle must resolve `webgpu` from the project's node_modules here.
run_dir=node_modules/.cache/m-mamba-bench
mkdir -p "$run_dir"
cp .gpu/bench.mjs "$run_dir/bench.mjs"
exec bash scripts/with-swiftshader.sh node "$run_dir/bench.mjs" ${pass[@]+"${pass[@]}"}
