// Package boxgameweb is the box game's web page that cmd/signalserver
// serves: whatever `make web` last copied into dist when the command was
// built. It lives under the command, not in the library, so that programs
// built on package signalserver never carry a local build of the example
// game, and only this command's binaries and images do.
package boxgameweb

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"

	"github.com/rollbox/rollbox/signalserver/web"
)

// dist is what `make web` copied into dist: the box game's page, with the
// wasm module only gzipped (browsers all take gzip; the rare client that
// does not gets it decompressed on the fly). dist/README.md is committed so
// that the pattern matches on a clean clone, where go build and go vet must
// work before any web build.
//
//go:embed dist
var dist embed.FS

// readme is the committed file of dist, no part of the page.
const readme = "README.md"

// ErrNotBuilt is Handler's error when the command was built before
// `make web`.
var ErrNotBuilt = errors.New("boxgameweb: built without the box game's web page (run make web, then build again)")

// Handler returns the handler of the page embedded when the command was
// built. If there is no usable page (the command was built before
// `make web`: ErrNotBuilt), the handler answers every request with a page
// saying so, with status 404, and err says why.
func Handler() (h http.Handler, err error) {
	return handler(dist)
}

// handler is Handler for a file system holding dist.
func handler(fsys fs.FS) (http.Handler, error) {
	sub, err := fs.Sub(fsys, "dist")
	if err != nil {
		return missingBuild{}, fmt.Errorf("boxgameweb: %w", err)
	}
	if _, err := fs.Stat(sub, web.Page); errors.Is(err, fs.ErrNotExist) {
		return missingBuild{}, ErrNotBuilt
	}
	h, err := web.Handler(withoutReadme{sub})
	if err != nil {
		return missingBuild{}, fmt.Errorf("boxgameweb: %w", err)
	}
	return h, nil
}

// withoutReadme hides dist's README.md from web.Handler, which serves every
// top-level file.
type withoutReadme struct{ fs.FS }

func (w withoutReadme) Open(name string) (fs.File, error) {
	if name == readme {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.FS.Open(name)
}

func (w withoutReadme) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(w.FS, name)
	if name == "." {
		entries = slices.DeleteFunc(entries, func(e fs.DirEntry) bool { return e.Name() == readme })
	}
	return entries, err
}

// missingBuild is the handler when there is no page to serve.
type missingBuild struct{}

func (missingBuild) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, missingPage)
}

const missingPage = `<!doctype html>
<meta charset="utf-8">
<title>rollbox: no web build</title>
<p>This signalling server was built without the box game's web page.
Run <code>make web</code> and build the server again (or run it with <code>-no-web</code>).</p>
`
