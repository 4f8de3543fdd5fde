#!/usr/bin/env bash
# `npm start`: installs the JS dependencies on a fresh clone, then serves the app with Vite.
# Binds 127.0.0.1:5173 by default; HOST=0.0.0.0 / PORT=... override (WebGPU needs https or localhost).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]]; then
  echo "start: installing dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi
exec npx vite --host "${HOST:-127.0.0.1}" --port "${PORT:-5173}" --strictPort "$@"
