package main

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/rollbox/rollbox/signalserver"
)

// serveOnLoopback builds a server from cfg and runs serve with opts on a new
// 127.0.0.1 listener, as main does, until stop, which returns serve's error
// (stop runs when the test ends if the test has not called it, so that a
// failed test leaks no goroutine).
func serveOnLoopback(t *testing.T, cfg signalserver.Config, opts options, logger *slog.Logger) (addr string, stop func() error) {
	t.Helper()
	srv, err := signalserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, srv, ln, opts, logger) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}
