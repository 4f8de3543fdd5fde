#!/usr/bin/env bash
# Device run for the evaluation suite (issue #7; docs/evaluation.md), 2x H200, everything side by side and
# time-boxed so that one call ends inside BUDGET_S (default 555 s):
#   prep  decoded image cache (all splits), VQ tokens if $R/tokens is missing, the prompt files
#   GPU0  evaluators (train_evaluator.py, EV_MIN minutes), then the shipped generators + reference rows
#         (evaluate.py, EVAL_N items) and the browser-vs-PyTorch parity rows
#   Dawn  bench/generate_eval.ts: the WebGPU engine generates the PARITY_N parity items (if .gpu/generate_eval.mjs
#         is staged), concurrently with the evaluator training
#   GPU0+1 ablation variants of M-Mamba (and UViT at the same image count), each ABL_STEPS steps of ABL_BATCH
#         (equal training images), several processes per GPU; then each is evaluated on ABL_EVAL_N items
#   pack  tables, JSON, logs and grids -> $OUT/eval (small files); evaluators.pt -> $OUT/parts (15 MiB pieces)
# The shipped/parity evaluations run in the background from the moment the evaluators exist; the ablation
# evaluations start when the last ablation run ends. Two calls instead of one: PHASE=train (prep, evaluators,
# ablation training), then PHASE=eval (the rest) in the next call while the machine is still warm ($R survives
# only then). PHASE=all (default) does both.
# Before the call, here: `bash scripts/stage-gpu.sh` and
#   node bench/build.mjs node_modules/.cache/m-mamba-eval/generate_eval.mjs bench/generate_eval.ts &&
#   cp node_modules/.cache/m-mamba-eval/generate_eval.mjs .gpu/
# Device tool: kind nvidia-h200-x2, carry [".gpu", "data/packed"] (without data/packed/decoded: rebuilt there),
# command `bash training/gpu/eval.sh` (env before it, e.g. `ABL_STEPS=300 bash training/gpu/eval.sh`).
set -uo pipefail
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
R=${RUNS:-/tmp/runs}; OUT=${OUT:-/tmp/eval-out}; PHASE=${PHASE:-all}; BUDGET_S=${BUDGET_S:-555}
EV_MIN=${EV_MIN:-2.5}; EVAL_N=${EVAL_N:-1000}; PARITY_N=${PARITY_N:-64}; ABL_EVAL_N=${ABL_EVAL_N:-500}
ABL_STEPS=${ABL_STEPS:-150}; ABL_BATCH=${ABL_BATCH:-256}; ABL_LR=${ABL_LR:-8e-4}; ABL_MIN=${ABL_MIN:-5.0}
# 7 runs side by side at ~600 images/s per H200 in all (M-Mamba S, bf16, Triton scan; 2026-11-28) leave room for
# 150 x 256 images each inside ABL_MIN; raise ABL_STEPS when the trainer gets faster.
# name|train_gen flags; M-Mamba variants matched in parameters to the 6.48 M base within 7 % (dir1/dir2 get
# more layers, ffn fewer), UViT S (6.44 M) at the same number of training images
ABL_VARIANTS=${ABL_VARIANTS:-"mm-base|--model mmamba
mm-dir1-L10|--model mmamba --directions 1 --layers 10
mm-dir2-L9|--model mmamba --directions 2 --layers 9
mm-text-middle|--model mmamba --text-position middle
mm-ffn2-L5|--model mmamba --ffn --ffn-mult 2 --layers 5
mm-pos-emb|--model mmamba --pos-emb
uvit|--model uvit"}
# inputs; the *_ARGS knobs add flags (a CPU smoke run of this script uses tiny presets through them)
DATA=${DATA:-data/packed}; VQ=${VQ:-public/models/vq-s}; MODELS=${MODELS:-public/models}
SHIPPED=${SHIPPED:-"mmamba-s uvit-s"}; EV_BPE=${EV_BPE:-$MODELS/mmamba-s}
EV_ARGS=${EV_ARGS:-}; ABL_ARGS=${ABL_ARGS:-}; EVAL_ARGS=${EVAL_ARGS:-}
GPU_DIR=${GPU_DIR:-.gpu}   # staged node + Dawn (enter.sh) and generate_eval.mjs
EV_FROM=${EV_FROM:-}       # an evaluators.pt from an earlier run (e.g. carried training/runs/evaluators.pt): reuse, no training
EV=$R/evaluators/evaluators.pt
mkdir -p "$R/eval/grids" "$R/abl" "$R/webgpu" "$OUT/eval" "$OUT/parts"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
left() { echo $(( BUDGET_S - ($(date +%s) - t0) )); }
# timeout of a stage: its planned seconds, or what is left of the budget minus a reserve for packing
box() { local want=$1 reserve=${2:-25} l; l=$(( $(left) - reserve )); (( l < want )) && want=$l; (( want < 5 )) && want=5; echo "$want"; }
nvidia-smi --query-gpu=index,name,memory.used --format=csv,noheader 2>/dev/null
echo "PHASE=$PHASE R=$R EV_MIN=$EV_MIN EVAL_N=$EVAL_N PARITY_N=$PARITY_N ABL_STEPS=$ABL_STEPS ABL_BATCH=$ABL_BATCH ABL_EVAL_N=$ABL_EVAL_N"

# ------------------------------------------------------------------ prep (both phases; cheap when cached)
el "prep: decoded images (all splits), tokens, prompt files"
PYTHONPATH=training timeout "$(box 90)" python3 -c "
from mmamba.runutil import decode_split_images
for s in ('train', 'val', 'test'): decode_split_images('$DATA', s)" 2>&1 | tail -3
if [ ! -f "$R/tokens/tokens_meta.json" ] && [ "$PHASE" != eval ]; then
  el "tokens missing: encode_tokens.py with $VQ"
  CUDA_VISIBLE_DEVICES=0 timeout "$(box 120)" python3 training/encode_tokens.py --data "$DATA" --vq "$VQ" --out "$R/tokens" 2>&1 | tail -2
fi
if [ -n "$EV_FROM" ]; then
  [ -f "$EV_FROM" ] || { echo "EV_FROM=$EV_FROM does not exist"; exit 1; }
  el "evaluators: reusing $EV_FROM (the same ruler as the run that trained it)"
  mkdir -p "$R/evaluators"; cp "$EV_FROM" "$EV"
  python3 -c "import torch, json; print(json.dumps(torch.load('$EV', weights_only=False)['extra'].get('summary'), indent=1))" \
    > "$R/evaluators/summary.json" 2> /dev/null
fi
python3 training/evaluate.py --data "$DATA" --write-prompts "$R/eval/items.json" --n "$EVAL_N" | tail -1
python3 training/evaluate.py --data "$DATA" --write-prompts "$R/eval/parity-items.json" --n "$PARITY_N" | tail -1

# ------------------------------------------------------------------ phase train: evaluators + ablations
pids=()
if [ "$PHASE" != eval ]; then
  if [ -n "$EV_FROM" ]; then
    true & pids+=($!)                               # reused (prep), nothing to train
  else
    el "GPU0: evaluators ($EV_MIN min)"
    CUDA_VISIBLE_DEVICES=0 timeout "$(box "$(python3 -c "print(int($EV_MIN * 60 + 45))")")" python3 training/train_evaluator.py \
      --data "$DATA" --bpe "$EV_BPE" --out "$R/evaluators" --max-minutes "$EV_MIN" $EV_ARGS > "$R/evaluators.log" 2>&1 &
    pids+=($!)
  fi
  i=0
  while IFS='|' read -r name flags; do
    [ -n "$name" ] || continue
    gpu=$(( (i + 1) % 2 )); i=$((i + 1))           # mm-base on GPU1, next on GPU0, ...
    el "GPU$gpu: ablation $name ($flags), $ABL_STEPS steps x $ABL_BATCH"
    # shellcheck disable=SC2086
    CUDA_VISIBLE_DEVICES=$gpu timeout "$(box "$(python3 -c "print(int($ABL_MIN * 60 + 40))")")" python3 training/train_gen.py \
      $flags --data "$R/tokens" --out "$R/abl/$name" --steps "$ABL_STEPS" --batch-size "$ABL_BATCH" --lr "$ABL_LR" \
      --max-minutes "$ABL_MIN" --val-every 1000000 --log-every 50 $ABL_ARGS > "$R/abl/$name.log" 2>&1 &
    pids+=($!)
  done <<< "$ABL_VARIANTS"
fi

# ------------------------------------------------------------------ Dawn: WebGPU engine images for parity
if [ "$PHASE" != train ]; then
  if [ -f "$GPU_DIR/generate_eval.mjs" ] && [ -f "$GPU_DIR/enter.sh" ]; then
    el "Dawn: WebGPU parity images ($PARITY_N items x $SHIPPED)"
    ( timeout "$(box 150)" bash "$GPU_DIR/enter.sh" node "$GPU_DIR/generate_eval.mjs" --prompts "$R/eval/parity-items.json" \
        --out "$R/webgpu" --models "$MODELS" --vq "$(basename "$VQ")" --model "${SHIPPED// /,}" $EVAL_ARGS \
        > "$R/webgpu.log" 2>&1; tail -3 "$R/webgpu.log" ) &
    dawn_pid=$!
  else
    echo "no $GPU_DIR/generate_eval.mjs: parity rows skipped (stage it: see the header of this script)"; dawn_pid=""
  fi
fi

if [ "$PHASE" != eval ]; then
  wait "${pids[0]}"; el "evaluators done"; grep -E "HOLDOUT|Error|error" "$R/evaluators.log" | tail -4
fi

# ------------------------------------------------------------------ phase eval
if [ "$PHASE" != train ]; then
  [ -f "$EV" ] || { echo "no $EV: run PHASE=train first (same warm machine)"; }
  rm -f "$R"/eval/*.md "$R"/eval/shipped.json "$R"/eval/parity.json "$R"/eval/ablation-gpu*.json   # --md appends
  gens=(); for id in $SHIPPED; do gens+=(--gen "$id=$MODELS/$id"); done
  for d in "$R"/models/*/; do
    id=$(basename "$d"); [ -f "$d/manifest.json" ] && [ "$id" != vq-s ] && gens+=(--gen "runs-$id=$d")
  done
  # in the background, so that the ablation evaluations can start as soon as their training ends
  (
  el "GPU0: shipped generators + reference rows ($EVAL_N items): ${gens[*]}"
  CUDA_VISIBLE_DEVICES=0 timeout "$(box 200)" python3 training/evaluate.py --data "$DATA" --evaluators "$EV" --vq "$VQ" \
    --prompts "$R/eval/items.json" --reference $EVAL_ARGS "${gens[@]}" --json "$R/eval/shipped.json" --md "$R/eval/eval.md" \
    --grid "$R/eval/grids" > "$R/eval/shipped.log" 2>&1
  grep -E "^ROW|Error" "$R/eval/shipped.log"
  if [ -n "${dawn_pid:-}" ]; then
    while kill -0 "$dawn_pid" 2> /dev/null; do sleep 2; done   # not a child of this subshell: poll
    ext=(); for id in $SHIPPED; do [ -f "$R/webgpu/$id.u8" ] && ext+=(--gen "$id=$MODELS/$id" --external "$id=$R/webgpu/$id.u8"); done
    if [ ${#ext[@]} -gt 0 ]; then
      el "GPU0: parity (PyTorch vs WebGPU, $PARITY_N items)"
      CUDA_VISIBLE_DEVICES=0 timeout "$(box 90)" python3 training/evaluate.py --data "$DATA" --evaluators "$EV" --vq "$VQ" \
        --prompts "$R/eval/parity-items.json" "${ext[@]}" $EVAL_ARGS --json "$R/eval/parity.json" --md "$R/eval/parity.md" \
        > "$R/eval/parity.log" 2>&1
      grep -E "^PARITY|Error" "$R/eval/parity.log"
    fi
  fi
  el "shipped + parity evaluations done"
  ) &
fi

if [ "$PHASE" != eval ]; then
  for p in "${pids[@]:1}"; do wait "$p"; done
  el "ablation training done"
  for f in "$R"/abl/*.log; do echo "  $(basename "$f" .log): $(grep -E '^done|stopping|Error' "$f" | tail -1)"; done
fi

if [ "$PHASE" != train ] && ls "$R"/abl/*/summary.json > /dev/null 2>&1; then
  el "GPU0+1: evaluate ablation variants ($ABL_EVAL_N items each)"
  a0=(); a1=(); i=0
  for s in "$R"/abl/*/summary.json; do
    d=$(dirname "$s"); n=$(basename "$d")
    if (( i % 2 )); then a1+=(--gen "$n=$d"); else a0+=(--gen "$n=$d"); fi; i=$((i + 1))
  done
  for g in 0 1; do
    if [ $g -eq 0 ]; then set -- "${a0[@]}"; else set -- "${a1[@]}"; fi
    [ $# -gt 0 ] || continue
    CUDA_VISIBLE_DEVICES=$g timeout "$(box 150)" python3 training/evaluate.py --data "$DATA" --evaluators "$EV" --vq "$VQ" \
      --n "$ABL_EVAL_N" "$@" $EVAL_ARGS --json "$R/eval/ablation-gpu$g.json" --grid "$R/eval/grids" > "$R/eval/ablation-gpu$g.log" 2>&1 &
  done
  # forward FLOPs per variant (shape-only CPU forwards, seconds each) while the GPUs evaluate
  timeout "$(box 120)" python3 training/ablation_table.py --runs "$R/abl" --flops-cache "$R/eval/flops.json" \
    --out /dev/null > /dev/null 2>&1 &
  wait
  grep -hE "^ROW|Error" "$R"/eval/ablation-gpu*.log
  timeout "$(box 60 10)" python3 training/ablation_table.py --runs "$R/abl" --eval "$R/eval/ablation-gpu*.json" \
    --target-steps "$ABL_STEPS" --flops-cache "$R/eval/flops.json" --out "$R/eval/ablation.md" > /dev/null ||
  python3 training/ablation_table.py --runs "$R/abl" --eval "$R/eval/ablation-gpu*.json" --target-steps "$ABL_STEPS" \
    --no-flops --out "$R/eval/ablation.md" > /dev/null
fi

wait   # every background job: shipped/parity evaluations, Dawn, training
# ------------------------------------------------------------------ pack + summary
el "pack"
cp "$R"/eval/*.json "$R"/eval/*.md "$R"/eval/*.log "$OUT/eval/" 2>/dev/null
cp -r "$R/eval/grids" "$OUT/eval/" 2>/dev/null
cp "$R/evaluators.log" "$R/webgpu.log" "$OUT/eval/" 2>/dev/null
[ -f "$R/evaluators/summary.json" ] && cp "$R/evaluators/summary.json" "$OUT/eval/evaluators-summary.json"
mkdir -p "$OUT/eval/webgpu"; cp "$R"/webgpu/*.json "$OUT/eval/webgpu/" 2>/dev/null
for d in "$R"/abl/*/; do n=$(basename "$d"); mkdir -p "$OUT/eval/abl/$n"; cp "$d"/summary.json "$d"/log.jsonl "$d"/config.json "$OUT/eval/abl/$n/" 2>/dev/null; done
cp "$R"/abl/*.log "$OUT/eval/abl/" 2>/dev/null
[ -f "$EV" ] && (cd "$R" && tar cf - evaluators/evaluators.pt) | split -b 15m - "$OUT/parts/evaluators.tar."
{
  echo "# Evaluation run $(date -u +%Y-%m-%dT%H:%M:%SZ) (PHASE=$PHASE)"; echo
  [ -f "$R/evaluators/summary.json" ] && { echo "## Evaluators (hold-out)"; echo; echo '```'; cat "$R/evaluators/summary.json"; echo; echo '```'; echo; }
  [ -f "$R/eval/eval.md" ] && { echo "## Shipped generators ($EVAL_N items)"; echo; cat "$R/eval/eval.md"; echo; }
  [ -f "$R/eval/parity.md" ] && { echo "## Parity (WebGPU engine vs PyTorch, $PARITY_N items)"; echo; cat "$R/eval/parity.md";
    grep -h "^PARITY" "$R/eval/parity.log"; echo; }
  [ -f "$R/eval/ablation.md" ] && { echo "## Ablations ($ABL_STEPS steps x $ABL_BATCH images, $ABL_EVAL_N eval items)"; echo; cat "$R/eval/ablation.md"; }
} > "$OUT/eval/summary.md"
cat "$OUT/eval/summary.md"
du -sh "$OUT"/* 2>/dev/null; el "done"
