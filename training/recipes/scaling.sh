#!/usr/bin/env bash
# Recipe: the size of model v3 (issue "Model v2", item 1) and M-Mamba against UViT at equal parameters, at equal
# images and at equal GPU time (item 4). Every run starts from scratch on dataset v2 with the MiniLM word prior (the
# one model v2 uses from stage 3; PRIOR=glove for the GloVe table), the same optimiser (batch 512, LR 8e-4 after
# 300 warm-up steps, then a cosine to 0.1x that ends with the budget, so every size is compared decayed; seed 0,
# torch.compile) and one budget, then all runs are scored on the fixed ruler together. Sizes (total parameters with
# the text encoder):
#   mmamba-d256   lite block (expand 1, d_state 1, GEGLU FFN x2), d 256, 6 layers    6.11 M (the shipped v2)
#   mmamba-d384   lite block, d 384, 8 layers                                        15.12 M
#   mmamba-d512   lite block, d 512, 8 layers                                        24.96 M
#   mmamba-d384x10  lite block, d 384, 10 layers                                     18.55 M (UViT d384's equal)
#   mmamba-d512x6   lite block, d 512, 6 layers                                      19.15 M (model M, mmamba-m.sh)
#   uvit-d384     UViT, d 384, 6 layers                                              18.35 M
#   uvit-d256     UViT S, d 256, 4 layers                                             6.44 M (mmamba-d256's equal)
# (counted by building the models on CPU; each run's log prints its own count.)
#
#   here:    bash training/recipes/mmamba-v2.sh prepare   # the data and the word tables (shared)
#            bash training/recipes/scaling.sh prepare      # this recipe's pinned tree
#   device:  kind nvidia-h200, carry ["data/packed", "training/runs/recipe/src-bc9b75c"]; park
#            what the GPU does not read first (scripts/device_travel.sh)
#            BUDGET=images:1500000 bash training/recipes/scaling.sh run NAME...   # equal images (the sweep)
#            BUDGET=minutes:4      bash training/recipes/scaling.sh run NAME...   # equal GPU time (M-Mamba vs UViT)
#            bash training/recipes/scaling.sh ruler [NAME...]                      # every finished run (or the NAMEs)
#                                                                                   # on the ruler; report.tgz
#            SCORE=1 with `run` scores its runs on the ruler in the same call, so nothing is lost when the machine
#            goes cold before the next call (a run that must span calls loses its progress then: size runs to a call).
#   Runs live in /tmp/runs/scale-<budget>-<prior>-NAME, so budgets and priors do not mix; a call that ends early leaves a
#   resumable run (`run` again continues it).
declare -A SRC=([1]=bc9b75c)   # stage 2's 088555f plus a scan kind since removed (unused here: scratch backward)
source "$(dirname "$0")/lib.sh"
R=${RUNS:-/tmp/runs}
RULER=$ROOT/training/ruler/evaluators.pt
declare -A TABLE=([glove]=$ROOT/training/prior/glove50.npz [minilm]=$ROOT/training/prior/minilm128.npz)
PRIOR=${PRIOR:-minilm}
[ -n "${TABLE[$PRIOR]:-}" ] || { echo "recipe: PRIOR is glove or minilm, not '$PRIOR'" >&2; exit 2; }
LITE="--model mmamba --expand 1 --d-state 1 --ffn --ffn-mult 2"
declare -A CFG=(
  [mmamba-d256]="$LITE --d 256 --layers 6"
  [mmamba-d384]="$LITE --d 384 --layers 8"
  [mmamba-d512]="$LITE --d 512 --layers 8"
  [mmamba-d384x10]="$LITE --d 384 --layers 10"
  [mmamba-d512x6]="$LITE --d 512 --layers 6"
  [uvit-d384]="--model uvit --d 384 --layers 6"
  [uvit-d256]="--model uvit"
)
TRAIN=(--batch-size 512 --lr 8e-4 --lr-min-ratio 0.1 --warmup 300 --val-every 1000 --ckpt-minutes 2 --seed 0 --compile)
BUDGET=${BUDGET:-images:1500000}
case "$BUDGET" in
  images:[0-9]*) LIMIT=(--train-images "${BUDGET#images:}") ;;
  # equal time: --steps 0 times steps 10..40 and fixes the cosine's length to end inside the minutes
  minutes:[0-9]*) LIMIT=(--max-minutes "${BUDGET#minutes:}" --steps 0) ;;
  *) echo "recipe: BUDGET is images:N or minutes:M, not '$BUDGET'" >&2; exit 2 ;;
esac
TAG=${BUDGET/:/}-$PRIOR

# score [NAME...]: export every finished run (or the NAMEs) and score them together on the fixed ruler; report in
# $OUT/report-TAG.tgz. Run inside the pinned tree.
score() {
  local names=("$@"); [ ${#names[@]} -gt 0 ] || names=("${!CFG[@]}")
  local gens=() run rep name
  for name in "${names[@]}"; do
    run=$R/scale-$TAG-$name; compgen -G "$run/ckpt-*.pt" > /dev/null || continue
    (cd training && python3 -m mmamba.export --ckpt "$run" --out "$R/export-$TAG-$name" --id "$name" --int8 \
      --prior "${TABLE[$PRIOR]}") 2>&1 | tail -1
    gens+=(--gen "$name=$R/export-$TAG-$name")
  done
  [ ${#gens[@]} -gt 0 ] || { echo "recipe: no finished runs for $BUDGET in $R (run 'run' first)" >&2; exit 1; }
  rep=$R/report-$TAG; mkdir -p "$rep"
  el "the ruler (${RULER_N:=250} per split, guidance ${GUIDANCE:=2}), $BUDGET: ${gens[*]}"
  timeout 420 python3 training/evaluate.py --data data/packed --evaluators "$RULER" --vq public/models/vq-s \
    --ruler "$RULER_N" "${gens[@]}" --guidance "$GUIDANCE" --json "$rep/ruler.json" --md "$rep/ruler.md" \
    > "$rep/ruler.log" 2>&1
  cp "$OUT"/logs/* "$rep/" 2>/dev/null; rm -rf "$OUT/logs"
  tar czf "$OUT/report-$TAG.tgz" -C "$R" "report-$TAG"
  grep -A30 "by split" "$rep/ruler.md" | head -32
}

[ "${1:-}" = prepare ] || mkdir -p "$R" "$OUT/logs"
case "${1:-}" in
  prepare)
    for c in "${SRC[@]}"; do pin_source "$c"; done ;;
  run)
    enter_source "${SRC[1]}"; shift
    [ $# -gt 0 ] || { echo "usage: $0 run NAME... (${!CFG[*]})" >&2; exit 2; }
    for name in "$@"; do [ -n "${CFG[$name]:-}" ] || { echo "recipe: unknown run '$name' (${!CFG[*]})" >&2; exit 2; }; done
    el "tokens (kept when already there)"; v2_tokens "$R" "$PRIOR=${TABLE[$PRIOR]}" || exit 1
    for name in "$@"; do
      run=$R/scale-$TAG-$name; resume=(); compgen -G "$run/ckpt-*.pt" > /dev/null && resume=(--resume)
      el "$name ($BUDGET${resume:+, resumed})"
      # shellcheck disable=SC2086  # CFG values are flag lists
      "${TRAIN_GEN[@]}" ${CFG[$name]} "${TRAIN[@]}" "${LIMIT[@]}" "${resume[@]}" --data "$R/tok_$PRIOR" \
        --out "$run" >> "$OUT/logs/scale-$TAG-$name.log" 2>&1 || { tail -20 "$OUT/logs/scale-$TAG-$name.log"; exit 1; }
      grep -E "params|val_loss|stopping|done" "$OUT/logs/scale-$TAG-$name.log" | tail -3
      cp "$run/log.jsonl" "$OUT/logs/scale-$TAG-$name.jsonl" 2>/dev/null
    done
    [ "${SCORE:-0}" = 1 ] && score "$@"
    el "done" ;;
  ruler)
    enter_source "${SRC[1]}"; shift; score "$@"
    el "done" ;;
  *) echo "usage: $0 prepare | BUDGET=images:N|minutes:M $0 run NAME... | ruler [NAME...]" >&2; exit 2 ;;
esac
