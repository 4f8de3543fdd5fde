# The staged-training machinery shared by the recipes of one model line each (mmamba-v2.sh, mmamba-m.sh,
# uvit-m.sh; sourced at their end, not run on its own). A line is trained in GPU stages of at most ~25 minutes; each
# stage is a chain of device calls on one warm machine and leaves its EMA weights in training/stages/<ID>/
# (mmamba/stage.py), where the next stage starts (--init-stage: fresh AdamW, LR warm-up, the step count continues).
# The verbs (prepare, speed, begin, more, end, cool, save, score, sweep) are described in mmamba-v2.sh's header.
#
# What a line's recipe sets before `source "$(dirname "$0")/stages.sh"`:
#   ID                 the model id: the export's --id, $OUT/models/ID, training/stages/ID, and the candidate's
#                      name ID-stageK on the ruler, in the sampling sweep and in the everyday grid's file name
#   ARCH               train_gen's architecture flags, e.g. (--model uvit --d 384 --layers 6)
#   SRC                stage -> commit whose training/ tree the stage runs with (lib.sh pin_source)
#   PRIOR_OF           stage -> word table (glove or minilm; a stage without an entry trains with minilm); a stage
#                      whose table differs from the stage before it starts with --swap-prior
#   TRAIN_OF           optional: stage -> extra train_gen flags for every training call of that stage, e.g.
#                      ([5]="--prior-noise 0.3"); the stage's pinned tree must know them
#   COMPARE            shipped models (ids under public/models/) that `score` always puts beside the candidate
#   COMPARE_IF_THERE   shipped models put beside it only when their export is in the tree (optional)
#   COMPILE_DEFAULT    optional: 1 = torch.compile in every training call unless COMPILE is set (COMPILE= turns it
#                      off); unset: COMPILE, else the choice `speed` left in $RUNS/compile, else eager
#   SPEED_VARIANTS, SPEED_KEY, SPEED_WHAT   optional: the `speed` verb's bench_train_step.py variants, the variant
#                      of this line's block (eager; its +compile twin is compared with it), and the log line; a line
#                      without them has no `speed` verb
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for v in ID ARCH SRC PRIOR_OF COMPARE; do
  declare -p "$v" > /dev/null 2>&1 || { echo "recipe: stages.sh needs $v (see its header)" >&2; exit 2; }
done
declare -p COMPARE_IF_THERE > /dev/null 2>&1 || COMPARE_IF_THERE=()
declare -p TRAIN_OF > /dev/null 2>&1 || declare -A TRAIN_OF=()
declare -A TABLE=([glove]=training/prior/glove50.npz [minilm]=training/prior/minilm128.npz)
declare -A TABLE_BUILD=([glove]="--source glove" [minilm]="--source minilm --pca 128")   # build_word_prior.py
STAGE=${STAGE:-1}
P=${PRIOR_OF[$STAGE]:-minilm}
R=${RUNS:-/tmp/runs}
STAGES=$ROOT/training/stages/$ID
COMPILE=${COMPILE-${COMPILE_DEFAULT-$(cat "$R/compile" 2>/dev/null)}}
RULER=$ROOT/training/ruler/evaluators.pt
TRAIN=(--batch-size 512 --lr 8e-4 --lr-min-ratio 1 --steps 1000000 --val-every 1000 --ckpt-minutes 2
       --seed "$STAGE" ${COMPILE:+--compile})

# train MIN [extra args]: one invocation of train_gen in the pinned tree, time-boxed
train() {
  local min=$1; shift
  local extra; read -r -a extra <<< "${TRAIN_OF[$STAGE]:-}"
  "${TRAIN_GEN[@]}" "${ARCH[@]}" "${TRAIN[@]}" "${extra[@]}" --data "$R/tok_$P" --out "${RUN:-$R/stage$STAGE}" \
    --max-minutes "$min" "$@" >> "$OUT/logs/stage$STAGE.log" 2>&1 \
    || { tail -20 "$OUT/logs/stage$STAGE.log"; exit 1; }
  grep -E "init|resumed|word prior|params|val_loss|stopping|done" "$OUT/logs/stage$STAGE.log" | tail -4
  cp "${RUN:-$R/stage$STAGE}/log.jsonl" "$OUT/logs/$(basename "${RUN:-stage$STAGE}").jsonl" 2>/dev/null
}

# save_stage: the stage's EMA weights ($OUT/stage, the next stage's start) and the candidate export (also kept in
# $R/candidate for `score`) of the run CAND_RUN (default the stage's own run; `cool` points it at its copy).
# Run inside the pinned tree.
save_stage() {
  local cand_run=${CAND_RUN:-$R/stage$STAGE}
  (cd training && python3 -m mmamba.stage --ckpt "$R/stage$STAGE" --out "$OUT/stage" --stage "$STAGE") 2>&1 | tail -1
  (cd training && python3 -m mmamba.export --ckpt "$cand_run" --out "$OUT/models/$ID" --id "$ID" \
    --int8 --prior "$ROOT/${TABLE[$P]}") 2>&1 | tail -1
  rm -rf "$R/candidate"; cp -r "$OUT/models/$ID" "$R/candidate"
  # F16=1: the same weights exported in f16 too (kept on the machine only), for the ruler's int8-vs-f16 check
  rm -rf "$R/candidate-f16"
  if [ "${F16:-0}" = 1 ]; then
    (cd training && python3 -m mmamba.export --ckpt "$cand_run" --out "$R/candidate-f16" --id "$ID" \
      --prior "$ROOT/${TABLE[$P]}") 2>&1 | tail -1
  fi
}

# pack_logs: the call's logs as one $OUT/logs.tgz (a call returns at most 8 files)
pack_logs() { tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$OUT/logs"; }

# stop_at_step: the train_gen flag that ends a `more` at step UNTIL_STEP (a candidate at an exact image count, e.g. a
# rival line's: UNTIL_STEP x 512 images); nothing when UNTIL_STEP is unset. The run resumes from its newest
# checkpoint (ckpt-STEP.pt), so --stop-after counts from that step (train_gen's --stop-after is relative).
stop_at_step() {
  [ -z "${UNTIL_STEP:-}" ] && return 0
  [[ "$UNTIL_STEP" =~ ^[0-9]+$ ]] || { echo "recipe: UNTIL_STEP must be a step number, got '$UNTIL_STEP'" >&2; return 1; }
  local last; last=$(ls "$R/stage$STAGE"/ckpt-*.pt 2>/dev/null | sort | tail -1)
  [ -n "$last" ] || { echo "recipe: UNTIL_STEP needs a checkpoint in $R/stage$STAGE (begin first)" >&2; return 1; }
  local from=$((10#$(basename "$last" .pt | sed 's/^ckpt-//')))
  [ "$UNTIL_STEP" -gt "$from" ] \
    || { echo "recipe: UNTIL_STEP $UNTIL_STEP is not past the run's step $from" >&2; return 1; }
  echo "--stop-after $((UNTIL_STEP - from))"
}

# evaluators: the fixed ruler's file (training/ruler/), or the one stage 1's begin trained beside it when it has none
evaluators() { if [ -f "$RULER" ]; then echo "$RULER"; else echo "$R/evaluators/evaluators.pt"; fi; }

# sweep_candidate CAND REPORT_DIR: the sampling sweep of the candidate (the checkout's training/sweep_sampling.py,
# 100 prompts per split; the page's defaults follow it). SWEEP_GRID: the settings; the default keeps the ruler's 12
# steps and crosses guidance, tau and token temperature around the page's setting (18 settings, ~70 s for model M)
sweep_candidate() {
  local grid=${SWEEP_GRID:---steps 12 --guidance 3,4,5 --tau 0.75,1.5,3 --temperature 1,0.8}
  el "sampling sweep of the candidate (sweep_sampling.py, 100 prompts per split: $grid)"
  rm -f "$2/sweep.md"   # sweep_sampling.py appends: one table per report
  # shellcheck disable=SC2086  # SWEEP_GRID is a flag list
  timeout 240 python3 "$ROOT/training/sweep_sampling.py" --data data/packed --evaluators "$(evaluators)" \
    --vq public/models/vq-s --gen "$ID-stage$STAGE=$1" --ruler 100 $grid --json "$2/sweep.json" \
    --md "$2/sweep.md" > "$2/sweep.log" 2>&1
}

# score: the candidate ($R/candidate, or the export CANDIDATE names, e.g. one carried to a fresh machine) beside the
# shipped models COMPARE (and those of COMPARE_IF_THERE that are in the tree) on the fixed ruler, its everyday grid
# (and the sampling sweep if SWEEP=1), and the paired per-split differences to each of COMPARE with the ship rule's
# verdict line (ruler-compare.md; ruler_compare.py --verdict);
# everything and the logs in $OUT/report.tgz. Run inside the pinned tree.
score() {
  local cand=${CANDIDATE:-$R/candidate}
  [ -f "$cand/manifest.json" ] || { echo "recipe: no candidate export at $cand (run save or end first)" >&2; exit 1; }
  local ev; ev=$(evaluators)
  local rep=$R/report; mkdir -p "$rep"
  # the tools append to their .md files: a second score on the same warm machine (other GUIDANCE or PAGE_*) must
  # not read the first one's tables as its own
  rm -f "$rep"/ruler*.md "$rep"/ruler-compare.log
  # the candidate beside the shipped models (never ship worse); RULER_V1=1 also re-scores the v1 models, whose
  # rows on this fixed ruler are already in docs/evaluation.md
  local gens=() m
  for m in "${COMPARE[@]}"; do gens+=(--gen "$m=$ROOT/public/models/$m"); done
  for m in "${COMPARE_IF_THERE[@]}"; do
    [ -f "$ROOT/public/models/$m/manifest.json" ] && gens+=(--gen "$m=$ROOT/public/models/$m")
  done
  [ "${RULER_V1:-0}" = 1 ] \
    && gens+=(--gen "mmamba-s=$ROOT/public/models/mmamba-s" --gen "uvit-s=$ROOT/public/models/uvit-s")
  el "the ruler (${RULER_N:=250} per split, guidance ${GUIDANCE:=2}): ${gens[*]} and the candidate"
  [ -z "${CANDIDATE:-}" ] && [ -f "$R/candidate-f16/manifest.json" ] \
    && gens+=(--gen "$ID-stage$STAGE-f16=$R/candidate-f16")
  # the checkout's evaluate.py (the pinned tree may predate its per-item hits), run in the pinned tree's paths
  local evaluate=$ROOT/training/evaluate.py compare=$ROOT/training/ruler_compare.py
  timeout 240 python3 "$evaluate" --data data/packed --evaluators "$ev" --vq public/models/vq-s \
    --ruler "$RULER_N" "${gens[@]}" --gen "$ID-stage$STAGE=$cand" --guidance "$GUIDANCE" \
    --json "$rep/ruler.json" --md "$rep/ruler.md" > "$rep/ruler.log" 2>&1
  # never ship worse, with its noise: per split the paired difference to each shipped model, its 95% bootstrap
  # interval and McNemar p (ruler_compare.py), at the ruler's setting and below at each model's page setting
  for m in "${COMPARE[@]}"; do
    { echo "$ID-stage$STAGE vs $m, both at guidance $GUIDANCE, tau 4.5:"
      python3 "$compare" "$rep/ruler.json" --base "$m" --cand "$ID-stage$STAGE" --verdict
    } >> "$rep/ruler-compare.md" 2>> "$rep/ruler-compare.log"
  done
  python3 training/sample_grid.py --gen "$cand" --vq public/models/vq-s --everyday \
    --guidance "$GUIDANCE" --out "$rep/everyday-$ID-stage$STAGE.png" > "$rep/grid.log" 2>&1
  # what a user sees: the candidate alone on the ruler and its everyday grid at the page's defaults
  # (src/model/settings.ts; the shipped models' rows at this setting are in docs/evaluation.md)
  # PAGE_TEMPERATURE (token temperature; unset: 1, the flag left out, for pinned trees older than 5314ec2) scores a
  # sweep winner such as model M's (guidance 3, tau 1.5, temperature 0.8)
  local temp=(); [ -n "${PAGE_TEMPERATURE:-}" ] && temp=(--temperature "$PAGE_TEMPERATURE")
  el "the candidate at the page's guidance ${PAGE_GUIDANCE:=4}, tau ${PAGE_TAU:=1.5}${temp[*]:+, ${temp[*]}}: ruler and everyday grid"
  timeout 120 python3 "$evaluate" --data data/packed --evaluators "$ev" --vq public/models/vq-s \
    --ruler "$RULER_N" --gen "$ID-stage$STAGE=$cand" --guidance "$PAGE_GUIDANCE" --tau "$PAGE_TAU" "${temp[@]}" \
    --json "$rep/ruler-page.json" --md "$rep/ruler-page.md" > "$rep/ruler-page.log" 2>&1
  # each shipped model as the page draws it today (its index.json sampling over the page's defaults), item by item
  # against the candidate's page rows
  local steps g t tt
  for m in "${COMPARE[@]}"; do
    read -r steps g t tt < <(cd "$ROOT/training" && python3 -m mmamba.model_index ../public/models --sampling-of "$m")
    timeout 120 python3 "$evaluate" --data data/packed --evaluators "$ev" --vq public/models/vq-s \
      --ruler "$RULER_N" --gen "$m=$ROOT/public/models/$m" --steps "$steps" --guidance "$g" --tau "$t" \
      --temperature "$tt" --json "$rep/ruler-page-$m.json" > "$rep/ruler-page-$m.log" 2>&1
    { echo "$ID-stage$STAGE at guidance $PAGE_GUIDANCE, tau $PAGE_TAU, temperature ${PAGE_TEMPERATURE:-1} vs $m at" \
        "its page setting (steps $steps, guidance $g, tau $t, temperature $tt):"
      python3 "$compare" "$rep/ruler-page.json" --base-run "$rep/ruler-page-$m.json" --base "$m" --cand "$ID-stage$STAGE" \
        --verdict
    } >> "$rep/ruler-compare.md" 2>> "$rep/ruler-compare.log"
  done
  python3 training/sample_grid.py --gen "$cand" --vq public/models/vq-s --everyday --guidance "$PAGE_GUIDANCE" \
    --tau "$PAGE_TAU" "${temp[@]}" --out "$rep/everyday-$ID-stage$STAGE-page.png" > "$rep/grid-page.log" 2>&1
  # the machine count of both grids (the checkout's scorer; the pinned tree may predate it)
  python3 "$ROOT/training/score_everyday.py" "$rep/everyday-$ID-stage$STAGE.png" \
    "$rep/everyday-$ID-stage$STAGE-page.png" --evaluators "$ev" --json "$rep/everyday-count.json" \
    > "$rep/everyday-count.log" 2>&1
  [ "${SWEEP:-0}" = 1 ] && sweep_candidate "$cand" "$rep"
  cp "$OUT"/logs/* "$rep/" 2>/dev/null; rm -rf "$OUT/logs"
  tar czf "$OUT/report.tgz" -C "$R" report
  grep -A20 "by split" "$rep/ruler.md" | head -24; grep -A8 "by split" "$rep/ruler-page.md" | tail -5
  cat "$rep/ruler-compare.md" "$rep/ruler-compare.log" 2>/dev/null
  tail -4 "$rep/everyday-count.log"; tail -3 "$rep/sweep.md" 2>/dev/null
  el "done"
}

case "${1:-}" in
  speed|begin|more|end|cool|sweep|save|score)
    [ -n "${SRC[$STAGE]:-}" ] \
      || { echo "recipe: stage $STAGE of $ID has no pinned tree: add SRC[$STAGE] to $0" >&2; exit 2; } ;;
esac
[ "${1:-}" = prepare ] || mkdir -p "$R" "$OUT/logs"
case "${1:-}" in
  prepare)
    [ -f "$ROOT/data/packed/index.json" ] || (cd "$ROOT" && npm run data) || exit 1
    for t in glove minilm; do   # the tables this line's stages train with (minilm: also every stage without one)
      [ "$t" = minilm ] || [[ " ${PRIOR_OF[*]} " == *" $t "* ]] || continue
      # shellcheck disable=SC2086  # TABLE_BUILD values are flag lists
      [ -f "$ROOT/${TABLE[$t]}" ] || (cd "$ROOT" && python3 training/prior/build_word_prior.py \
        ${TABLE_BUILD[$t]} --out "${TABLE[$t]}") || exit 1
    done
    for c in "${SRC[@]}"; do pin_source "$c"; done ;;
  speed)
    [ -n "${SPEED_VARIANTS:-}" ] \
      || { echo "recipe: $ID has no speed check (COMPILE_DEFAULT=${COMPILE_DEFAULT-unset})" >&2; exit 2; }
    enter_source "${SRC[$STAGE]}"
    el "$SPEED_WHAT"
    timeout 300 python3 training/bench_train_step.py --batch 512 --compile --rounds 3 --steps 10 --no-profile \
      --variants "$SPEED_VARIANTS" --json "$OUT/logs/speed.json" \
      > "$OUT/logs/speed.log" 2>&1; grep -E "^\||FAILED|warm-up" "$OUT/logs/speed.log"
    python3 - "$OUT/logs/speed.json" "$SPEED_KEY" > "$R/compile" <<'PY'
import json, sys
rows = {r["variant"].split("@")[0]: r["ms_median"] for r in json.load(open(sys.argv[1]))}
eager, comp = rows.get(sys.argv[2]), rows.get(sys.argv[2] + "+compile")
print(1 if eager and comp and comp <= 0.9 * eager else "")
PY
    el "compile for this stage: $( [ -s "$R/compile" ] && [ "$(cat "$R/compile")" = 1 ] && echo yes || echo no)" ;;
  begin)
    enter_source "${SRC[$STAGE]}"
    el "tokens: VQ codes + v2 captions without a prior (the evaluators' tokenizer), then with the $P table"
    python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$R/tok_none" \
      --batch-size 1024 > "$OUT/logs/tok_none.log" 2>&1 || { tail -20 "$OUT/logs/tok_none.log"; exit 1; }
    python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$R/tok_$P" \
      --prior "$ROOT/${TABLE[$P]}" --image-tokens-from "$R/tok_none" \
      > "$OUT/logs/tok_$P.log" 2>&1 || { tail -20 "$OUT/logs/tok_$P.log"; exit 1; }
    tail -1 "$OUT/logs/tok_$P.log"
    if [ ! -f "$RULER" ]; then
      # the fixed ruler (docs/evaluation.md): trained once, beside stage 1, then kept in training/ruler/
      el "the ruler's evaluators: ${EV_STEPS:=6000} steps, seed 0 (alongside the training)"
      python3 training/train_evaluator.py --data data/packed --bpe "$R/tok_none/bpe.json" --out "$R/evaluators" \
        --steps "$EV_STEPS" --seed 0 --batch-size 512 --int8 > "$OUT/logs/evaluators.log" 2>&1 &
    fi
    init=(); [ -f "$STAGES/manifest.json" ] && init=(--init-stage "$STAGES" --warmup 100)
    prev=${PRIOR_OF[$((STAGE - 1))]:-}
    [ ${#init[@]} != 0 ] && [ -n "$prev" ] && [ "$prev" != "$P" ] && init+=(--swap-prior)
    # the same table name but other bytes (a table rebuilt with other library versions): the projection from the
    # table starts fresh too, loudly (train_gen would refuse the stage otherwise)
    if [ ${#init[@]} != 0 ] && [[ " ${init[*]} " != *" --swap-prior "* ]]; then
      was=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["config"]["text"].get("prior_sha256", ""))' \
        "$STAGES/manifest.json")
      now=$(sha256sum "$ROOT/${TABLE[$P]}" | cut -d' ' -f1)
      if [ -n "$was" ] && [ "$was" != "$now" ]; then
        el "the stage was trained with another $P table (sha256 ${was:0:12}, here ${now:0:12}): --swap-prior"
        init+=(--swap-prior)
      fi
    fi
    [ ${#init[@]} = 0 ] && init=(--warmup 300)
    el "stage $STAGE: train $2 min ${init[*]}"; (train "$2" "${init[@]}") || echo "stage $STAGE: training FAILED"
    wait
    if [ -f "$R/evaluators/evaluators.pt" ]; then
      grep -E "HOLDOUT" "$OUT/logs/evaluators.log" | tail -1; cp "$R/evaluators/evaluators.pt" "$OUT/"
    fi
    save_stage; pack_logs; el "done" ;;
  more)  # UNTIL_STEP=S also stops it at step S (stop_at_step)
    enter_source "${SRC[$STAGE]}"; stop=$(stop_at_step) || exit 1
    el "stage $STAGE: train $2 more min${UNTIL_STEP:+, to step $UNTIL_STEP at most}"; train "$2" --resume $stop
    save_stage; pack_logs; el "done" ;;
  end)
    # A device call returns at most 8 files: the stage, the candidate export (a manifest and 1-2 shards each) and
    # one report.tgz (ruler, everyday grid, sampling sweep, logs).
    enter_source "${SRC[$STAGE]}"; el "stage $STAGE: train $2 more min"; train "$2" --resume
    save_stage; score ;;
  cool)
    # The candidate from a cool-down: a copy of the stage's run trains STEPS more with the LR falling linearly to 0
    # (train_gen --cooldown-steps); the stage itself stays at the stable LR, so the next stage continues from it.
    enter_source "${SRC[$STAGE]}"
    [ -d "$R/stage$STAGE" ] || { echo "recipe: no run at $R/stage$STAGE to cool (begin or more first)" >&2; exit 1; }
    rm -rf "$R/stage$STAGE-cool"; cp -r "$R/stage$STAGE" "$R/stage$STAGE-cool"
    el "stage $STAGE: cool-down of $2 steps (LR linear to 0) in a copy of the run"
    RUN=$R/stage$STAGE-cool train 5 --resume --cooldown-steps "$2"
    CAND_RUN=$R/stage$STAGE-cool save_stage; score ;;
  sweep)  # only the sampling sweep of the candidate (or CANDIDATE) left in $R; report-sweep.tgz
    enter_source "${SRC[$STAGE]}"
    mkdir -p "$R/report-sweep"; sweep_candidate "${CANDIDATE:-$R/candidate}" "$R/report-sweep"
    tar czf "$OUT/report-sweep.tgz" -C "$R" report-sweep
    cat "$R/report-sweep/sweep.md"; tail -3 "$R/report-sweep/sweep.log"
    el "done" ;;
  save)  # the stage and the candidate export from the last checkpoint, no training (e.g. after `begin`)
    enter_source "${SRC[$STAGE]}"; save_stage; el "done" ;;
  score)  # the ruler and the everyday grid of the candidate `save` or `end` left in $R (same warm machine)
    enter_source "${SRC[$STAGE]}"; score ;;
  *) echo "usage: $0 prepare | speed | begin MIN | more MIN | end MIN | cool STEPS | save | score | sweep (STAGE=K)" >&2
     exit 2 ;;
esac
