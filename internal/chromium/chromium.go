//go:build linux

// Package chromium runs headless Chromium (the Debian package) for rollbox's
// browser tests, and drives it over the DevTools protocol on a pipe: open
// pages, evaluate JavaScript, click, type and take screenshots. No port, no
// WebSocket and no Node: a few messages on two file descriptors.
//
// Tests must not send off the machine, so they run Chromium in a network
// namespace where lo is the only interface (LoopbackOnlyCommand re-runs a
// test binary there, BringLoopbackUp brings lo up inside). Chromium itself
// runs as the init of a PID namespace of its own: some of its helpers
// (crashpad) start sessions of their own, out of reach of a process group,
// but when the namespace's init dies the kernel kills everything in it.
// Linux only; it needs root or unprivileged user namespaces and the Debian
// packages chromium and util-linux (unshare).
package chromium

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// Flags are the switches every rollbox test runs Chromium with: no display,
// sandbox, GPU or background traffic, and WebRTC that works on loopback.
//
// Chromium does not enumerate lo, so it never signals a candidate there:
// pion learns its address (127.0.0.1) as peer-reflexive from its ICE checks.
// --allow-loopback-in-peer-connection lets Chromium use pion's 127.0.0.1
// candidates at all, and without mDNS hiding any host address Chromium
// signals is an IP that pion, which skips mDNS in loopback-only mode, can
// use. WebGL falls back to SwiftShader (software) without a GPU;
// --enable-unsafe-swiftshader keeps that fallback allowed as Chromium
// retires it for untrusted pages.
func Flags() []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--enable-unsafe-swiftshader",
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--no-default-browser-check", "--disable-crash-reporter",
	}
}

// LoopbackOnlyCommand returns a command that runs name with args in a new
// network namespace, where only lo exists (and is down until
// BringLoopbackUp), and a new PID namespace whose init is that process, so
// that nothing it starts outlives it. Without root, a user namespace grants
// what the network namespace needs.
func LoopbackOnlyCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "unshare", append(unshareArgs("--net", name), args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// unshareArgs are the arguments of unshare for a new PID namespace whose
// init runs what follows (extra: more namespaces, then the program). Without
// root, a user namespace grants what the others need.
func unshareArgs(extra ...string) []string {
	// --kill-child: when unshare is killed, so is its child. --mount-proc
	// gives the child a /proc that matches its PIDs.
	args := []string{"--pid", "--fork", "--kill-child", "--mount-proc"}
	if os.Geteuid() != 0 {
		args = append([]string{"--map-root-user"}, args...)
	}
	return append(args, extra...)
}

// BringLoopbackUp does `ip link set lo up`: a new network namespace starts
// with lo down.
func BringLoopbackUp() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// struct ifreq: the interface name in 16 bytes, then a union whose
	// member ifr_flags is a short. 40 bytes is its size on 64-bit Linux.
	var ifr [40]byte
	copy(ifr[:], "lo")
	ioctl := func(req uintptr) error {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&ifr[0]))); errno != 0 {
			return errno
		}
		return nil
	}
	if err := ioctl(syscall.SIOCGIFFLAGS); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS: %w", err)
	}
	flags := binary.NativeEndian.Uint16(ifr[16:]) | syscall.IFF_UP
	binary.NativeEndian.PutUint16(ifr[16:], flags)
	if err := ioctl(syscall.SIOCSIFFLAGS); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS: %w", err)
	}
	return nil
}

// AddPrivateLink gives the current network namespace a veth pair, both
// ends up and inside it, with the addresses 10.77.0.1/24 and 10.77.0.2/24,
// and a default route over it. Chromium gathers no candidates on lo, so two
// pages need this to reach each other; nothing can leave the namespace
// through it. It runs ip (Debian iproute2) and needs the kernel's veth
// driver.
func AddPrivateLink() error {
	for _, args := range [][]string{
		{"link", "add", "rbx0", "type", "veth", "peer", "name", "rbx1"},
		{"addr", "add", "10.77.0.1/24", "dev", "rbx0"},
		{"addr", "add", "10.77.0.2/24", "dev", "rbx1"},
		{"link", "set", "rbx0", "up"},
		{"link", "set", "rbx1", "up"},
		// Without camera or microphone permission Chromium offers only the
		// address of the default route, which it finds by connecting a
		// UDP socket (which sends nothing): give it one, to the other end.
		{"route", "add", "default", "via", "10.77.0.2", "dev", "rbx0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %v: %v: %s", args, err, out)
		}
	}
	return nil
}

// Options configure Start.
type Options struct {
	// Dir holds the profile and the log; it must exist and is not removed.
	Dir string
	// URL is opened in the first tab; empty means about:blank.
	URL string
	// Width and Height size the window (default 800x600).
	Width, Height int
	// ExtraFlags are added to Flags.
	ExtraFlags []string
}

// Browser is a running Chromium and its DevTools connection.
type Browser struct {
	cmd  *exec.Cmd
	pgid int
	log  string
	conn *conn
}

// Start runs Chromium with Flags, as the init of a new PID namespace, with
// its output in Dir/chromium.log and the DevTools protocol on a pipe.
func Start(o Options) (*Browser, error) {
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 800, 600
	}
	logPath := filepath.Join(o.Dir, "chromium.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	// Chromium reads commands from fd 3 and writes replies to fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer cmdR.Close()
	respR, respW, err := os.Pipe()
	if err != nil {
		cmdW.Close()
		return nil, err
	}
	defer respW.Close()

	args := unshareArgs("chromium")
	args = append(args, Flags()...)
	args = append(args, o.ExtraFlags...)
	args = append(args, "--user-data-dir="+filepath.Join(o.Dir, "profile"),
		fmt.Sprintf("--window-size=%d,%d", o.Width, o.Height),
		"--remote-debugging-pipe", "--enable-logging=stderr", "--v=0")
	if o.URL == "" {
		o.URL = "about:blank" // not the new tab page, which fetches things
	}
	args = append(args, o.URL)
	cmd := exec.Command("unshare", args...)
	// Output to a file, so that no goroutine copies it and no helper
	// process can hold a pipe of ours open.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.ExtraFiles = []*os.File{cmdR, respW}
	// unshare and the namespace's init in a process group, so that one
	// signal reaches both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		cmdW.Close()
		respR.Close()
		return nil, fmt.Errorf("starting chromium: %w", err)
	}
	b := &Browser{cmd: cmd, pgid: cmd.Process.Pid, log: logPath, conn: newConn(cmdW, respR)}
	return b, nil
}

// Log returns Chromium's output so far, without the lines in which it
// complains that there is no D-Bus (expected here; they would hide the rest),
// at most the last n bytes.
func (b *Browser) Log(n int) string {
	out, _ := os.ReadFile(b.log)
	var kept bytes.Buffer
	for line := range bytes.Lines(out) {
		if !bytes.Contains(line, []byte("dbus")) {
			kept.Write(line)
		}
	}
	s := kept.Bytes()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return string(s)
}

// Close kills Chromium with all of its processes and waits until they are
// gone, so that its profile directory can be removed.
func (b *Browser) Close() error {
	_ = syscall.Kill(-b.pgid, syscall.SIGKILL)
	_ = b.cmd.Wait()
	b.conn.close()
	// The namespace's init, orphaned by unshare's death, is reparented to
	// the nearest subreaper or init, which in the tests is the test process
	// itself (the init of its own PID namespace), and has to be reaped here.
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(-b.pgid, 0) == nil; {
		var status syscall.WaitStatus
		if pid, _ := syscall.Wait4(-b.pgid, &status, syscall.WNOHANG, nil); pid > 0 {
			continue
		}
		if time.Now().After(deadline) {
			return errors.New("chromium outlived SIGKILL")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Page is one tab, attached over DevTools.
type Page struct {
	b       *Browser
	target  string
	session string
}

// NewPage opens url in a new window whose page is width x height CSS
// pixels. Each page has a window of its own so that none is hidden behind
// another, which would throttle its animation frames.
func (b *Browser) NewPage(ctx context.Context, url string, width, height int) (*Page, error) {
	var created struct {
		TargetID string `json:"targetId"`
	}
	if err := b.conn.call(ctx, "", "Target.createTarget", map[string]any{
		"url": "about:blank", "width": width, "height": height, "newWindow": true,
	}, &created); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.conn.call(ctx, "", "Target.attachToTarget", map[string]any{
		"targetId": created.TargetID, "flatten": true,
	}, &attached); err != nil {
		return nil, err
	}
	p := &Page{b: b, target: created.TargetID, session: attached.SessionID}
	// The window's size includes the browser's frame, even headless: fix
	// the viewport itself, at one device pixel per CSS pixel.
	if err := b.conn.call(ctx, p.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}, nil); err != nil {
		return nil, err
	}
	// Navigate only now, with the viewport set, and once attached: the
	// reply comes when the new document has committed, so that what is
	// evaluated next runs in it rather than in about:blank.
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := b.conn.call(ctx, p.session, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("navigating to %s: %s", url, nav.ErrorText)
	}
	return p, nil
}

// Evaluate runs a JavaScript expression in the page, waits for it if it is
// a promise, and stores its value (JSON) in out, when out is not nil.
func (p *Page) Evaluate(ctx context.Context, expression string, out any) error {
	var reply struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := p.b.conn.call(ctx, p.session, "Runtime.evaluate", map[string]any{
		"expression": expression, "awaitPromise": true, "returnByValue": true,
	}, &reply); err != nil {
		return err
	}
	if e := reply.Exception; e != nil {
		return fmt.Errorf("%s: %s %s", expression, e.Text, e.Exception.Description)
	}
	if out == nil || len(reply.Result.Value) == 0 {
		return nil
	}
	return json.Unmarshal(reply.Result.Value, out)
}

// Screenshot returns the page as it is shown, as PNG.
func (p *Page) Screenshot(ctx context.Context) ([]byte, error) {
	var reply struct {
		Data string `json:"data"`
	}
	if err := p.b.conn.call(ctx, p.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &reply); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(reply.Data)
}

// Click presses and releases the left mouse button at (x, y).
func (p *Page) Click(ctx context.Context, x, y float64) error {
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		if err := p.b.conn.call(ctx, p.session, "Input.dispatchMouseEvent", map[string]any{
			"type": typ, "x": x, "y": y, "button": "left", "clickCount": 1,
		}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Key sends a key down (down true) or up event: key and code as in
// KeyboardEvent ("d", "KeyD"), keyCode the Windows virtual key code (68).
func (p *Page) Key(ctx context.Context, down bool, key, code string, keyCode int) error {
	typ := "keyUp"
	if down {
		typ = "rawKeyDown"
	}
	return p.b.conn.call(ctx, p.session, "Input.dispatchKeyEvent", map[string]any{
		"type": typ, "key": key, "code": code, "windowsVirtualKeyCode": keyCode,
	}, nil)
}

// Close closes the tab.
func (p *Page) Close(ctx context.Context) error {
	return p.b.conn.call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.target}, nil)
}

// conn is the DevTools protocol on Chromium's pipe: JSON messages, each
// ended by a NUL byte. Replies carry the id of their call; events (no id)
// are dropped.
type conn struct {
	w    *os.File
	r    *os.File
	done chan struct{} // closed when the reader ends

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan reply
	err     error // why the reader ended
}

type reply struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func newConn(w, r *os.File) *conn {
	c := &conn{w: w, r: r, done: make(chan struct{}), pending: make(map[int64]chan reply)}
	go c.read()
	return c
}

func (c *conn) read() {
	defer close(c.done)
	var buf []byte
	chunk := make([]byte, 64<<10)
	for {
		n, err := c.r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			i := bytes.IndexByte(buf, 0)
			if i < 0 {
				break
			}
			var rep reply
			if json.Unmarshal(buf[:i], &rep) == nil && rep.ID != 0 {
				c.mu.Lock()
				ch := c.pending[rep.ID]
				delete(c.pending, rep.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- rep
				}
			}
			buf = buf[i+1:]
		}
		if err != nil {
			c.mu.Lock()
			c.err = fmt.Errorf("devtools pipe: %w", err)
			c.mu.Unlock()
			return
		}
	}
}

// call sends one command (to the browser when session is empty, else to
// that page) and decodes its result into out, when out is not nil.
func (c *conn) call(ctx context.Context, session, method string, params any, out any) error {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return err
	}
	c.nextID++
	id := c.nextID
	ch := make(chan reply, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case rep := <-ch:
		if rep.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, rep.Error.Message, rep.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(rep.Result, out)
		}
		return nil
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, c.err)
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// close ends the connection; Chromium is gone by now, so the reader sees
// the end of the pipe.
func (c *conn) close() {
	c.w.Close()
	<-c.done
	c.r.Close()
}
