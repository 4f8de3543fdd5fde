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
  rc=0
  npx biome check . || rc=1
  "$RUFF" check . || rc=1
  "$RUFF" format --check . || rc=1
  exit $rc
fi
