#!/usr/bin/env bash
# Device run 7 (2x H200, session 2; run 8 repeats it with BASE=mmamba-s-run7 NEW=mmamba-s-run8 MM_MIN=5.5 EV_MIN=2):
# continue the shipped M-Mamba S (run 4, 848 k images) for ~5 more minutes on
# both GPUs (fresh AdamW + EMA, lr 4e-4 with a short warmup and cosine), then evaluate it beside the shipped
# M-Mamba and UViT with freshly trained evaluators, all on the same 1000 test-split items (training/evaluate.py).
# The evaluators train on GPU1 during the first minutes of the generator run. Carry ["data/packed"]; everything
# comes back as one tarball $OUT/run7.tgz.
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=${RUNS:-/tmp/runs}; E=$R/eval7; mkdir -p "$R" "$E/grids"; MM_MIN=${MM_MIN:-5.0}; EV_MIN=${EV_MIN:-2.5}
BASE=${BASE:-mmamba-s-run4}; NEW=${NEW:-mmamba-s-run7}   # row labels: the shipped model it starts from, the result
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
el "tokens | decoded images"
CUDA_VISIBLE_DEVICES=0 python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$R/tokens" > "$R/tokens.log" 2>&1 &
PYTHONPATH=training python3 -c "
from mmamba.runutil import decode_split_images
for s in ('train', 'val', 'test'): decode_split_images('data/packed', s)" > "$R/decode.log" 2>&1 &
wait; tail -1 "$R/tokens.log"
python3 training/evaluate.py --data data/packed --write-prompts "$E/items.json" --n 1000 | tail -1
el "train (continue mmamba-s, $MM_MIN min, 2 GPUs) | evaluators (GPU1, $EV_MIN min)"
CUDA_VISIBLE_DEVICES=1 timeout 220 python3 training/train_evaluator.py --data data/packed --bpe public/models/mmamba-s \
  --out "$R/evaluators" --max-minutes "$EV_MIN" > "$R/evaluators.log" 2>&1 &
torchrun --standalone --nproc_per_node=2 training/train_gen.py --model mmamba --data "$R/tokens" --out "$R/mmamba2" \
  --init public/models/mmamba-s --max-minutes "$MM_MIN" --batch-size 512 --lr 4e-4 --warmup 100 --val-every 500 > "$R/mmamba2.log" 2>&1
wait
grep -E "init|auto:|val_loss|done|Error|error" "$R/mmamba2.log" | tail -8; grep -E "HOLDOUT" "$R/evaluators.log"
el "export"
(cd training && python3 -m mmamba.export --ckpt "$R/mmamba2" --out "$R/models/mmamba-s2" --id mmamba-s --int8) 2>&1 | tail -1
el "evaluate (1000 items): reference, $BASE, $NEW | uvit-s"
CUDA_VISIBLE_DEVICES=0 timeout 150 python3 training/evaluate.py --data data/packed --evaluators "$R/evaluators/evaluators.pt" \
  --vq public/models/vq-s --prompts "$E/items.json" --reference --gen "$BASE=public/models/mmamba-s" \
  --gen "$NEW=$R/models/mmamba-s2" --json "$E/mm.json" --md "$E/mm.md" --grid "$E/grids" > "$E/mm.log" 2>&1 &
CUDA_VISIBLE_DEVICES=1 timeout 150 python3 training/evaluate.py --data data/packed --evaluators "$R/evaluators/evaluators.pt" \
  --vq public/models/vq-s --prompts "$E/items.json" --gen "uvit-s=public/models/uvit-s" \
  --json "$E/uvit.json" --md "$E/uvit.md" --grid "$E/grids" > "$E/uvit.log" 2>&1 &
(CUDA_VISIBLE_DEVICES=1 timeout 60 python3 training/sample_grid.py --gen "$R/models/mmamba-s2" --vq public/models/vq-s --data data/packed --out "$E/grid-mmamba.png" > /dev/null 2>&1
 CUDA_VISIBLE_DEVICES=1 timeout 40 python3 training/sample_grid.py --gen "$R/models/mmamba-s2" --vq public/models/vq-s --data data/packed \
  --prompts "red apple|red apple, noto style|yellow star, outline icon, center, blue background|cat face, twemoji style" --out "$E/grid-mmamba-demo.png" > /dev/null 2>&1) &
wait
cat "$E/mm.md" "$E/uvit.md"
cp "$R"/*.log "$R/mmamba2/log.jsonl" "$R/evaluators/summary.json" "$E/" 2>/dev/null
(cd "$R" && tar czf "$OUT/run7.tgz" eval7 models/mmamba-s2)
ls -la "$OUT"; el "done"
