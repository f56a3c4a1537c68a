//go:build !js && !template

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestTemplatePlays builds the template alone (main.go with board.go and
// sim/, -tags template), as a game copied from it would be, and plays a
// headless match between two of its processes: both finish it and exit 0.
func TestTemplatePlays(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "boxgame-template")
	if out, err := exec.CommandContext(ctx, "go", "build", "-tags", "template", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags template: %v\n%s", err, out)
	}
	_, url := signalServer(t)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, bin, "-server", url, "-room", t.Name(), "-headless", "-loopback", "-frames", "120")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Env = append(os.Environ(), "DISPLAY=") // headless needs no display
			if err := cmd.Run(); err != nil {
				t.Errorf("template peer %d: %v\nstderr:\n%s", i, err, &stderr)
			}
		})
	}
	wg.Wait()
}
