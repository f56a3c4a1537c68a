package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

const page = "<!doctype html><title>game</title>" // short: not worth compressing

// testFS is a page, a script and a module stored only gzipped, as make web
// leaves them for the signalling server to embed.
func testFS(t *testing.T) fstest.MapFS {
	t.Helper()
	return fstest.MapFS{
		"index.html":      {Data: []byte(page)},
		"wasm_exec.js":    {Data: []byte(strings.Repeat("// Go's glue\n", 200))},
		"boxgame.wasm.gz": {Data: gzipped(t, wasm)},
	}
}

var wasm = bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00"), 1000)

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

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var gzipOK = http.Header{"Accept-Encoding": {"deflate, gzip;q=0.8, br"}}

// TestRoutes: / and any room answer the page; files answer themselves;
// deeper paths 404; other methods 405.
func TestRoutes(t *testing.T) {
	h, err := Handler(testFS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/myroom", "/my%20room?players=3&bot=1", "/index.html"} {
		resp := get(t, h, "GET", target, nil)
		if resp.StatusCode != 200 || string(body(t, resp)) != page {
			t.Errorf("GET %s: %d, want the page", target, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, ct)
		}
	}
	for target, want := range map[string]int{"/a/b": 404, "/boxgame.wasm/x": 404} {
		if resp := get(t, h, "GET", target, nil); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", target, resp.StatusCode, want)
		}
	}
	resp := get(t, h, "POST", "/myroom", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q; want 405 with GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp = get(t, h, "HEAD", "/wasm_exec.js", nil)
	if resp.StatusCode != 200 || len(body(t, resp)) != 0 || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, Content-Length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
	}
}

// TestWasmGzip: the module goes gzipped to a browser, with the type
// streaming compilation needs, and decompressed to a client without gzip.
func TestWasmGzip(t *testing.T) {
	h, err := Handler(testFS(t))
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, "GET", "/boxgame.wasm", gzipOK)
	b := body(t, resp)
	if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(gunzip(t, b), wasm) {
		t.Fatalf("gzip client: Content-Encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(b))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/wasm" {
		t.Errorf("Content-Type %q, want application/wasm", ct)
	}
	if resp.Header.Get("Content-Length") != "" && resp.Header.Get("Content-Length") != strconv.Itoa(len(b)) {
		t.Errorf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(b))
	}
	if resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("Vary %q", resp.Header.Get("Vary"))
	}
	gzTag := resp.Header.Get("ETag")

	for _, hdr := range []http.Header{nil, {"Accept-Encoding": {"gzip;q=0, identity"}}} {
		resp = get(t, h, "GET", "/boxgame.wasm", hdr)
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body(t, resp), wasm) {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q or other bytes", hdr.Get("Accept-Encoding"), resp.Header.Get("Content-Encoding"))
		}
		if tag := resp.Header.Get("ETag"); tag == "" || tag == gzTag {
			t.Errorf("identity ETag %q, gzip ETag %q: want two different tags", tag, gzTag)
		}
	}
	// Small text is compressed at start-up when that saves bytes.
	resp = get(t, h, "GET", "/wasm_exec.js", gzipOK)
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("wasm_exec.js: Content-Encoding %q, Content-Type %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"))
	}
	if resp = get(t, h, "GET", "/", gzipOK); resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("a page too short to gain from gzip was gzipped")
	}
}

// TestCaching: every file is revalidated (no-cache) and a matching ETag
// answers 304 without a body.
func TestCaching(t *testing.T) {
	h, err := Handler(testFS(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/room", "/boxgame.wasm", "/wasm_exec.js"} {
		for _, hdr := range []http.Header{nil, gzipOK} {
			resp := get(t, h, "GET", target, hdr)
			tag := resp.Header.Get("ETag")
			if resp.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(tag, `"`) {
				t.Errorf("%s: Cache-Control %q, ETag %q", target, resp.Header.Get("Cache-Control"), tag)
			}
			cond := http.Header{"If-None-Match": {`"other", ` + tag}}
			for k, v := range hdr {
				cond[k] = v
			}
			resp = get(t, h, "GET", target, cond)
			if resp.StatusCode != http.StatusNotModified || len(body(t, resp)) != 0 {
				t.Errorf("%s with If-None-Match %s: %d, want 304", target, tag, resp.StatusCode)
			}
		}
	}
}

// TestHandlerNeedsPage: a file system without index.html, or with a
// corrupt .gz file, is an error, with a nil handler (not a typed nil that
// would pass a nil check and then panic), and the package's prefix.
func TestHandlerNeedsPage(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no page":  {"boxgame.wasm": {Data: wasm}},
		"bad gzip": {"index.html": {Data: []byte(page)}, "boxgame.wasm.gz": {Data: []byte("not gzip")}},
	} {
		h, err := Handler(fsys)
		if err == nil || !strings.HasPrefix(err.Error(), "web: ") {
			t.Errorf("%s: error %v, want one starting with web: ", name, err)
		}
		if h != nil {
			t.Errorf("%s: handler %#v with the error, want nil", name, h)
		}
	}
}
