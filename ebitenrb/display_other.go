//go:build js || windows || darwin || android || ios

package ebitenrb

// checkDisplay: these platforms always have somewhere to draw.
func checkDisplay() error { return nil }
