# rollbox: see README.md. `make demo` and `make test` set up everything they
# need on a fresh Debian machine (run as root, or with sudo available).

SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
export CGO_ENABLED ?= 1

TOOLS        := $(CURDIR)/.tools
STATICCHECK  := $(TOOLS)/staticcheck-v0.8.2/staticcheck
GOLANGCILINT := $(TOOLS)/golangci-lint-v2.15.0/golangci-lint
# Debian packages, installed only when missing. The demo needs only the X11/GL
# runtime libraries Ebiten opens for its windows (no -dev packages: Ebiten
# builds without cgo). The tests add Chromium, unshare and ip (a private link
# between two browser pages), Xvfb and xwd (a window screenshot) and Redis.
DEMO_PACKAGES := libgl1 libgl1-mesa-dri libx11-6 libxcursor1 libxext6 libxi6 libxinerama1 \
	libxrandr2 libxrender1 libxxf86vm1
TEST_PACKAGES := $(DEMO_PACKAGES) chromium util-linux iproute2 xvfb x11-apps redis-server
FUZZTIME     ?= 10s
BENCHTIME    ?= 1s

.PHONY: all deps demo-deps test lint fuzz bench demo build clean web

all: build

## deps: install what the test and tool targets need, only when missing (idempotent).
deps: $(STATICCHECK)
	@scripts/apt-install.sh $(TEST_PACKAGES)
	@go version >/dev/null || { echo "Go is missing: expected at /usr/local/go" >&2; exit 1; }
	@go mod download

## demo-deps: only what make demo needs: Go modules and Ebiten's runtime libraries.
demo-deps:
	@scripts/apt-install.sh $(DEMO_PACKAGES)
	@go version >/dev/null || { echo "Go is missing: expected at /usr/local/go" >&2; exit 1; }
	@go mod download

$(STATICCHECK):
	GOBIN=$(dir $@) go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

$(GOLANGCILINT):
	GOBIN=$(dir $@) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0

## web: the box game's web page in bin/web (index.html, boxgame.wasm,
## wasm_exec.js from this Go toolchain), also copied into
## cmd/signalserver/internal/boxgameweb/dist for cmd/signalserver (only) to
## embed. Run it before building the server.
web:
	@scripts/web.sh bin/web cmd/signalserver/internal/boxgameweb/dist

## pong-web: the Pong example's web page in bin/pong-web (index.html,
## pong.wasm, wasm_exec.js from this Go toolchain). Serve the directory with
## any static file server and open it with ?server=ws://<signalling server>.
.PHONY: pong-web
pong-web:
	@mkdir -p bin/pong-web
	GOOS=js GOARCH=wasm go build -trimpath -ldflags='-s -w' -o bin/pong-web/pong.wasm ./examples/pong
	cp "$$(go env GOROOT)/lib/wasm/wasm_exec.js" examples/pong/web/index.html bin/pong-web/

## test: formatting, vet, staticcheck and every test with the race detector.
test: deps web
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed:" $$unformatted >&2; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	GOOS=js GOARCH=wasm go build . ./ebitenrb ./signalwire/... ./transport/... ./examples/boxgame/... ./examples/pong/... ./examples/tiny/...
	go test -race -timeout 12m ./...

## lint: golangci-lint (v2) on top of what test checks.
lint: deps $(GOLANGCILINT)
	$(GOLANGCILINT) run ./...

## fuzz: a short bounded run of every fuzz target (FUZZTIME each).
fuzz: deps
	@set -e; for pkg in $$(go list ./...); do \
	  for target in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    go test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## bench: every Go benchmark with allocations, then the signalling load test.
bench: deps
	go test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
	@if [ -d cmd/signalbench ]; then go run ./cmd/signalbench -peers 1000; fi

## build: every package, and the binaries into bin/.
build: deps web
	go build ./...
	go build -o bin/ ./cmd/...

## demo: the signalling server on 127.0.0.1:3536 and a scripted pair of clients.
demo: demo-deps web
	@scripts/demo.sh

clean:
	rm -rf bin .tools
