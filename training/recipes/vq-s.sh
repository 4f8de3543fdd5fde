#!/usr/bin/env bash
# Recipe: the shipped VQ tokenizer public/models/vq-s (1.82 M params, f16, 3.6 MB; 28.2 dB test PSNR), as device
# run 1 trained it (commit ec9d3b8, 2026-11-28). See lib.sh for why the sources and the dataset are pinned.
#
#   here:    bash training/recipes/vq-s.sh prepare   # dataset v1 -> data/packed, training/ of ec9d3b8 -> training/runs/recipe
#   device:  kind nvidia-h200-x2, carry ["data/packed", "training/runs/recipe"], command
#            bash training/recipes/vq-s.sh train      # about 5 min: 3.3 min of DDP training on 2 GPUs, export
#   here:    copy the returned models/vq-s over public/models/vq-s, then
#            (cd training && .venv/bin/python -m mmamba.model_index ../public/models)
#
# Writes $OUT/models/vq-s (manifest.json + one .safetensors shard) and $OUT/logs/vq.log, vq.jsonl.
# The shipped run did 2,339 steps at batch 256 (about 4,500 images/s on 2 H200s). Check the result with HEAD's
# `python training/eval_vq.py --vq public/models/vq-s --split test` (docs/training.md "VQ tokenizer").
source "$(dirname "$0")/lib.sh"
SRC=ec9d3b8
case "${1:-}" in
  prepare) build_data_v1; pin_source $SRC ;;
  train)
    R=${RUNS:-/tmp/runs}; mkdir -p "$R" "$OUT/models" "$OUT/logs"
    enter_source $SRC
    el "VQ (2 GPUs, DDP)"
    torchrun --standalone --nproc_per_node=2 training/train_vq.py --data data/packed --out "$R/vq" \
      --max-minutes 3.3 --batch-size 256 --lr 1e-3 > "$OUT/logs/vq.log" 2>&1 || { tail -20 "$OUT/logs/vq.log"; exit 1; }
    tail -4 "$OUT/logs/vq.log"; cp "$R/vq/log.jsonl" "$OUT/logs/vq.jsonl" 2>/dev/null
    el "export"
    (cd training && python3 -m mmamba.export --ckpt "$R/vq" --out "$OUT/models/vq-s" --id vq-s) 2>&1 | tail -2
    el "done" ;;
  *) echo "usage: bash training/recipes/vq-s.sh prepare|train (see the header)" >&2; exit 2 ;;
esac
