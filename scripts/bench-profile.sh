#!/usr/bin/env bash
# npm run bench:profile [-- ARGS]: bundles bench/profile_step.ts and runs it here on SwiftShader (Dawn on the CPU)
# with ARGS (see the file's header). CI-sized smoke run: `-- --models e2e/fixtures/models --steps 3`. On a real GPU
# run the same bundle with node: `node bench/build.mjs .gpu/profile_step.mjs bench/profile_step.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
# the bundle must resolve `webgpu` from the project's node_modules, so it lives under node_modules/.cache
out=node_modules/.cache/m-mamba-bench/profile_step.mjs
mkdir -p "$(dirname "$out")"
node bench/build.mjs "$out" bench/profile_step.ts
exec bash scripts/with-swiftshader.sh node "$out" "$@"
