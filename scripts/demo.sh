#!/usr/bin/env bash
# make demo: the signalling server on loopback and two box game peers joined in
# one room. With a display, two windows (play with WASD or the arrow keys; F1
# toggles the overlay); without one, two headless bots play about ten seconds
# and their results are printed side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
addr=${DEMO_ADDR:-127.0.0.1:3536}
room=demo-$$
mkdir -p bin
go build -o bin/signalserver ./cmd/signalserver
go build -o bin/boxgame ./examples/boxgame
bin/signalserver -log-level warn "$addr" &
server=$!
pids=()
cleanup() { kill "${pids[@]}" "$server" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null && break
  kill -0 $server 2>/dev/null || { echo "signalserver did not start" >&2; exit 1; }
  sleep 0.1
done
echo "signalserver on ws://$addr; two peers join room $room"
echo "in a browser, open http://$addr/play in two tabs to play each other (make web built the page)"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  for i in 0 1; do
    bin/boxgame -server "ws://$addr" -room "$room" -players 2 -loopback -window-pos "$((i * 660)),40" &
    pids+=($!)
  done
  echo "two windows are open: close both (or press Ctrl-C) to end the demo"
  wait "${pids[@]}" || true
  exit 0
fi

echo "no display: two headless bots play 600 frames (about ten seconds)"
out=$(mktemp -d)
for i in 1 2; do
  bin/boxgame -server "ws://$addr" -room "$room" -players 2 -loopback -headless -seed "$i" -frames 600 \
    >"$out/$i.json" 2>"$out/$i.err" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
pids=()
field() { grep -o "\"$2\":[^,}]*" "$out/$1.json" | tail -1 | cut -d: -f2 | tr -d '"'; }
printf '%-16s %-20s %-20s\n' "" "peer 1" "peer 2"
for key in frame checksum players rollbacks rollback_frames desyncs max_ping_ms; do
  printf '%-16s %-20s %-20s\n' "$key" "$(field 1 $key)" "$(field 2 $key)"
done
if [ "$(field 1 checksum)" = "$(field 2 checksum)" ] && [ $status -eq 0 ]; then
  echo "both peers agree on the state at frame $(field 1 frame)"
else
  echo "the peers disagree or failed:" >&2
  cat "$out"/*.err >&2
  exit 1
fi
