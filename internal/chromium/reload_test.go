//go:build linux

package chromium_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
)

// Reload replaces the document in the same tab: the old document's
// globals are gone, its sessionStorage (per tab and origin) is kept, and a
// script added with AddScriptOnNewDocument ran before the page's own.
func TestReload(t *testing.T) {
	chromium.RequireTools(t)
	// sessionStorage needs an origin: a data: URL has none.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!doctype html><script>window.sawHook = window.hook === "ran";</script>`))
	}))
	defer srv.Close()
	b := chromium.StartTest(t, chromium.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	p, err := b.NewPage(ctx, srv.URL, 320, 240)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx, `window.sawHook === false`); err != nil {
		t.Fatal(err)
	}
	if err := p.Evaluate(ctx, `(window.oldDocument = true, sessionStorage.setItem("kept", "yes"))`, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.AddScriptOnNewDocument(ctx, `window.hook = "ran"`); err != nil {
		t.Fatal(err)
	}
	if err := p.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	// At once, without waiting: what runs now runs in the new document,
	// where the hook ran first.
	var got struct {
		Old  bool   `json:"old"`
		Hook string `json:"hook"`
		Kept string `json:"kept"`
	}
	if err := p.Evaluate(ctx, `({old: window.oldDocument === true, hook: window.hook, kept: sessionStorage.getItem("kept")})`, &got); err != nil {
		t.Fatal(err)
	}
	if got.Old || got.Hook != "ran" || got.Kept != "yes" {
		t.Fatalf("after Reload: old document's global %v (want false), hook %q (want \"ran\"), sessionStorage %q (want \"yes\")",
			got.Old, got.Hook, got.Kept)
	}
	// Before the page's own scripts.
	if err := p.Wait(ctx, `window.sawHook !== undefined`); err != nil {
		t.Fatal(err)
	}
	var sawHook bool
	if err := p.Evaluate(ctx, `window.sawHook`, &sawHook); err != nil {
		t.Fatal(err)
	}
	if !sawHook {
		t.Fatal("the page's script ran before the hook")
	}
}
