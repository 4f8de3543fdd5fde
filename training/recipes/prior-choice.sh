#!/usr/bin/env bash
# Recipe: which language prior the text side of M-Mamba v2 starts from, chosen by measurement (issue "Model quality,
# part 1"). Three probes differ only in the text encoder's word prior: none (a learned embedding), GloVe 6B 50-d,
# all-MiniLM-L6-v2 (per-word sentence embeddings, PCA to 128 dims). Each probe is the shipped v2 generator's
# configuration (lite block) started from the shipped generator's image trunk (`train_gen.py --init-trunk`; the
# text encoder starts fresh in every probe), trained the same number of steps with the same seed, batch and LR,
# then scored on the fixed ruler (unseen-concept and paraphrase splits decide; seen and train are reported).
# Warm-starting the trunk makes a short probe long enough for concepts to appear; the trunk was trained beside a
# GloVe text encoder, a bias towards GloVe that the table's reader should keep in mind.
#
#   here:    bash training/recipes/prior-choice.sh prepare     # both prior tables, the pinned training/ tree
#   device:  kind nvidia-h200, carry ["data/packed", "training/prior/glove50.npz", "training/prior/minilm128.npz",
#            "training/runs/recipe"]
#            bash training/recipes/prior-choice.sh tokens              # v2 captions with each prior (~60 s)
#            bash training/recipes/prior-choice.sh probe NAME [NAME..] # NAME in none, glove, minilm: PROBE_STEPS steps
#                                                                      # each (default 2000, batch 512, compiled),
#                                                                      # then its int8 export
#            bash training/recipes/prior-choice.sh ruler               # the probes on the ruler (RULER_N per split,
#                                                                      # GUIDANCE); report.tgz
#   here:    the table goes to docs/evaluation.md "Choosing the language prior"
declare -A SRC=([1]=088555f)   # the tree model v2 stage 2 trained with
source "$(dirname "$0")/lib.sh"
R=${RUNS:-/tmp/runs}
TRUNK=$ROOT/public/models/mmamba-v2
RULER=$ROOT/training/ruler/evaluators.pt
declare -A PRIOR=([glove]=$ROOT/training/prior/glove50.npz [minilm]=$ROOT/training/prior/minilm128.npz)
ARCH=(--model mmamba --expand 1 --d-state 1 --ffn --ffn-mult 2 --layers 6)
TRAIN=(--batch-size 512 --lr 8e-4 --lr-min-ratio 1 --warmup 200 --val-every 1000 --ckpt-minutes 5 --seed 0 --compile)

[ "${1:-}" = prepare ] || mkdir -p "$R" "$OUT/logs"
case "${1:-}" in
  prepare)
    [ -f "$ROOT/data/packed/index.json" ] || (cd "$ROOT" && npm run data) || exit 1
    [ -f "${PRIOR[glove]}" ] || (cd "$ROOT" && python3 training/prior/build_word_prior.py --source glove \
      --out "${PRIOR[glove]}") || exit 1
    [ -f "${PRIOR[minilm]}" ] || (cd "$ROOT" && python3 training/prior/build_word_prior.py --source minilm --pca 128 \
      --out "${PRIOR[minilm]}") || exit 1
    for c in "${SRC[@]}"; do pin_source "$c"; done ;;
  tokens)
    enter_source "${SRC[1]}"
    el "tokens: VQ codes + v2 captions without a prior, then the captions with each prior"
    v2_tokens "$R" glove="${PRIOR[glove]}" minilm="${PRIOR[minilm]}" || exit 1
    el "done" ;;
  probe)
    enter_source "${SRC[1]}"; shift
    [ -f "$TRUNK/manifest.json" ] || { echo "recipe: $TRUNK (the trunk) is missing" >&2; exit 1; }
    for name in "$@"; do
      [ -d "$R/tok_$name" ] || { echo "recipe: no tokens for probe '$name' (run 'tokens'; names: none glove minilm)" >&2; exit 1; }
      el "probe $name: ${PROBE_STEPS:=2000} steps from the shipped trunk"
      "${TRAIN_GEN[@]}" "${ARCH[@]}" "${TRAIN[@]}" --data "$R/tok_$name" --out "$R/probe-$name" \
        --steps "$PROBE_STEPS" --init-trunk "$TRUNK" > "$OUT/logs/probe-$name.log" 2>&1 \
        || { tail -20 "$OUT/logs/probe-$name.log"; exit 1; }
      grep -E "init trunk|params|val_loss|done" "$OUT/logs/probe-$name.log" | tail -3
      prior=(); [ "$name" != none ] && prior=(--prior "${PRIOR[$name]}")
      (cd training && python3 -m mmamba.export --ckpt "$R/probe-$name" --out "$R/export-$name" --id "probe-$name" \
        --int8 "${prior[@]}") 2>&1 | tail -1
    done
    el "done" ;;
  ruler)
    enter_source "${SRC[1]}"
    gens=(); for d in "$R"/export-*; do [ -f "$d/manifest.json" ] && gens+=(--gen "probe-${d##*/export-}=$d"); done
    [ ${#gens[@]} -gt 0 ] || { echo "recipe: no probe exports in $R (run 'probe')" >&2; exit 1; }
    rep=$R/report; mkdir -p "$rep"
    el "the ruler (${RULER_N:=250} per split, guidance ${GUIDANCE:=3}): ${gens[*]}"
    timeout 300 python3 training/evaluate.py --data data/packed --evaluators "$RULER" --vq public/models/vq-s \
      --ruler "$RULER_N" "${gens[@]}" --guidance "$GUIDANCE" --json "$rep/ruler.json" --md "$rep/ruler.md" \
      > "$rep/ruler.log" 2>&1
    cp "$OUT"/logs/* "$rep/" 2>/dev/null; rm -rf "$OUT/logs"
    tar czf "$OUT/report.tgz" -C "$R" report
    grep -A16 "by split" "$rep/ruler.md" | head -18
    el "done" ;;
  *) echo "usage: $0 prepare | tokens | probe NAME... | ruler" >&2; exit 2 ;;
esac
