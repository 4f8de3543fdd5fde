#!/usr/bin/env bash
# `npm start`: installs the JS dependencies on a fresh clone, then serves the app with Vite.
# Binds 127.0.0.1 by default (HOST=0.0.0.0 to share it on the network; WebGPU needs https or localhost). PORT=N
# asks for exactly that port (an error if it is taken); without PORT the first free port from 5173 up to 5199 is
# used and named. Only the app is served (vite.config.ts), never the rest of the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -d node_modules ]]; then
  echo "start: installing dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi
HOST=${HOST:-127.0.0.1}
if [[ -z ${PORT:-} ]]; then
  # The first port from 5173 that nothing listens on at $HOST (checked by binding it for a moment).
  PORT=$(node -e '
    const net = require("net");
    const host = process.argv[1];
    const tryPort = (p) => {
      if (p > 5199) { console.error("start: ports 5173–5199 are all in use; set PORT=… to pick one"); process.exit(1); }
      const s = net.createServer();
      s.once("error", () => tryPort(p + 1));
      s.listen(p, host, () => s.close(() => console.log(p)));
    };
    tryPort(5173);' "$HOST")
  [[ $PORT == 5173 ]] || echo "start: port 5173 is in use; serving on port $PORT instead."
fi
exec npx vite --host "$HOST" --port "$PORT" --strictPort "$@"
