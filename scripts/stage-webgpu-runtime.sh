#!/usr/bin/env bash
# Fills .gpu/ (git-ignored) with what a bundled WebGPU program needs on the lent GPU machine, which has an
# NVIDIA driver that speaks Vulkan but no Node.js and no package registry:
#   node.xz          this machine's node binary, xz-compressed
#   node_modules/webgpu/  Dawn's Node.js binding (npm package `webgpu`); its 21 MB dawn.node kept as dawn.node.xz (~5 MB)
#   *.deb            the Vulkan loader and the GL dispatch libraries that NVIDIA's Vulkan driver loads
#   enter.sh         scripts/gpu-enter.sh: unpacks the above on the device, then runs its arguments
# plus every FILE given (e.g. a bundled benchmark). Together about 30 MB: the working tree and carried paths
# travel to the device under a 64 MiB limit.
# Usage: bash scripts/stage-webgpu-runtime.sh [FILE ...]; then the device tool with carry [".gpu"] and e.g.
#   bash .gpu/enter.sh node .gpu/bench.mjs
set -euo pipefail
files=()
for f in "$@"; do files+=("$(readlink -f "$f")"); done
cd "$(dirname "$0")/.."
binding=node_modules/webgpu
[[ -f $binding/dist/linux-x64/dawn.node ]] || { echo "stage-webgpu-runtime: $binding is missing: run npm install" >&2; exit 1; }
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
cp $binding/index.js $binding/package.json .gpu/node_modules/webgpu/
[[ ! -f $binding/types.d.ts ]] || cp $binding/types.d.ts .gpu/node_modules/webgpu/
# compress only when the source is newer than the staged copy
if [[ ! -f .gpu/dawn.node.xz || $binding/dist/linux-x64/dawn.node -nt .gpu/dawn.node.xz ]]; then
  xz -T2 -6 -c $binding/dist/linux-x64/dawn.node > .gpu/dawn.node.xz
fi
node_bin=$(readlink -f "$(command -v node)")
if [[ ! -f .gpu/node.xz || $node_bin -nt .gpu/node.xz ]]; then xz -T2 -6 -c "$node_bin" > .gpu/node.xz; fi
debs=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
if (( $(ls .gpu/*.deb 2>/dev/null | wc -l) < ${#debs[@]} )); then
  (cd .gpu && apt-get download "${debs[@]}" >/dev/null 2>&1) ||
    { apt-get update -qq >/dev/null 2>&1; (cd .gpu && apt-get download "${debs[@]}" >/dev/null); }
fi
for f in ${files[@]+"${files[@]}"}; do cp "$f" .gpu/; done
cp scripts/gpu-enter.sh .gpu/enter.sh
echo "staged .gpu ($(du -sh .gpu | cut -f1)): carry [\".gpu\"]; on the device: bash .gpu/enter.sh node .gpu/PROGRAM.mjs"
