#!/usr/bin/env bash
# npm run bench:generate [-- ARGS]: bundles bench/generate.ts and runs it here on SwiftShader (Dawn on the CPU) with
# ARGS (see the file's header: --steps, --runs, --generators, --models, ...). On SwiftShader one step of the shipped
# models takes about a minute: use e.g. `-- --steps 2 --runs 1`, or the test fixtures
# (`-- --models tests/fixtures --generators mmamba_tiny,uvit_tiny --vq vq_tiny --tokenizer tests/fixtures/pipeline_cases.json`).
# For the H200, scripts/stage-gpu.sh bundles the same entry into .gpu/generate.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
# the bundle must resolve `webgpu` from the project's node_modules, so it lives under node_modules/.cache
out=node_modules/.cache/m-mamba-bench/generate.mjs
mkdir -p "$(dirname "$out")"
node bench/build.mjs "$out" bench/generate.ts
exec bash scripts/with-swiftshader.sh node "$out" "$@"
