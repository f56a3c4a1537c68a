#!/usr/bin/env bash
# make web: the box game's web page in one directory (default bin/web):
# index.html, boxgame.wasm, boxgame.wasm.gz (what servers send to browsers
# that accept gzip) and wasm_exec.js, copied from the Go toolchain that built
# the wasm because the two must match. Serve the directory with any static
# file server. A second directory, if given, receives the files a server
# sends (the module only gzipped) for cmd/signalserver to embed: make web
# gives cmd/signalserver/internal/boxgameweb/dist. The Chromium tests run
# this script too. Relative paths are from the repository's root.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bin/web}
embed=${2:-}
mkdir -p "$out"
# -s -w: no symbol table or DWARF, which browsers cannot use anyway.
GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o "$out/boxgame.wasm" ./examples/boxgame
cp "$(go env GOROOT)/lib/wasm/wasm_exec.js" "$out/wasm_exec.js"
cp examples/boxgame/web/index.html "$out/index.html"
gzip -9 -n -c "$out/boxgame.wasm" >"$out/boxgame.wasm.gz.tmp"
mv "$out/boxgame.wasm.gz.tmp" "$out/boxgame.wasm.gz"
if [[ -n $embed ]]; then
	cp "$out/index.html" "$out/wasm_exec.js" "$out/boxgame.wasm.gz" "$embed/"
fi
