// Package web serves a browser game from the signalling server, so that
// "open http://host:3536/myroom in two tabs" is all it takes to play: a plain
// GET of / or /<room> answers the game's page, which joins that room over
// the same host, and the page's files (its wasm module, Go's wasm_exec.js)
// are served next to it. Plug a handler into signalserver.Config.Web.
//
// The package serves any game's files from any fs.FS and embeds none:
// cmd/signalserver embeds the box game's page itself, so that programs
// built on this library never carry a local build of the example game.
//
// Files are kept in memory, sent gzipped to browsers that accept it (a file
// X.gz in the file system is X already compressed), and revalidated on
// every load (Cache-Control: no-cache with a strong ETag): their names do
// not change between builds, and a page must never pair one build's
// wasm_exec.js with another's wasm.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Page is the name of the page in a Handler's file system.
const Page = "index.html"

// handler serves files from memory.
type handler struct {
	files map[string]*file
}

// file is one servable file: its content as stored and, when compressible,
// gzipped.
type file struct {
	name        string
	contentType string
	raw, gz     []byte // either may be nil, not both
	etag        string // of the identity representation; gz has its own
}

// Handler returns a handler serving the top-level files of fsys, which must
// hold Page: GET /<name> answers the file of that name, and / or /<room>,
// any other single path segment, answers Page. Deeper paths are 404 and
// methods other than GET and HEAD 405. Handler reads every file once, now.
func Handler(fsys fs.FS) (http.Handler, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h := &handler{files: make(map[string]*file)}
	get := func(name string) *file {
		f := h.files[name]
		if f == nil {
			f = &file{name: name, contentType: contentType(name)}
			h.files[name] = f
		}
		return f
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: %w", err)
		}
		if name, ok := strings.CutSuffix(e.Name(), ".gz"); ok {
			get(name).gz = b
		} else {
			get(e.Name()).raw = b
		}
	}
	if h.files[Page] == nil {
		return nil, fmt.Errorf("web: no %s", Page)
	}
	for _, f := range h.files {
		if err := f.prepare(); err != nil {
			return nil, fmt.Errorf("web: %s: %w", f.name, err)
		}
	}
	return h, nil
}

// prepare fills in the ETag and, for text and wasm files stored only
// raw, the gzipped form (which costs time once here, not per request).
func (f *file) prepare() error {
	// A file stored only gzipped is identified by its gzipped bytes: they
	// decompress to one content, and hashing them is five times less work.
	stored := f.raw
	if stored == nil {
		stored = f.gz
		if _, err := gzip.NewReader(bytes.NewReader(f.gz)); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(stored)
	f.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	if f.gz == nil && compressible(f.contentType) {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
		_, _ = zw.Write(f.raw)                                 // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		if b.Len() < len(f.raw) {
			f.gz = b.Bytes()
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	if strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	f := h.files[name]
	if f == nil {
		f = h.files[Page] // "/" or a room's page
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if f.gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
	}
	// No ranges: a page's files are fetched whole, and a range of the
	// gzipped form would need an ETag of its own anyway.
	body, etag := f.raw, f.etag
	if f.gz != nil && (acceptsGzip(r) || f.raw == nil) {
		body = f.gz
		if f.raw == nil && !acceptsGzip(r) {
			body = nil // stored only gzipped: decompressed on the way out
		} else {
			hdr.Set("Content-Encoding", "gzip")
			etag = strings.TrimSuffix(f.etag, `"`) + `-gz"`
		}
	}
	hdr.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if body != nil {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if r.Method == http.MethodHead {
		return
	}
	if body != nil {
		_, _ = w.Write(body)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(f.gz))
	if err != nil { // prepare checked the header
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = io.Copy(w, zr)
}

// etagMatches reports whether an If-None-Match header lists etag (or is *).
// Weak comparison, as RFC 9110 asks for If-None-Match.
func etagMatches(header, etag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "W/")
		if part == "*" || part == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip:
// listed, and not with q=0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") && strings.TrimSpace(coding) != "*" {
				continue
			}
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// contentType is the Content-Type of a file name. Browsers insist on
// application/wasm for streaming compilation, so the types that matter are
// fixed here rather than left to the system's MIME tables.
func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || contentType == "application/wasm" ||
		contentType == "application/json" || contentType == "image/svg+xml"
}
