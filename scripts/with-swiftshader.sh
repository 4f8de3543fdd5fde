#!/usr/bin/env bash
# Runs a command with Dawn (npm `webgpu`) pointed at SwiftShader, the software Vulkan driver that Debian's
# chromium package ships, so WebGPU code runs in Node on a CPU-only machine. Usage: with-swiftshader.sh CMD ARGS...
set -euo pipefail
ICD=/usr/lib/chromium/vk_swiftshader_icd.json
if [[ ! -f "$ICD" ]]; then
  echo "with-swiftshader: $ICD not found; install Debian's chromium (apt-get install -y chromium)" >&2
  exit 1
fi
export LD_LIBRARY_PATH="/usr/lib/chromium${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VK_ICD_FILENAMES="$ICD"
exec "$@"
