package boxgameweb

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// get sends GET target to h, as a browser would (accepting gzip) when
// browser is true.
func get(t *testing.T, h http.Handler, target string, browser bool) (*http.Response, []byte) {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	if browser {
		r.Header.Set("Accept-Encoding", "gzip")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	resp := w.Result()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestWithoutBuild: dist as committed (README.md only, a fresh clone) gives
// ErrNotBuilt and a page saying to run make web, as a 404 that is never
// cached, on every path.
func TestWithoutBuild(t *testing.T) {
	h, err := handler(fstest.MapFS{"dist/README.md": {Data: []byte("make web writes here")}})
	if !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("err %v, want ErrNotBuilt", err)
	}
	for _, target := range []string{"/", "/myroom", "/boxgame.wasm", "/README.md"} {
		resp, b := get(t, h, target, false)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			resp.Header.Get("Cache-Control") != "no-store" || !bytes.Contains(b, []byte("make web")) {
			t.Errorf("GET %s: %d %q %q %q", target, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), b)
		}
	}
}

// TestWithBuild: what make web leaves in dist is served, and the committed
// README.md is not: its path is a room like any other.
func TestWithBuild(t *testing.T) {
	const page = `<!doctype html><script src="wasm_exec.js"></script>`
	h, err := handler(fstest.MapFS{
		"dist/README.md":       {Data: []byte("make web writes here")},
		"dist/index.html":      {Data: []byte(page)},
		"dist/wasm_exec.js":    {Data: []byte("// Go's glue")},
		"dist/boxgame.wasm.gz": {Data: gzipped(t, []byte("\x00asm\x01\x00\x00\x00"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/myroom", "/README.md"} {
		if resp, b := get(t, h, target, false); resp.StatusCode != 200 || string(b) != page {
			t.Errorf("GET %s: %d %q, want the page", target, resp.StatusCode, b)
		}
	}
	if resp, _ := get(t, h, "/boxgame.wasm", true); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" ||
		resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("GET /boxgame.wasm: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"))
	}
}

// TestBrokenBuild: a dist that has a page but a corrupt module is an error
// of its own, not ErrNotBuilt, and still answers the 404 page.
func TestBrokenBuild(t *testing.T) {
	h, err := handler(fstest.MapFS{
		"dist/index.html":      {Data: []byte("page")},
		"dist/boxgame.wasm.gz": {Data: []byte("not gzip")},
	})
	if err == nil || errors.Is(err, ErrNotBuilt) || !strings.HasPrefix(err.Error(), "boxgameweb: ") {
		t.Fatalf("err %v, want a boxgameweb error other than ErrNotBuilt", err)
	}
	if resp, _ := get(t, h, "/myroom", false); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /myroom: %d, want 404", resp.StatusCode)
	}
}

// TestEmbedded: the page embedded in this build, whether make web ran or
// not, answers the game's page or the page saying to run it.
func TestEmbedded(t *testing.T) {
	h, err := Handler()
	resp, b := get(t, h, "/myroom", false)
	switch {
	case err == nil:
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("wasm_exec.js")) {
			t.Errorf("embedded page: %d %q", resp.StatusCode, b)
		}
		if resp, _ := get(t, h, "/boxgame.wasm", true); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" {
			t.Errorf("embedded wasm: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	case errors.Is(err, ErrNotBuilt):
		if resp.StatusCode != 404 || !bytes.Contains(b, []byte("make web")) {
			t.Errorf("without a web build: %d %q", resp.StatusCode, b)
		}
	default:
		t.Errorf("embedded build unusable: %v", err)
	}
}

// TestOnlyCommandsEmbed: no library package of the module embeds files
// (such as a local build of the example game): only commands and examples,
// whose binaries are built on purpose from a checkout, may.
func TestOnlyCommandsEmbed(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			t.Fatal("no go.mod above the package")
		}
		root = parent
	}
	embedders := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			if !strings.HasPrefix(strings.TrimSpace(sc.Text()), "//go:embed") {
				continue
			}
			rel = filepath.ToSlash(rel)
			if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "examples/") {
				embedders++
				continue
			}
			t.Errorf("%s:%d: a library package embeds files: %s", rel, line, sc.Text())
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if embedders == 0 {
		t.Error("found no //go:embed at all, not even this package's: the walk is broken")
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
