#!/usr/bin/env bash
# Recipe: M-Mamba v2 — dataset v2, tokenizer v2 with a word prior (GloVe 50-d for stages 1-2, MiniLM from stage 3:
# docs/evaluation.md "Choosing the language prior"), and the cheap-scan block of VMamba v3
# (expand 1, d_state 1, a GEGLU feed-forward sublayer; 6 layers, d = 256, about the parameters of M-Mamba S),
# trained in stages of at most ~25 min on one H200. Each stage is a chain of device calls on one warm machine
# (/tmp/runs survives between calls that start within 30 s of each other) and leaves its EMA weights in
# training/stages/mmamba-v2/ (mmamba/stage.py: int8 rows, word prior unbaked, ~6 MB), where the next stage
# starts from (fresh AdamW, LR warm-up, the step count continues). The LR is constant after warm-up (the stable
# phase); a candidate for shipping is the EMA export of a stage, judged on the fixed ruler.
#
#   here:    bash training/recipes/mmamba-v2.sh prepare       # npm run data (dataset v2) if missing, the word
#                                                              # tables, and the pinned training/ trees below
#   device:  kind nvidia-h200, carry ["data/packed", the stage's word table (training/prior/glove50.npz for
#            stages 1-2, training/prior/minilm128.npz from stage 3), its pinned tree (training/runs/recipe/src-SRC)]
#            (park what the GPU does not read: scripts/device_travel.sh; `size` says whether it fits)
#            STAGE=K bash training/recipes/mmamba-v2.sh begin MIN   # tokens (+ the ruler's evaluators when
#                                                                    # training/ruler/ has none), train MIN minutes
#            STAGE=K bash training/recipes/mmamba-v2.sh more MIN    # resume, train MIN minutes
#            (begin and more also return the stage and the candidate export, as save does, and their logs as
#            logs.tgz: if the machine goes cold before the next call, the returned stage/ is the next begin's start)
#            STAGE=K bash training/recipes/mmamba-v2.sh end MIN     # resume, train MIN minutes; the stage and a
#                                                                    # candidate export; report.tgz: the ruler,
#                                                                    # everyday grid (+ sampling sweep if SWEEP=1)
#            STAGE=K bash training/recipes/mmamba-v2.sh cool STEPS  # the candidate from a cool-down: a copy of the
#                                                                    # run trains STEPS more, LR linear to 0; the
#                                                                    # stage (stable LR) and that candidate, then
#                                                                    # report.tgz as end
#            STAGE=K bash training/recipes/mmamba-v2.sh save        # the stage and the candidate export only
#            STAGE=K bash training/recipes/mmamba-v2.sh score       # then (same warm machine) report.tgz as end
#            STAGE=K bash training/recipes/mmamba-v2.sh sweep       # only the sampling sweep (report-sweep.tgz)
#            STAGE=K bash training/recipes/mmamba-v2.sh speed         # before begin: this block's training step
#                                                                    # eager vs torch.compile, UViT S beside it
#                                                                    # (bench_train_step.py, batch 512, one process);
#                                                                    # compile is kept when >= 10 % faster
#            F16=1 (with begin, more, end or save): the candidate is also exported in f16, and score puts it on the
#            ruler beside the int8 one (the download format's quality cost)
#            COMPILE=1 adds torch.compile to every training call of a stage (all calls of a stage alike); unset, the
#            calls follow the choice `speed` left in /tmp/runs/compile (eager when there is none)
#   here:    copy the returned stage/ over training/stages/mmamba-v2/ and commit it (the next stage's start);
#            a candidate that beats the shipped model on the ruler and the everyday grid replaces it
#
# Stages (the training/ tree each ran with, device calls, minutes of training, resulting step / images):
#   stage 1: training/ of 0b860e7 (2026-12-02): begin 5.5 (beside the ruler's evaluators), more 8.3, end 2.0, then
#            more 3.9 and the stage saved by hand (`python -m mmamba.stage --ckpt /tmp/runs/stage1 --stage 1`;
#            a call returns at most 8 files, and `end`'s ruler, grid and logs had taken them): step 8,670,
#            4.44 M images, validation masked CE (EMA) 1.341
#   stage 2: training/ of 088555f (2026-12-02): speed (compile chosen: 9,150 vs 4,834 images/s), begin 3.5, more 8.3,
#            end 2.2 (the candidate, shipped as mmamba-v2: step 19,340, 9.90 M images, validation CE (EMA) 1.282),
#            then more 3.6 and the stage saved by hand as above: step 22,000, 11.26 M images, CE (EMA) 1.274
#   stage 3: the word prior swaps to MiniLM (PCA 128): the stage-2 weights load except text.word_proj, which starts
#            fresh for the new table (train_gen.py --swap-prior; the word list and every token id are the same).
#            training/ of 5eed2d2 (2026-12-03): begin 7 + save (one call), score, then more 4.3 + save + score (one
#            call; the shipped mmamba-v2: step 32,000, 16.38 M images, validation CE (EMA) 1.254). A first begin 4.5
#            was lost when the machine went cold before the next call, so begin and more now save the stage too.
#   stage 4: MiniLM, from stage 3's weights (no swap); training/ of 9c306f3 (2026-12-03), which adds the cool-down
#            (`cool STEPS`: the shipping candidate from a copy of the run whose LR decays to 0) and the split scan's
#            'parallel' kind (MMAMBA_SPLIT_BWD=parallel; measured slower, so unset: scratch). begin 6 (COMPILE=1; step
#            36,620, the stage saved for stage 5, CE (EMA) 1.251), then `F16=1 cool 2000` (the shipped mmamba-v2:
#            step 38,620, 19.77 M images, CE (EMA) 1.251, raw 1.258) and `sweep`, each its own call
#   stage 5: as stage 4, from its stable weights (step 36,620 in training/stages/mmamba-v2/); training/ of 92855f8
#            (the parallel kind removed, the sampling sweep's grid around guidance 4 / tau 1.5)
declare -A SRC=([1]=0b860e7 [2]=088555f [3]=5eed2d2 [4]=9c306f3 [5]=92855f8)
declare -A PRIOR_OF=([1]=glove [2]=glove [3]=minilm [4]=minilm [5]=minilm)   # the word table each stage trains with
declare -A TABLE=([glove]=training/prior/glove50.npz [minilm]=training/prior/minilm128.npz)
source "$(dirname "$0")/lib.sh"
STAGE=${STAGE:-1}
P=${PRIOR_OF[$STAGE]:-minilm}
R=${RUNS:-/tmp/runs}
STAGES=$ROOT/training/stages/mmamba-v2
COMPILE=${COMPILE-$(cat "$R/compile" 2>/dev/null)}
RULER=$ROOT/training/ruler/evaluators.pt
ARCH=(--model mmamba --expand 1 --d-state 1 --ffn --ffn-mult 2 --layers 6)
TRAIN=(--batch-size 512 --lr 8e-4 --lr-min-ratio 1 --steps 1000000 --val-every 1000 --ckpt-minutes 2
       --seed "$STAGE" ${COMPILE:+--compile})

# train MIN [extra args]: one invocation of train_gen in the pinned tree, time-boxed
train() {
  local min=$1; shift
  "${TRAIN_GEN[@]}" "${ARCH[@]}" "${TRAIN[@]}" --data "$R/tok_$P" --out "${RUN:-$R/stage$STAGE}" \
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
  (cd training && python3 -m mmamba.export --ckpt "$cand_run" --out "$OUT/models/mmamba-v2" --id mmamba-v2 \
    --int8 --prior "$ROOT/${TABLE[$P]}") 2>&1 | tail -1
  rm -rf "$R/candidate"; cp -r "$OUT/models/mmamba-v2" "$R/candidate"
  # F16=1: the same weights exported in f16 too (kept on the machine only), for the ruler's int8-vs-f16 check
  rm -rf "$R/candidate-f16"
  if [ "${F16:-0}" = 1 ]; then
    (cd training && python3 -m mmamba.export --ckpt "$cand_run" --out "$R/candidate-f16" --id mmamba-v2 \
      --prior "$ROOT/${TABLE[$P]}") 2>&1 | tail -1
  fi
}

# pack_logs: the call's logs as one $OUT/logs.tgz (a call returns at most 8 files)
pack_logs() { tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$OUT/logs"; }

# evaluators: the fixed ruler's file (training/ruler/), or the one stage 1's begin trained beside it when it has none
evaluators() { if [ -f "$RULER" ]; then echo "$RULER"; else echo "$R/evaluators/evaluators.pt"; fi; }

# sweep_candidate CAND REPORT_DIR: the sampling sweep of the candidate (training/sweep_sampling.py, 100 prompts per
# split; the page's defaults follow it)
sweep_candidate() {
  el "sampling sweep of the candidate (training/sweep_sampling.py, 100 prompts per split)"
  timeout 240 python3 training/sweep_sampling.py --data data/packed --evaluators "$(evaluators)" \
    --vq public/models/vq-s --gen "mmamba-v2-stage$STAGE=$1" --ruler 100 --json "$2/sweep.json" --md "$2/sweep.md" \
    > "$2/sweep.log" 2>&1
}

# score: the candidate ($R/candidate, or the export CANDIDATE names, e.g. one carried to a fresh machine) beside the
# shipped default on the fixed ruler, its everyday grid (and the sampling sweep if SWEEP=1); everything and the
# logs in $OUT/report.tgz. Run inside the pinned tree.
score() {
  local cand=${CANDIDATE:-$R/candidate}
  [ -f "$cand/manifest.json" ] || { echo "recipe: no candidate export at $cand (run save or end first)" >&2; exit 1; }
  local ev; ev=$(evaluators)
  local rep=$R/report; mkdir -p "$rep"
  # the candidate beside the shipped default (never ship worse); RULER_V1=1 also re-scores the v1 models, whose
  # rows on this fixed ruler are already in docs/evaluation.md
  local gens=(--gen "mmamba-v2=$ROOT/public/models/mmamba-v2")
  [ "${RULER_V1:-0}" = 1 ] && gens+=(--gen "mmamba-s=$ROOT/public/models/mmamba-s" --gen "uvit-s=$ROOT/public/models/uvit-s")
  el "the ruler (${RULER_N:=250} per split, guidance ${GUIDANCE:=2}): ${gens[*]} and the candidate"
  [ -z "${CANDIDATE:-}" ] && [ -f "$R/candidate-f16/manifest.json" ] && gens+=(--gen "mmamba-v2-stage$STAGE-f16=$R/candidate-f16")
  timeout 240 python3 training/evaluate.py --data data/packed --evaluators "$ev" --vq public/models/vq-s \
    --ruler "$RULER_N" "${gens[@]}" --gen "mmamba-v2-stage$STAGE=$cand" --guidance "$GUIDANCE" \
    --json "$rep/ruler.json" --md "$rep/ruler.md" > "$rep/ruler.log" 2>&1
  python3 training/sample_grid.py --gen "$cand" --vq public/models/vq-s --everyday \
    --guidance "$GUIDANCE" --out "$rep/everyday-mmamba-v2-stage$STAGE.png" > "$rep/grid.log" 2>&1
  [ "${SWEEP:-0}" = 1 ] && sweep_candidate "$cand" "$rep"
  cp "$OUT"/logs/* "$rep/" 2>/dev/null; rm -rf "$OUT/logs"
  tar czf "$OUT/report.tgz" -C "$R" report
  grep -A20 "by split" "$rep/ruler.md" | head -24; tail -3 "$rep/sweep.md" 2>/dev/null
  el "done"
}

[ "${1:-}" = prepare ] || mkdir -p "$R" "$OUT/logs"
case "${1:-}" in
  prepare)
    [ -f "$ROOT/data/packed/index.json" ] || (cd "$ROOT" && npm run data) || exit 1
    [ -f "$ROOT/${TABLE[glove]}" ] || (cd "$ROOT" && python3 training/prior/build_word_prior.py \
      --source glove --out "${TABLE[glove]}") || exit 1
    [ -f "$ROOT/${TABLE[minilm]}" ] || (cd "$ROOT" && python3 training/prior/build_word_prior.py \
      --source minilm --pca 128 --out "${TABLE[minilm]}") || exit 1
    for c in "${SRC[@]}"; do pin_source "$c"; done ;;
  speed)
    enter_source "${SRC[$STAGE]}"
    el "training step at batch 512: UViT S and this block, eager and compiled (interleaved rounds)"
    timeout 300 python3 training/bench_train_step.py --batch 512 --compile --rounds 3 --steps 10 --no-profile \
      --variants "uvit,mmamba:split@expand=1,d_state=1,ffn=1,ffn_mult=2,layers=6" --json "$OUT/logs/speed.json" \
      > "$OUT/logs/speed.log" 2>&1; grep -E "^\||FAILED|warm-up" "$OUT/logs/speed.log"
    python3 - "$OUT/logs/speed.json" > "$R/compile" <<'PY'
import json, sys
rows = {r["variant"].split("@")[0]: r["ms_median"] for r in json.load(open(sys.argv[1]))}
eager, comp = rows.get("mmamba:split"), rows.get("mmamba:split+compile")
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
    [ ${#init[@]} = 0 ] && init=(--warmup 300)
    el "stage $STAGE: train $2 min ${init[*]}"; (train "$2" "${init[@]}") || echo "stage $STAGE: training FAILED"
    wait
    if [ -f "$R/evaluators/evaluators.pt" ]; then
      grep -E "HOLDOUT" "$OUT/logs/evaluators.log" | tail -1; cp "$R/evaluators/evaluators.pt" "$OUT/"
    fi
    save_stage; pack_logs; el "done" ;;
  more)
    enter_source "${SRC[$STAGE]}"; el "stage $STAGE: train $2 more min"; train "$2" --resume
    save_stage; pack_logs; el "done" ;;
  end)
    # A device call returns at most 8 files: the stage (2), the candidate export (2) and one report.tgz (ruler,
    # everyday grid, sampling sweep, logs).
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
    tar czf "$OUT/report-sweep.tgz" -C "$R" report-sweep; cat "$R/report-sweep/sweep.md"; tail -3 "$R/report-sweep/sweep.log"
    el "done" ;;
  save)  # the stage and the candidate export from the last checkpoint, no training (e.g. after `begin`)
    enter_source "${SRC[$STAGE]}"; save_stage; el "done" ;;
  score)  # the ruler and the everyday grid of the candidate `save` or `end` left in $R (same warm machine)
    enter_source "${SRC[$STAGE]}"; score ;;
  *) echo "usage: $0 prepare | speed | begin MIN | more MIN | end MIN | cool STEPS | save | score | sweep (STAGE=K)" >&2; exit 2 ;;
esac
