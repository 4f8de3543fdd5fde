#!/usr/bin/env bash
# Runs on the lent GPU machine as .gpu/enter.sh (staged by scripts/stage-webgpu-runtime.sh): installs the staged
# Vulkan/GL libraries and unpacks node and dawn.node once per machine, points Vulkan at NVIDIA's driver, then runs "$@".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=/tmp/node-bin
mkdir -p $bin
if [[ ! -f $bin/.debs ]]; then
  for deb in "$here"/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  touch $bin/.debs
fi
[[ -x $bin/node ]] || { xz -d -c "$here/node.xz" > $bin/node; chmod +x $bin/node; }
dawn=$here/node_modules/webgpu/dist/linux-x64/dawn.node
[[ -f $dawn ]] || xz -d -c "$here/dawn.node.xz" > "$dawn"
export PATH=$bin:$PATH
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json; do
  if [[ -f $icd ]]; then export VK_DRIVER_FILES=$icd; break; fi
done
exec "$@"
