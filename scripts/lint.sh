#!/usr/bin/env bash
# `npm run lint`: Biome (format + lint of the TS/JS code, biome.jsonc) and Ruff (lint + format of the Python code,
# ruff.toml), check only; exits non-zero on any finding. `npm run format` (this script with --fix) applies the
# formatters and the safe fixes. Ruff comes from training/.venv (training/requirements.txt; `npm test` creates it).
set -euo pipefail
cd "$(dirname "$0")/.."
RUFF=training/.venv/bin/ruff
if [[ ! -x $RUFF ]]; then
  echo "lint: $RUFF is missing; create the venv: python3 -m venv training/.venv && training/.venv/bin/pip install -r training/requirements.txt" >&2
  exit 2
fi
if [[ ${1:-} == --fix ]]; then
  npx biome check --write .
  "$RUFF" check --fix .
  "$RUFF" format .
else
  failed=()
  npx biome check . || failed+=("Biome")
  "$RUFF" check . || failed+=("Ruff check")
  "$RUFF" format --check . || failed+=("Ruff format")
  # the verdict last, so that the tail of the output tells (each tool's own "passed" line may follow another's errors)
  if ((${#failed[@]})); then
    echo "lint: FAILED in ${failed[*]} (findings above; npm run format applies the formatters and safe fixes)" >&2
    exit 1
  fi
  echo "lint: clean"
fi
