//go:build linux

package chromium

import (
	"context"
	"time"
)

// Reload reloads the page, as the browser's reload button does: the same
// tab, whose sessionStorage survives (a new tab gets a fresh one). It
// returns once the new document has replaced the old one, so that what is
// evaluated next runs in it.
func (p *Page) Reload(ctx context.Context) error {
	// The protocol does not say that Page.reload answers only once the new
	// document has committed (the Chromium of these tests does, but
	// Page.navigate is the one documented so): wait for it. A document's
	// time origin is when its navigation started: the reloaded document's
	// differs from the old one's.
	var before float64
	if err := p.Evaluate(ctx, `performance.timeOrigin`, &before); err != nil {
		return err
	}
	if err := p.b.conn.call(ctx, p.session, "Page.reload", map[string]any{}, nil); err != nil {
		return err
	}
	for {
		// While the old document goes, an evaluation may fail (its
		// context destroyed): that is not the new document yet.
		var origin float64
		if err := p.Evaluate(ctx, `performance.timeOrigin`, &origin); err == nil && origin != before {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// AddScriptOnNewDocument has every document the page loads from now on (a
// reload, a navigation) run the JavaScript source before its own scripts,
// as a test's hooks need: to record what the page logs from its first
// line, say.
func (p *Page) AddScriptOnNewDocument(ctx context.Context, source string) error {
	// The Page domain runs such scripts only once enabled. Its events
	// come too, and conn drops them.
	if err := p.b.conn.call(ctx, p.session, "Page.enable", map[string]any{}, nil); err != nil {
		return err
	}
	return p.b.conn.call(ctx, p.session, "Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": source}, nil)
}
