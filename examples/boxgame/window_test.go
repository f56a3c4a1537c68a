//go:build !js && !template

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/rollback"
)

// screenshotEnv, when set to a path, makes TestWindowsUnderXvfb save its
// screenshot there (how docs/boxgame.png is made).
const screenshotEnv = "BOXGAME_SCREENSHOT"

// TestWindowsUnderXvfb opens two real game windows on a virtual X display,
// lets them connect, grabs each window from the X server and checks that
// both show two boxes of distinct player colours.
func TestWindowsUnderXvfb(t *testing.T) {
	t.Parallel()
	display := startXvfb(t)
	srv, url := signalServer(t)
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	var procs []proc
	for i := range 2 {
		// Side by side: X has no window manager here to place them, and xwd
		// cannot read a window hidden under another.
		cmd, out, errOut := startPeerEnv(t, []string{"DISPLAY=" + display},
			"-server", url, "-room", "xvfb", "-players", "2", "-loopback", "-frames", "900",
			"-window-pos", fmt.Sprintf("%d,0", i*660))
		procs = append(procs, proc{cmd, out, errOut})
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Metrics().Joins.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for player := range rollback.PlayerHandle(2) {
		title := windowTitle("xvfb", player)
		var img *image.RGBA
		var err error
		for time.Now().Before(deadline) {
			// The title appears once connected; the boxes a few frames later.
			if img, err = grabWindow(display, title); err == nil && len(boxColours(img)) == 2 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("grab %q: %v\nstderr: %s", title, err, procs[player].stderr)
		}
		if got := boxColours(img); len(got) != 2 {
			t.Fatalf("window %q shows %d box colours %v, want 2", title, len(got), got)
		}
		if path := os.Getenv(screenshotEnv); path != "" && player == 0 {
			savePNG(t, path, img)
		}
	}
	for i, p := range procs {
		r := finish(t, p.cmd, p.stdout, p.stderr)
		if r.code != exitOK || r.result.Frame != 900 {
			t.Fatalf("window %d: exit %d, %+v\n%s", i, r.code, r.result, r.stderr)
		}
	}
}

// startXvfb starts a virtual X server and returns its DISPLAY value.
func startXvfb(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// -displayfd picks a free display and writes its number to fd 3.
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1320x500x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatalf("Xvfb (Debian package xvfb, installed by make deps): %v", err)
	}
	w.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	_ = r.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

func startPeerEnv(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asMainEnv+"=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, &stderr
}

// grabWindow captures the named window with xwd (Debian x11-apps).
func grabWindow(display, title string) (*image.RGBA, error) {
	cmd := exec.Command("xwd", "-silent", "-name", title)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xwd: %v: %s", err, stderr.String())
	}
	return decodeXWD(out)
}

// decodeXWD reads the 24/32-bit TrueColor ZPixmap dumps xwd makes of Xvfb.
func decodeXWD(b []byte) (*image.RGBA, error) {
	if len(b) < 100 {
		return nil, errors.New("xwd: short header")
	}
	field := func(i int) uint32 { return binary.BigEndian.Uint32(b[4*i:]) }
	headerSize, format, width, height := field(0), field(2), int(field(4)), int(field(5))
	byteOrder, bpp, stride, ncolors := field(7), field(11), int(field(12)), int(field(19))
	if format != 2 || bpp != 32 {
		return nil, fmt.Errorf("xwd: format %d, %d bits per pixel; want ZPixmap, 32", format, bpp)
	}
	pixels := int(headerSize) + 12*ncolors
	if width <= 0 || height <= 0 || len(b) < pixels+stride*height {
		return nil, errors.New("xwd: truncated")
	}
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		row := b[pixels+y*stride:]
		for x := range width {
			var v uint32
			if byteOrder == 0 { // LSBFirst
				v = binary.LittleEndian.Uint32(row[4*x:])
			} else {
				v = binary.BigEndian.Uint32(row[4*x:])
			}
			copy(img.Pix[y*img.Stride+4*x:], []byte{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff})
		}
	}
	return img, nil
}

// boxColours returns the player colours that fill at least most of a box.
func boxColours(img *image.RGBA) []color.RGBA {
	var counts [len(playerColors)]int
	for i := 0; i+3 < len(img.Pix); i += 4 {
		for c, pc := range playerColors {
			// GL may round a channel by one or two on the way to the screen.
			if near(img.Pix[i], pc.R) && near(img.Pix[i+1], pc.G) && near(img.Pix[i+2], pc.B) {
				counts[c]++
			}
		}
	}
	var found []color.RGBA
	for c, n := range counts {
		if n >= 900 { // a box is 32x32 = 1024 pixels
			found = append(found, playerColors[c])
		}
	}
	return found
}

func near(a, b uint8) bool { return a-b <= 3 || b-a <= 3 }

func savePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(os.Stderr, "screenshot saved to "+path+"\n")
}
