package web_test

import (
	"fmt"
	"net/http/httptest"
	"testing/fstest"

	"github.com/rollbox/rollbox/signalserver/web"
)

// A page and its module, served as the signalling server serves them: any
// room's path answers the page, and the module goes gzipped.
func ExampleHandler() {
	h, err := web.Handler(fstest.MapFS{
		"index.html":   {Data: []byte(`<!doctype html><script src="game.wasm"></script>`)},
		"game.wasm":    {Data: make([]byte, 4096)},
		"wasm_exec.js": {Data: []byte("// from $(go env GOROOT)/lib/wasm")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// In a server: signalserver.New(signalserver.Config{Web: h}).
	for _, path := range []string{"/myroom", "/game.wasm"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Accept-Encoding", "gzip")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %d, %s, encoding %q\n", path, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Content-Encoding"))
	}
	// Output:
	// /myroom: 200, text/html; charset=utf-8, encoding ""
	// /game.wasm: 200, application/wasm, encoding "gzip"
}
