#!/usr/bin/env bash
# Device run (one H200, ~3 min): the compiled lite training step at the v2 stages' batch 512 with the split path's
# conv as the custom op (Triton kernels, opaque to torch.compile) against MMAMBA_CONV_PATH=inline (plain PyTorch that
# inductor fuses with the gather and differentiates itself), the fused path (gather in the conv kernel, dt_proj
# and the merge in the scan kernel) and UViT S beside them; one process, interleaved rounds, median and min, peak
# memory and the kernel breakdown. Repository root as cwd; synthetic tokens, no dataset.
# Device tool: kind nvidia-h200, command `bash training/gpu/conv_path.sh` (raw output under $OUT/conv-path/).
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.." || exit 1
LITE='mmamba:split+compile@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6'
FUSED='mmamba:fused+compile@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6'
out=${OUT:-/tmp}/conv-path; mkdir -p "$out"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
timeout -k 5 "${LIMIT_S:-420}" python3 bench_train_step.py --batch "${BATCH:-512}" --steps 4 --rounds "${ROUNDS:-5}" \
  --warmup 2 --variants "uvit+compile,$LITE,$LITE~MMAMBA_CONV_PATH=inline,$FUSED" --json "$out/step.json" \
  2>&1 | grep -v -i "warning" | tee "$out/step.txt"
