#!/usr/bin/env bash
# Ships an exported generator (training/mmamba/export.py's folder: manifest.json + model-*.safetensors) as
# public/models/<ID>: the mechanical part of docs/shipping.md, then a list of what is left to do by hand.
#
#   bash scripts/ship_model.sh [options] EXPORT_DIR ID
#     --default            make ID the page's default generator (index.json `defaultGenerator`, listed first)
#     --name NAME          the Models panel's name (index.json; default: kept, or the id for a new entry)
#     --description TEXT   index.json's description (default: kept, or empty for a new entry)
#     --sampling SPEC      the generator's recommended sampling settings, its sampling sweep's winner, e.g.
#                          "steps=12,guidance=3,tau=1.5,temperature=0.8" (index.json `sampling`: the page's fields
#                          start there and the worker fills a request's gaps with them; checked against the page's
#                          ranges by tests/model_manifests.test.ts below); "" removes them (default: kept)
#     --no-full-cases      skip tests/fixtures/full_cases.json (make_full_cases.py ID: 8 s for model M on CPU)
#     --dry-run            check the export and print what would change; write nothing
#
# Steps: (1) the export is checked: manifest modelId = ID, format version, every shard's size and sha256 as the
# manifest says; (2) public/models/ID is replaced by the export (old shards removed); (3) index.json is refreshed
# (`python -m mmamba.model_index`: bytes and shard sha256s), the name and description set, a new entry placed after
# the default generator, and with --default ID becomes the default and the first entry; (4) the fixtures that hold
# PyTorch's numbers for the shipped weights are rewritten: golden_ID.json (make_golden_cases.py --model ID, for
# tests/model_golden.test.ts) and full_cases.json for ID (tests/model_full.test.ts, opt-in); (5) the quick checks
# that need no GPU run (index current, manifests hold what the TS models read, first-visit download within 40 MB),
# the e2e generator is printed (e2e/e2e_generator.ts); (6) the hand checklist is printed. Nothing committed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/training/.venv/bin/python
MODELS=public/models

DEFAULT=0 NAME="" DESC="" DESC_SET=0 SAMPLING="" SAMPLING_SET=0 FULL=1 DRY=0
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --default) DEFAULT=1 ;;
    --name) NAME=$2; shift ;;
    --description) DESC=$2; DESC_SET=1; shift ;;
    --sampling) SAMPLING=$2; SAMPLING_SET=1; shift ;;
    --no-full-cases) FULL=0 ;;
    --dry-run) DRY=1 ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "ship_model: unknown option $1" >&2; exit 2 ;;
    *) args+=("$1") ;;
  esac
  shift
done
[[ ${#args[@]} -eq 2 ]] || { echo "usage: bash scripts/ship_model.sh [--default] [--name N] [--description D] [--sampling SPEC] [--no-full-cases] [--dry-run] EXPORT_DIR ID" >&2; exit 2; }
# --sampling SPEC: NAME=NUMBER pairs of steps, guidance, tau, temperature (the ranges are the page's, checked below)
if [[ $SAMPLING_SET -eq 1 && -n $SAMPLING ]] \
  && ! [[ $SAMPLING =~ ^(steps|guidance|tau|temperature)=[0-9]+(\.[0-9]+)?(,(steps|guidance|tau|temperature)=[0-9]+(\.[0-9]+)?)*$ ]]; then
  echo "ship_model: --sampling \"$SAMPLING\": give NAME=NUMBER pairs of steps, guidance, tau, temperature, e.g. steps=12,guidance=3,tau=1.5,temperature=0.8" >&2
  exit 2
fi
SRC=$(cd "${args[0]}" && pwd)
ID=${args[1]}
[[ $ID =~ ^[a-z0-9][a-z0-9._-]{0,63}$ ]] || { echo "ship_model: bad id $ID (the service worker accepts [a-z0-9][a-z0-9._-]{0,63})" >&2; exit 2; }
[[ -x $PY ]] || { echo "ship_model: $PY is missing (npm test creates it)" >&2; exit 1; }
DEST=$MODELS/$ID
[[ $SRC != "$ROOT/$DEST" ]] || { echo "ship_model: EXPORT_DIR is $DEST itself; export elsewhere first" >&2; exit 2; }
t0=$(date +%s)
say() { printf '[ship +%ss] %s\n' "$(($(date +%s) - t0))" "$*"; }

# ---- 1. check the export ------------------------------------------------------------------------------------------
say "checking $SRC"
"$PY" - "$SRC" "$ID" <<'EOF'
import hashlib, json, os, sys
sys.path.insert(0, "training")
from mmamba.export import FORMAT_VERSION
src, mid = sys.argv[1:]
m = json.load(open(os.path.join(src, "manifest.json")))
bad = []
if m.get("format") != "mmamba-weights": bad.append(f"format {m.get('format')!r}, not 'mmamba-weights'")
if m.get("formatVersion") != FORMAT_VERSION: bad.append(f"formatVersion {m.get('formatVersion')}, the exporter writes {FORMAT_VERSION}")
if m.get("modelId") != mid: bad.append(f"modelId {m.get('modelId')!r} != {mid!r}: re-export with --id {mid} (weights are stored under the manifest's id)")
if m.get("kind") not in ("mmamba", "uvit"): bad.append(f"kind {m.get('kind')!r}: this ships generators (mmamba, uvit)")
files = {s["file"] for s in m.get("shards", [])}
for s in m.get("shards", []):
    p = os.path.join(src, s["file"])
    if not os.path.isfile(p): bad.append(f"{s['file']} missing"); continue
    b = open(p, "rb").read()
    if len(b) != s["bytes"]: bad.append(f"{s['file']}: {len(b)} bytes, the manifest says {s['bytes']}")
    if hashlib.sha256(b).hexdigest() != s["sha256"]: bad.append(f"{s['file']}: sha256 differs from the manifest")
extra = sorted(f for f in os.listdir(src) if f != "manifest.json" and f not in files)
if extra: bad.append(f"files the manifest does not list: {extra}")
if bad:
    print("ship_model: the export is not shippable:\n  " + "\n  ".join(bad), file=sys.stderr); sys.exit(1)
c = m["config"]
shape = ", ".join(f"{k} {c[k]}" for k in ("arch", "d", "layers", "expand", "d_state", "dt_rank", "heads", "ffn") if k in c)
print(f"  {mid}: {m['kind']}, {shape}; {len(m['shards'])} shard(s), {sum(s['bytes'] for s in m['shards']) / 1e6:.2f} MB; extra {m.get('extra')}")
EOF
if [[ $DRY -eq 1 ]]; then
  say "dry run: would replace $DEST, refresh $MODELS/index.json$([[ $DEFAULT -eq 1 ]] && echo " and make $ID the default"), regenerate fixtures"
  exit 0
fi

# ---- 2. copy ------------------------------------------------------------------------------------------------------
say "copying into $DEST"
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$SRC"/manifest.json "$SRC"/*.safetensors "$DEST"/
chmod u+w "$DEST" "$DEST"/*

# ---- 3. index.json ------------------------------------------------------------------------------------------------
say "refreshing $MODELS/index.json"
OLD_DEFAULT=$("$PY" -c "import json; print(json.load(open('$MODELS/index.json'))['defaultGenerator'])")
(cd training && "$PY" -m mmamba.model_index "../$MODELS" | sed 's/^/  /')
"$PY" - "$MODELS/index.json" "$ID" "$DEFAULT" "$NAME" "$DESC" "$DESC_SET" "$OLD_DEFAULT" "$SAMPLING" "$SAMPLING_SET" <<'EOF'
import json, sys
path, mid, make_default, name, desc, desc_set, old_default, sampling, sampling_set = sys.argv[1:]
idx = json.load(open(path))
models = idx["models"]
e = next(m for m in models if m["id"] == mid)
new = e["name"] == mid and e["description"] == ""  # model_index's defaults for an entry it added
if name: e["name"] = name
if desc_set == "1": e["description"] = desc
if sampling_set == "1":
    pairs = [p.split("=") for p in sampling.split(",")] if sampling else []
    if len({k for k, _ in pairs}) != len(pairs): sys.exit(f"ship_model: --sampling {sampling!r} names a setting twice")
    chosen = {k: (int(float(v)) if float(v).is_integer() else float(v)) for k, v in pairs}
    if chosen: e["sampling"] = chosen
    else: e.pop("sampling", None)
    print(f"  sampling of {mid}: {chosen or 'the page-wide defaults'}")
rest = [m for m in models if m["id"] != mid]
if make_default == "1":
    idx["defaultGenerator"] = mid
    models = [e] + rest
elif new:  # a new non-default generator (e.g. the default's baseline): right after the default
    at = next((i + 1 for i, m in enumerate(rest) if m["id"] == idx["defaultGenerator"]), len(rest))
    models = rest[:at] + [e] + rest[at:]
idx["models"] = models
with open(path, "w") as f:
    json.dump(idx, f, indent=2)
    f.write("\n")
print(f"  default {old_default} -> {idx['defaultGenerator']}; order: {', '.join(m['id'] for m in models)}")
if e["name"] == mid: print(f"  note: {mid} has no name yet (--name)")
EOF
NEW_DEFAULT=$("$PY" -c "import json; print(json.load(open('$MODELS/index.json'))['defaultGenerator'])")

# ---- 4. fixtures from the shipped weights -------------------------------------------------------------------------
say "tests/fixtures/golden_$ID.json (make_golden_cases.py --model $ID: its golden, tests/model_golden.test.ts)"
"$PY" tests/fixtures/make_golden_cases.py --model "$ID" | sed 's/^/  /'
if [[ $FULL -eq 1 ]]; then
  say "tests/fixtures/full_cases.json for $ID (make_full_cases.py $ID; the opt-in MODEL_FULL=$ID test)"
  "$PY" tests/fixtures/make_full_cases.py "$ID" | sed 's/^/  /'
else
  say "skipped: training/.venv/bin/python tests/fixtures/make_full_cases.py $ID"
fi

# ---- 5. quick checks (no GPU) -------------------------------------------------------------------------------------
say "checks: index current (pytest), manifests and the 40 MB first visit (vitest, no GPU); the e2e generator"
(cd training && "$PY" -m pytest -q tests/test_model_index.py 2>&1 | tail -1 | sed 's/^/  /') || true
set +e
NO_COLOR=1 FORCE_COLOR=0 npx vitest run tests/model_manifests.test.ts >/tmp/ship_model_manifests.log 2>&1
VRC=$?
set -e
grep -E "first visit:|✓|×|FAIL|Tests " /tmp/ship_model_manifests.log | sed 's/^/  /' | head -20
[[ $VRC -eq 0 ]] || echo "  model_manifests.test.ts failed (log: /tmp/ship_model_manifests.log); see the checklist"
# which generator the e2e specs of the page's machinery will use (e2e/e2e_generator.ts; the config prints it)
npx playwright test --list e2e/device_loss.spec.ts 2>/dev/null | grep '^e2e generator:' | sed 's/^/  /' || true
NEWB=$(du -sb "$DEST" | cut -f1)
TOTAL=$(du -sb "$MODELS" | cut -f1)

# ---- 6. what is left by hand ----------------------------------------------------------------------------------------
cat <<EOF

Shipped $ID into $DEST ($((NEWB / 1000)) kB; $MODELS now $((TOTAL / 1000)) kB). Default: $NEW_DEFAULT.
Left to do by hand (docs/shipping.md "Checklist" has the why and the exact edits):
EOF
n=0
item() { n=$((n + 1)); printf '%2d. %s\n' "$n" "$*"; }
item "git add $DEST $MODELS/index.json tests/fixtures/golden_$ID.json$([[ $FULL -eq 1 ]] && echo ' tests/fixtures/full_cases.json') (check 'git status' for nothing else)"
item "tests/model_golden.test.ts covers golden_$ID.json (every shard, the config, the tokenizer, one forward); its forward runs in every Vitest run (model M: 265 s on SwiftShader, mmamba-v2 73 s): if too slow, list $ID in the test's OPT_IN_FORWARD with the reason"
if [[ $NEW_DEFAULT != "$OLD_DEFAULT" ]]; then
  item "src/ui/examples.ts: example chips chosen on mmamba-v2's everyday grid; re-check on $NEW_DEFAULT's (training/sample_grid.py --everyday at the page's settings)"
  item "index.json sampling of $NEW_DEFAULT: its sampling sweep's winner (the recipe's sweep verb, training/sweep_sampling.py), set with --sampling; the page-wide defaults in src/model/settings.ts serve generators without one"
  item "tests/finetune_memory.test.ts, tests/finetune_word_v2.test.ts: fine-tuning is checked on mmamba-v2; add the default $NEW_DEFAULT"
  item "README.md: 'loads the default model (M-Mamba v2)', the first-visit MB (printed above), the model list, the API example's model id, the PNG name example"
  item "docs/architecture.md, src/model/README.md, docs/benchmarks.md: the default's shapes and numbers; bench: 'npm run bench:profile -- --generator $NEW_DEFAULT'"
  item "parity on a GPU: MODELS='$NEW_DEFAULT ...' training/gpu/parity.sh (within one 8-bit level); MODEL_FULL=$NEW_DEFAULT vitest"
  item "README screenshots: SCREENSHOTS=1 npx playwright test e2e/screenshots.spec.ts e2e/edit_screenshots.spec.ts (the Models panel names the default)"
fi
item "training/recipes/*.sh: parking lists of device calls (public/models grew; bash scripts/device_travel.sh size)"
item "run: npx vitest run tests/model_manifests.test.ts tests/model_weights.test.ts tests/model_golden.test.ts; MODEL_FULL=$ID (slow) on a GPU; the e2e specs on the shipped models: app, device_loss, model_picker, offline, shell, first_run (docs/shipping.md)"
