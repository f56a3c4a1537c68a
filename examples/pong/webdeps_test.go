//go:build !js

package main

import (
	"testing"

	"github.com/rollbox/rollbox/internal/wasmdeps"
)

// TestWebBuildLinksNoSecondNetworkStack: the js/wasm build links no TLS,
// HTTP, WebSocket or WebRTC of Go's, which the browser provides
// (ebitenutil, for one, imports net/http there); a package that brings one
// back fails here, naming the importer.
func TestWebBuildLinksNoSecondNetworkStack(t *testing.T) {
	wasmdeps.Check(t, ".")
}
