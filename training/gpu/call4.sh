#!/usr/bin/env bash
# Device run 4 (2x H200, session 2): M-Mamba with the channels-last mixer, trained on the same data budget as the
# early-stopped UViT (2,000 steps x 512 = 1.02 M images; the time limit is the fallback), DDP on both GPUs.
#   GPU0: BPE + VQ tokens, then a one-GPU throughput bench of the new mixer;  GPU1: Triton scan launch sweep.
#   Both: torchrun training with the sweep's best launch; export (int8) and sample grids.
# Carry ["data/packed"]; results come back tarred and split under $OUT/parts.
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=${RUNS:-/tmp/runs}; mkdir -p "$R" "$OUT/parts"; MM_MIN=${MM_MIN:-6.6}
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
el "tokens | sweep"
(CUDA_VISIBLE_DEVICES=0 python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$R/tokens" > "$R/tokens.log" 2>&1
 CUDA_VISIBLE_DEVICES=0 timeout 60 python3 training/train_gen.py --model mmamba --data "$R/tokens" --out /tmp/bench1 \
   --bench-steps 15 --batch-size 256 > "$R/bench1.log" 2>&1) &
(cd training && CUDA_VISIBLE_DEVICES=1 timeout 100 python3 bench_scan.py --B 256 --sweep > "$R/sweep.log" 2>&1) &
wait; tail -1 "$R/tokens.log"; grep -E "BENCH|Error" "$R/bench1.log" | tail -2; grep -E "normalised|BEST|export" "$R/sweep.log"
eval "$(grep ^export "$R/sweep.log")"
grep -q BENCH "$R/bench1.log" || { echo "bench failed; conv falls back to the reference"; tail -5 "$R/bench1.log"; export MMAMBA_CONV=ref; }
el "train (block_d=${MMAMBA_SCAN_BLOCK_D:-32} warps=${MMAMBA_SCAN_WARPS:-4} chunk=${MMAMBA_SCAN_CHUNK:-16})"
torchrun --standalone --nproc_per_node=2 training/train_gen.py --model mmamba --data "$R/tokens" --out "$R/mmamba" \
  --max-minutes "$MM_MIN" --max-steps "${MM_STEPS:-2000}" --batch-size 512 --lr 8e-4 --val-every 500 > "$R/mmamba.log" 2>&1
grep -E "auto:|val_loss|done|Error|error" "$R/mmamba.log" | tail -8
el "export + grids"
mkdir -p "$R/models"
(cd training && python3 -m mmamba.export --ckpt "$R/mmamba" --out "$R/models/mmamba-s" --id mmamba-s --int8) 2>&1 | tail -1
CUDA_VISIBLE_DEVICES=0 timeout 45 python3 training/sample_grid.py --gen "$R/models/mmamba-s" --vq public/models/vq-s --data data/packed --out "$R/grid-mmamba.png" 2>&1 | tail -1 &
CUDA_VISIBLE_DEVICES=1 timeout 45 python3 training/sample_grid.py --gen "$R/models/mmamba-s" --vq public/models/vq-s --data data/packed \
  --prompts "red apple|red apple, noto style|yellow star, outline icon, center, blue background|cat face, twemoji style" --out "$R/grid-mmamba-demo.png" 2>&1 | tail -1 &
wait
(cd "$R" && tar cf - models *.log mmamba/log.jsonl grid-*.png 2>/dev/null) | split -b 15m - "$OUT/parts/runs.tar."
ls -la "$OUT/parts"; el "done"
