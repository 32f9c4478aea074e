#!/usr/bin/env bash
# Serves authhost with the quick-start config on $AUTHHOST_ADDR (default
# :8080) and examples/react-app on http://localhost:5173 (Vite's dev
# server, which forwards /api to authhost); stops authhost whenever the app
# server exits. Run through `go tool task run-react-app`.
set -euo pipefail
cd "$(dirname "$0")/.."
addr="${AUTHHOST_ADDR:-:8080}"
port="${addr##*:}"
for p in "$port" 5173; do
  if (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
    echo "run-react-app: port $p is taken; stop what runs there first" >&2
    exit 1
  fi
done
./bin/authhost serve --config examples/authhost.yaml --listen "$addr" &
srv=$!
trap 'kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break
  kill -0 "$srv" 2>/dev/null || { echo "run-react-app: authhost exited" >&2; exit 1; }
  sleep 0.1
done
echo "run-react-app: open http://localhost:5173 and sign in as admin@example.com / authhost-demo"
AUTHHOST_URL="http://127.0.0.1:$port" npm run dev --prefix examples/react-app
