//go:build !js && !windows && !darwin && !android && !ios

package ebitenrb

import (
	"errors"
	"os"
)

// checkDisplay fails early, with the way out, where a window cannot open:
// Ebiten would otherwise panic deep in GLFW.
func checkDisplay() error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("ebitenrb: no display (DISPLAY is unset): play headless (Config.Headless, -headless), or run under a desktop or Xvfb")
	}
	return nil
}
