#!/usr/bin/env bash
# Starts the WorkOS emulator on 127.0.0.1:8090 and authhost with
# examples/authhost-workos.yaml on $AUTHHOST_ADDR (default :8080); stops the
# emulator whenever authhost exits. Run through `go tool task run-workos`.
set -euo pipefail
cd "$(dirname "$0")/.."
if (exec 3<>/dev/tcp/127.0.0.1/8090) 2>/dev/null; then
  echo "run-workos: 127.0.0.1:8090 is taken (an emulator left running?); stop it first" >&2
  exit 1
fi
./bin/workos-emulator --listen 127.0.0.1:8090 &
emu=$!
trap 'kill "$emu" 2>/dev/null; wait "$emu" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/8090) 2>/dev/null && break
  kill -0 "$emu" 2>/dev/null || { echo "run-workos: the emulator exited" >&2; exit 1; }
  sleep 0.1
done
./bin/authhost serve --config examples/authhost-workos.yaml --listen "${AUTHHOST_ADDR:-:8080}"
