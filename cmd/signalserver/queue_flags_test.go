package main

import (
	"io"
	"testing"
	"time"

	"github.com/rollbox/rollbox/signalserver"
)

// TestSendQueueFlags: the send queue's bounds have flags and environment
// twins, and their defaults are the package's.
func TestSendQueueFlags(t *testing.T) {
	cfg, _, err := parseFlags(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SendQueueBytes != signalserver.DefaultSendQueueBytes || cfg.MaxQueuedBytes != signalserver.DefaultMaxQueuedBytes ||
		cfg.SlowConsumerTimeout != 0 || cfg.SendQueue != 0 {
		t.Fatalf("defaults: %+v", cfg)
	}
	cfg, _, err = parseFlags([]string{"-send-queue-bytes", "65536", "-slow-consumer-timeout", "2s"}, env(map[string]string{
		"SIGNALSERVER_MAX_QUEUED_BYTES":      "1048576",
		"SIGNALSERVER_SLOW_CONSUMER_TIMEOUT": "9s", // the flag wins
		"SIGNALSERVER_SEND_QUEUE":            "100",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SendQueueBytes != 65536 || cfg.SlowConsumerTimeout != 2*time.Second || cfg.MaxQueuedBytes != 1<<20 || cfg.SendQueue != 100 {
		t.Fatalf("got %+v", cfg)
	}
}
