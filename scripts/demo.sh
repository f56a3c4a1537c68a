#!/usr/bin/env bash
# make demo: starts the signalling server on loopback and shows two scripted
# clients meeting through it. (The box game takes over this script once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
addr=${DEMO_ADDR:-127.0.0.1:3536}
mkdir -p bin
go build -o bin/signalserver ./cmd/signalserver
bin/signalserver -log-level debug "$addr" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null && break
  kill -0 $server 2>/dev/null || { echo "signalserver did not start" >&2; exit 1; }
  sleep 0.1
done
go run ./examples/signalling -server "ws://$addr"
