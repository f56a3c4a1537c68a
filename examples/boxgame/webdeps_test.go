//go:build !js && !template

package main

import (
	"testing"

	"github.com/rollbox/rollbox/internal/wasmdeps"
)

// TestWebBuildLinksNoSecondNetworkStack: the page's wasm links no TLS,
// HTTP, WebSocket or WebRTC of Go's, which the browser provides; without
// them it went from 25 MB to 14 MB. A package that brings one back
// (net/http through ebitenutil did) fails here, naming the importer.
func TestWebBuildLinksNoSecondNetworkStack(t *testing.T) {
	wasmdeps.Check(t, ".")
}
