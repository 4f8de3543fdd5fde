# Shared steps of the recipes in this folder (sourced by vq-s.sh, mmamba-s.sh, uvit-s.sh; not run on its own).
#
# Why pinned sources: the shipped weights in public/models/ were trained before dataset v2 and tokenizer v2, so
# HEAD's `npm run data` and `encode_tokens.py` (tokenizer v2 by default) no longer give the inputs those runs saw.
# A recipe therefore runs each training stage with the `training/` tree of the commit that produced the weights
# (exported with `git archive`), on dataset v1 built by that commit's builder. All pinned trees and the outputs
# that a later stage needs live under training/runs/recipe/ (git-ignored), which is what the device carries.
#
# Reproducible here means: the same commands, code and data. The runs are time-boxed (`--max-minutes`: the step
# count follows the measured throughput) and GPU training is not bit-exact, so a rerun gives a model of the same
# recipe and quality class, not the same bytes; each recipe's header gives the shipped run's step count.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RECIPE=$ROOT/training/runs/recipe
OUT=${OUT:-$RECIPE/out}
DATA_COMMIT=ec9d3b8   # dataset v1: its builder did not change from this commit until the v2 builder (c56ab5f)
# NVLink multicast off for NCCL on the lent machines; unbuffered logs
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1

# train_gen on every GPU of the machine: under torchrun (DDP, one process per GPU) when there are several (NGPU
# overrides the count), plain python3 on one. --batch-size is global and the LR schedule counts global steps, so a
# recipe gives the same run on 1 or N GPUs up to noise; only rank 0 writes checkpoints and logs.
NGPU=${NGPU:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}
if [ "${NGPU:-0}" -gt 1 ]; then
  TRAIN_GEN=(torchrun --standalone --nproc_per_node="$NGPU" training/train_gen.py)
else
  TRAIN_GEN=(python3 training/train_gen.py)
fi

t0=$(date +%s)
el() { echo "[+$(( $(date +%s) - t0 ))s] $*"; }

# pin_source COMMIT: training/ of COMMIT under $RECIPE/src-COMMIT (here, needs the git history).
pin_source() {
  local dir=$RECIPE/src-$1
  [ -d "$dir/training" ] && return 0
  mkdir -p "$dir" && git -C "$ROOT" archive "$1" training | tar -x -C "$dir" \
    || { echo "recipe: cannot export training/ of commit $1 (a full clone is needed)" >&2; exit 1; }
  # the stages, the ruler and the word tables are read from the checkout, never from a pinned tree: keep the
  # carried trees small
  rm -rf "$dir/training/stages" "$dir/training/ruler" "$dir"/training/prior/*.npz
  echo "pinned training/ of $1 in ${dir#$ROOT/}"
}

# build_data_v1: data/packed as dataset v1 (here; needs git, node/npm and the npm registry; ~23 MB result).
build_data_v1() {
  local idx=$ROOT/data/packed/index.json
  if [ -f "$idx" ]; then
    python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1])).get("version") == 1 else 1)' "$idx" \
      && { echo "data/packed already holds a version-1 pack"; return 0; }
    echo "recipe: data/packed holds another pack (dataset v2?); move it away, then run prepare again" >&2; exit 1
  fi
  # stage 2 of the builder (pack.py) needs numpy and Pillow: this checkout's training venv unless PYTHON is set
  local py=${PYTHON:-$ROOT/training/.venv/bin/python}; [ -x "$py" ] || py=python3
  local wt; wt=$(mktemp -d)/src
  git -C "$ROOT" worktree add --detach "$wt" "$DATA_COMMIT" \
    && (cd "$wt" && npm ci --no-audit --no-fund && PYTHON=$py npm run data) \
    && mkdir -p "$ROOT/data" && mv "$wt/data/packed" "$ROOT/data/packed" \
    || { echo "recipe: building dataset v1 at $DATA_COMMIT failed" >&2; exit 1; }
  git -C "$ROOT" worktree remove --force "$wt"
}

# enter_source COMMIT: cd into the pinned tree, with data/ and the shipped VQ linked in (on the device).
enter_source() {
  local dir=$RECIPE/src-$1
  [ -d "$dir/training" ] || { echo "recipe: ${dir#$ROOT/} is missing: run the recipe's 'prepare' here and carry [\"training/runs/recipe\", \"data/packed\"]" >&2; exit 1; }
  [ -f "$ROOT/data/packed/index.json" ] || { echo "recipe: data/packed is missing: run 'prepare' here and carry it" >&2; exit 1; }
  ln -sfn "$ROOT/data" "$dir/data"
  mkdir -p "$dir/public/models" && ln -sfn "$ROOT/public/models/vq-s" "$dir/public/models/vq-s"
  cd "$dir"
}

# v2_tokens RUNS [NAME=PRIOR.npz ...]: dataset v2's VQ codes and v2 captions without a prior ($RUNS/tok_none, the
# ruler's tokenizer), then the captions again with each prior ($RUNS/tok_NAME, same image codes); kept when there
# (a warm machine keeps /tmp). Logs in $OUT/logs. Run inside a pinned tree (enter_source).
v2_tokens() {
  local runs=$1; shift
  if [ ! -f "$runs/tok_none/tokens_meta.json" ]; then
    python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$runs/tok_none" \
      --batch-size 1024 > "$OUT/logs/tok_none.log" 2>&1 || { tail -20 "$OUT/logs/tok_none.log"; return 1; }
  fi
  local spec name file
  for spec in "$@"; do
    name=${spec%%=*}; file=${spec#*=}
    [ -f "$runs/tok_$name/tokens_meta.json" ] && continue
    python3 training/encode_tokens.py --data data/packed --vq public/models/vq-s --out "$runs/tok_$name" \
      --prior "$file" --image-tokens-from "$runs/tok_none" > "$OUT/logs/tok_$name.log" 2>&1 \
      || { tail -20 "$OUT/logs/tok_$name.log"; return 1; }
  done
}
