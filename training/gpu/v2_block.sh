#!/usr/bin/env bash
# Model v2, first GPU block (one H200), in three consecutive device calls that share /tmp/runs (each must start
# within 30 s of the previous one ending, while the machine is warm). Repository root as cwd.
# Carry: data/packed (dataset v2, `npm run data`), training/prior/glove50.npz, training/prior/minilm128.npz
# (training/prior/build_word_prior.py). Everything worth keeping is copied to $OUT.
#   PHASE=1  tokens: VQ-encode dataset v2 once (v2 tokenizer, no prior), then re-tokenise the captions with each
#            prior (--image-tokens-from); the fixed ruler's evaluators (train_evaluator.py, a fixed step count);
#            the language-prior probes: UViT S with none / glove / minilm, the same steps and batch, side by side
#   PHASE=2  the probes on the fixed ruler; the winning prior (unseen + paraphrase top-5) picks the text side of
#            M-Mamba v2 stage 1 (image trunk from the shipped mmamba-s, text encoder fresh with the prior)
#   PHASE=3  stage 1 continues to its step count; export (int8); the ruler for the shipped models and stage 1;
#            the everyday grid
set -uo pipefail
export PYTHONUNBUFFERED=1
R=${RUNS:-/tmp/runs}; OUT=${OUT:-/tmp/v2-out}; PHASE=${PHASE:-1}
mkdir -p "$R" "$OUT"
t0=$(date +%s); el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }
PY=${PY:-python3}
EV_STEPS=${EV_STEPS:-2500}; PROBE_STEPS=${PROBE_STEPS:-1000}; RULER_N=${RULER_N:-250}
MM_STEPS=${MM_STEPS:-3000}; MM_BATCH=${MM_BATCH:-256}; MM_LR=${MM_LR:-6e-4}
PRIORS=${PRIORS:-"glove:training/prior/glove50.npz minilm:training/prior/minilm128.npz"}
DATA=${DATA:-data/packed}; PROBE_BATCH=${PROBE_BATCH:-512}; EV_BATCH=${EV_BATCH:-512}; DEV=${DEV:+--device $DEV}

if [ "$PHASE" = 1 ]; then
  el "decode + VQ-encode dataset v2 (v2 tokenizer, no prior)"
  timeout 200 $PY training/encode_tokens.py --data "$DATA" --vq public/models/vq-s --out "$R/tok_none" --batch-size 1024 \
    > "$R/tok_none.log" 2>&1 || { tail -20 "$R/tok_none.log"; exit 1; }
  tail -4 "$R/tok_none.log"
  el "evaluators (fixed ruler: $EV_STEPS steps, seed 0) | captions with each prior, then the probes"
  timeout 330 $PY training/train_evaluator.py --data "$DATA" --bpe "$R/tok_none/bpe.json" --out "$R/evaluators" \
    --steps "$EV_STEPS" --seed 0 --batch-size "$EV_BATCH" --int8 $DEV > "$R/evaluators.log" 2>&1 &
  toks=()
  for p in $PRIORS; do
    name=${p%%:*}; file=${p#*:}
    $PY training/encode_tokens.py --data "$DATA" --vq public/models/vq-s --out "$R/tok_$name" \
      --prior "$file" --image-tokens-from "$R/tok_none" > "$R/tok_$name.log" 2>&1 &
    toks+=($!)
  done
  wait "${toks[@]}"
  for name in none glove minilm; do
    [ -f "$R/tok_$name/tokens_meta.json" ] || { echo "tok_$name missing"; tail -5 "$R/tok_$name.log"; continue; }
    timeout 300 $PY training/train_gen.py --model uvit --data "$R/tok_$name" --out "$R/probe_$name" \
      --steps "$PROBE_STEPS" --batch-size "$PROBE_BATCH" --lr 6e-4 $DEV --val-every 100000 --ckpt-every 100000 \
      > "$R/probe_$name.log" 2>&1 &
  done
  wait
  grep -E "HOLDOUT|top5|done|Error" "$R/evaluators.log" | tail -4
  for name in none glove minilm; do echo "probe $name: $(grep -E 'done|Error' "$R/probe_$name.log" | tail -1)"; done
  for name in none glove minilm; do
    prior=$(grep -o '"path": "[^"]*"' "$R/tok_$name/tokens_meta.json" | head -1 | cut -d'"' -f4)
    (cd training && $PY -m mmamba.export --ckpt "$R/probe_$name" --out "$R/models/probe-$name" --id "probe-$name" \
      ${prior:+--prior "$prior"}) 2>&1 | tail -1
  done
  cp "$R/evaluators/evaluators.pt" "$OUT/" 2>/dev/null
  cp "$R"/*.log "$OUT/" 2>/dev/null
  el "phase 1 done"
fi

if [ "$PHASE" = 2 ]; then
  el "the probes on the fixed ruler ($RULER_N per split)"
  timeout 200 $PY training/evaluate.py --data "$DATA" --evaluators "$R/evaluators/evaluators.pt" --vq public/models/vq-s \
    --ruler "$RULER_N" --reference --gen "probe-none=$R/models/probe-none" --gen "probe-glove=$R/models/probe-glove" \
    --gen "probe-minilm=$R/models/probe-minilm" --guidance 2 --json "$R/probes.json" --md "$R/probes.md" \
    > "$R/probes.log" 2>&1
  tail -30 "$R/probes.md"
  win=$($PY - "$R/probes.json" <<'EOF'
import json, sys
rows = {r["name"]: r["by_split"] for r in json.load(open(sys.argv[1]))["rows"] if r["name"].startswith("probe-")}
score = {n: s["unseen"]["top5"] + s["paraphrase"]["top5"] for n, s in rows.items() if "unseen" in s}
print(max(score, key=score.get).split("-", 1)[1] if score else "glove")
EOF
)
  echo "winner: $win"; echo "$win" > "$R/winner"
  el "M-Mamba v2 stage 1 (prior $win, trunk from mmamba-s, $MM_STEPS steps of $MM_BATCH; this call: 6.5 min)"
  $PY training/train_gen.py --model mmamba --data "$R/tok_$win" --out "$R/mm_v2" --init-trunk public/models/mmamba-s \
    --steps "$MM_STEPS" --batch-size "$MM_BATCH" --lr "$MM_LR" --warmup 200 --max-minutes 6.5 --val-every 1000 \
    > "$R/mm_v2.log" 2>&1
  grep -E "init|word prior|val_loss|stopping|done|Error" "$R/mm_v2.log" | tail -8
  cp "$R/probes.md" "$R/probes.json" "$R/probes.log" "$R/mm_v2.log" "$OUT/" 2>/dev/null
  el "phase 2 done"
fi

if [ "$PHASE" = 3 ]; then
  win=$(cat "$R/winner")
  el "stage 1 continues (${MM3_MIN:-3} min)"
  $PY training/train_gen.py --model mmamba --data "$R/tok_$win" --out "$R/mm_v2" \
    --steps "$MM_STEPS" --batch-size "$MM_BATCH" --lr "$MM_LR" --warmup 200 --max-minutes "${MM3_MIN:-3}" \
    --val-every 1000 --resume >> "$R/mm_v2.log" 2>&1
  grep -E "resumed|val_loss|stopping|done|Error" "$R/mm_v2.log" | tail -5
  prior=$(grep -o '"path": "[^"]*"' "$R/tok_$win/tokens_meta.json" | head -1 | cut -d'"' -f4)
  (cd training && $PY -m mmamba.export --ckpt "$R/mm_v2" --out "$R/models/mmamba-v2" --id mmamba-s --int8 \
    --prior "$prior") 2>&1 | tail -1
  el "ruler: shipped mmamba-s, uvit-s, stage 1 | everyday grids"
  timeout 200 $PY training/evaluate.py --data "$DATA" --evaluators "$R/evaluators/evaluators.pt" --vq public/models/vq-s \
    --ruler "$RULER_N" --gen "mmamba-s=public/models/mmamba-s" --gen "uvit-s=public/models/uvit-s" \
    --gen "mmamba-v2-stage1=$R/models/mmamba-v2" --guidance 2 --json "$R/ruler.json" --md "$R/ruler.md" \
    > "$R/ruler.log" 2>&1 &
  for g in mmamba-s=public/models/mmamba-s mmamba-v2=$R/models/mmamba-v2; do
    $PY training/sample_grid.py --gen "${g#*=}" --vq public/models/vq-s --everyday --guidance 2 \
      --out "$R/grids/everyday-${g%%=*}.png" > /dev/null 2>&1
  done
  wait
  tail -25 "$R/ruler.md"
  (cd "$R" && tar czf "$OUT/v2-stage1.tgz" ruler.md ruler.json probes.md probes.json grids models/mmamba-v2 mm_v2/log.jsonl)
  ls -la "$R/mm_v2" | tail -3
  ls -la "$OUT"; el "phase 3 done"
fi
