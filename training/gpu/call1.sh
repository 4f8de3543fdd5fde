#!/usr/bin/env bash
# Device run 1 (2x H200): VQ tokenizer on 2 GPUs (DDP), BPE + VQ tokens, throughput benches (1 vs 2 GPUs),
# then M-Mamba and UViT side by side (one GPU each), export, sample grids. Everything that comes back is
# tarred and split into <=15 MB parts under $OUT. Run from the repo root with data/packed carried.
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=${RUNS:-/tmp/runs}; mkdir -p "$R" "$OUT/parts"
VQ_MIN=${VQ_MIN:-3.3}; GEN_MIN=${GEN_MIN:-3.5}; MM_BS=${MM_BS:-128}; UV_BS=${UV_BS:-512}
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi -L
python3 -c "import torch, PIL; from PIL import features; print('torch', torch.__version__, 'gpus', torch.cuda.device_count(), 'webp', features.check('webp'))"
el "VQ"
torchrun --standalone --nproc_per_node=2 training/train_vq.py --data data/packed --out "$R/vq" \
  --max-minutes "$VQ_MIN" --batch-size 256 --lr 1e-3 > "$R/vq.log" 2>&1; tail -4 "$R/vq.log"
el "tokens"
python3 training/encode_tokens.py --data data/packed --vq "$R/vq" --out "$R/tokens" > "$R/tokens.log" 2>&1; tail -3 "$R/tokens.log"
el "bench"
for m in mmamba uvit; do
  bs=$([ $m = mmamba ] && echo $MM_BS || echo $UV_BS); gc=$([ $m = mmamba ] && echo --grad-checkpoint)
  python3 training/train_gen.py --model $m --data "$R/tokens" --out /tmp/bench1 --bench-steps 15 --batch-size $bs $gc 2>&1 | grep -E "BENCH|Error|error" | tail -2
  torchrun --standalone --nproc_per_node=2 training/train_gen.py --model $m --data "$R/tokens" --out /tmp/bench2 --bench-steps 15 --batch-size $((bs*2)) $gc 2>&1 | grep -E "BENCH|Error|error" | tail -2
done | tee "$R/bench.log"
el "generators"
CUDA_VISIBLE_DEVICES=0 python3 training/train_gen.py --model mmamba --data "$R/tokens" --out "$R/mmamba" --max-minutes "$GEN_MIN" --batch-size $MM_BS --grad-checkpoint > "$R/mmamba.log" 2>&1 &
CUDA_VISIBLE_DEVICES=1 python3 training/train_gen.py --model uvit --data "$R/tokens" --out "$R/uvit" --max-minutes "$GEN_MIN" --batch-size $UV_BS > "$R/uvit.log" 2>&1 &
wait; tail -3 "$R/mmamba.log" "$R/uvit.log"
el "export"
mkdir -p "$R/models"
(cd training && python3 -m mmamba.export --ckpt "$R/vq" --out "$R/models/vq-s" --id vq-s \
  && python3 -m mmamba.export --ckpt "$R/mmamba" --out "$R/models/mmamba-s" --id mmamba-s --int8 \
  && python3 -m mmamba.export --ckpt "$R/uvit" --out "$R/models/uvit-s" --id uvit-s --int8) 2>&1 | tail -5
for m in mmamba uvit; do
  python3 training/sample_grid.py --gen "$R/models/$m-s" --vq "$R/models/vq-s" --data data/packed --out "$R/grid-$m.png" 2>&1 | tail -2
  python3 training/sample_grid.py --gen "$R/models/$m-s" --vq "$R/models/vq-s" --data data/packed --prompts "red apple|red apple, noto style|yellow star, outline icon, center, blue background|cat face, twemoji style" --out "$R/grid-$m-demo.png" 2>&1 | tail -1
done
el "pack"
(cd "$R" && tar cf - models tokens/bpe.json tokens/tokens_meta.json tokens/*.npz *.log */log.jsonl grid-*.png 2>/dev/null) | split -b 15m - "$OUT/parts/runs.tar."
ls -la "$OUT/parts"; el "done"
