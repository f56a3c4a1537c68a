//go:build linux

package browsertest

import (
	"bufio"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/chromium"
	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/signalserver"
)

//go:embed page.html page.js
var pageFiles embed.FS

// packets is how many packets the page sends on each channel.
const packets = 200

// minUnreliable is the share of unreliable packets that must come back. On
// loopback all do; the margin keeps a channel that may drop from flaking.
const minUnreliable = 0.9

const scenarioTimeout = 20 * time.Second

// runInNamespace is the test proper, run by the copy of the test binary that
// TestBrowserInterop starts in a network namespace.
func runInNamespace(t *testing.T, meshcat string) {
	if err := chromium.BringLoopbackUp(); err != nil {
		t.Fatalf("bringing lo up: %v", err)
	}
	h := newHarness(t, meshcat)
	for _, browserFirst := range []bool{true, false} {
		for _, gather := range []string{"wait", "trickle"} {
			order := "meshcat-first"
			if browserFirst {
				order = "browser-first"
			}
			t.Run(order+"/"+gather, func(t *testing.T) { h.scenario(t, browserFirst, gather) })
		}
	}
}

// harness is what the scenarios share: the signalling server, the server of
// the page, and the page's reports.
type harness struct {
	meshcat string
	signal  string // ws://127.0.0.1:port of the signalling server
	page    string // http://127.0.0.1:port of the page
	events  chan event
}

// channel is a data channel as the browser reports it.
type channel struct {
	Label          string `json:"label"`
	ID             int    `json:"id"`
	Negotiated     bool   `json:"negotiated"`
	Ordered        bool   `json:"ordered"`
	MaxRetransmits *int   `json:"maxRetransmits"` // null: reliable
}

// matchboxChannels are matchbox_socket's ChannelConfig::unreliable() and
// ::reliable() as channels 0 and 1, which meshcat's -channels
// unreliable,reliable matches.
var matchboxChannels = []channel{
	{Label: "matchbox_socket_0", ID: 0, Negotiated: true, Ordered: false, MaxRetransmits: new(0)},
	{Label: "matchbox_socket_1", ID: 1, Negotiated: true, Ordered: true},
}

// event is one report of page.js.
type event struct {
	Run             string    `json:"run"`
	Type            string    `json:"type"` // log, error, joined, connected, result, peerleft
	Message         string    `json:"message"`
	ID              string    `json:"id"`
	Peer            string    `json:"peer"`
	Role            string    `json:"role"`
	Channels        []channel `json:"channels"`
	Unreliable      []int     `json:"unreliable"`
	Reliable        []int     `json:"reliable"`
	Bad             int       `json:"bad"`
	Candidates      int       `json:"candidates"`
	Gathered        int       `json:"gathered"`
	EndOfCandidates bool      `json:"endOfCandidates"`
}

func newHarness(t *testing.T, meshcat string) *harness {
	h := &harness{meshcat: meshcat, events: make(chan event, 1024)}

	srv, err := signalserver.New(signalserver.Config{
		JoinsPerSecondPerIP: -1,
		MaxConnsPerIP:       -1,
		Logger:              slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	sig := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("signalling server shutdown: %v", err)
		}
		sig.Close()
	})
	h.signal = "ws" + strings.TrimPrefix(sig.URL, "http")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /page.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, pageFiles, "page.js")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, pageFiles, "page.html")
	})
	mux.HandleFunc("POST /event", func(w http.ResponseWriter, r *http.Request) {
		var ev event
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case h.events <- ev:
		default:
			// Only a page gone wild fills the buffer; the scenario will
			// miss an event and fail on its deadline.
		}
		w.WriteHeader(http.StatusNoContent)
	})
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)
	h.page = page.URL
	return h
}

// scenario runs one page and one meshcat -echo in a new room, the one that
// joins first being the answerer, and checks both ends.
func (h *harness) scenario(t *testing.T, browserFirst bool, gather string) {
	ctx, cancel := context.WithTimeout(t.Context(), scenarioTimeout)
	defer cancel()
	room := strings.ReplaceAll(t.Name(), "/", "-")
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	pageURL := h.page + "/?" + url.Values{
		"signal": {h.signal + "/" + room + "?next=2"},
		"run":    {run},
		"n":      {strconv.Itoa(packets)},
		"gather": {gather},
	}.Encode()
	r := &reader{t: t, events: h.events, run: run}

	var mc *meshcatProc
	if !browserFirst {
		mc = h.startMeshcat(t, room)
		mc.waitJoined(ctx)
	}
	start := time.Now()
	chromium.StartTest(t, chromium.Options{URL: pageURL})
	browserID := r.next(ctx, "joined").ID
	joined := time.Since(start)
	if browserID == "" {
		t.Fatal("the page joined with an empty id")
	}
	if browserFirst {
		mc = h.startMeshcat(t, room)
		mc.waitJoined(ctx)
	}

	// The peer already in the room gets NewPeer and offers.
	wantRole := "answerer"
	if browserFirst {
		wantRole = "offerer"
	}
	conn := r.next(ctx, "connected")
	connected := time.Since(start)
	if conn.Peer != mc.id || conn.Role != wantRole {
		t.Fatalf("page connected to %s as %s, want to meshcat %s as %s", conn.Peer, conn.Role, mc.id, wantRole)
	}
	if !slices.EqualFunc(conn.Channels, matchboxChannels, sameChannel) {
		t.Fatalf("the page's channels are %s, want %s", jsonString(conn.Channels), jsonString(matchboxChannels))
	}

	res := r.next(ctx, "result")
	echoed := time.Since(start)
	if res.Bad != 0 {
		t.Errorf("%d echoes were corrupted or on the wrong channel", res.Bad)
	}
	checkReliable(t, "reliable echoes to the page", res.Reliable)
	checkUnreliable(t, "unreliable echoes to the page", res.Unreliable)
	// Our candidates reached the page trickled, double-encoded and
	// accepted, followed by the end-of-candidates "null".
	if res.Candidates == 0 || !res.EndOfCandidates {
		t.Errorf("page took %d trickled candidates from meshcat, end of candidates seen: %v; want some and the end", res.Candidates, res.EndOfCandidates)
	}

	// meshcat leaves: the page hears PeerLeft for it.
	mc.interrupt(ctx)
	if left := r.next(ctx, "peerleft"); left.Peer != mc.id {
		t.Errorf("PeerLeft for %s, want meshcat %s", left.Peer, mc.id)
	}
	// meshcat printed what it received, which is what it echoed. Its
	// output is complete now that it has exited.
	got := mc.received(browserID)
	checkReliable(t, "reliable packets meshcat printed", payloadIndexes(1, got[1]))
	checkUnreliable(t, "unreliable packets meshcat printed", payloadIndexes(0, got[0]))
	if !strings.Contains(mc.stderr.String(), browserID+" connected\n") {
		t.Errorf("meshcat did not report the page connected:\n%s", mc.stderr.String())
	}
	t.Logf("page (%s) got back %d/%d reliable and %d/%d unreliable packets; meshcat printed %d and %d; page took %d trickled candidates and gathered %d",
		conn.Role, len(res.Reliable), packets, len(res.Unreliable), packets, len(got[1]), len(got[0]), res.Candidates, res.Gathered)
	t.Logf("after starting Chromium: joined in %v, connected in %v, echoes back in %v",
		joined.Round(time.Millisecond), connected.Round(time.Millisecond), echoed.Round(time.Millisecond))

	// Warnings mean meshcat dropped something the browser sent.
	if strings.Contains(mc.stderr.String(), "level=WARN") || strings.Contains(mc.stderr.String(), "level=ERROR") {
		t.Errorf("meshcat logged problems:\n%s", mc.stderr.String())
	}
}

func sameChannel(a, b channel) bool {
	return a.Label == b.Label && a.ID == b.ID && a.Negotiated == b.Negotiated && a.Ordered == b.Ordered &&
		(a.MaxRetransmits == nil) == (b.MaxRetransmits == nil) && (a.MaxRetransmits == nil || *a.MaxRetransmits == *b.MaxRetransmits)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// checkUnreliable checks the indexes of packets that came over the
// unreliable channel (-1: not a packet the page sent): nothing unknown or
// duplicated, and most of them.
func checkUnreliable(t *testing.T, what string, got []int) {
	t.Helper()
	seen := make(map[int]bool)
	var unknown, dups int
	for _, i := range got {
		switch {
		case i < 0 || i >= packets:
			unknown++
		case seen[i]:
			dups++
		default:
			seen[i] = true
		}
	}
	if unknown > 0 || dups > 0 {
		t.Errorf("%s: %d unknown and %d duplicated packets", what, unknown, dups)
	}
	if float64(len(seen)) < minUnreliable*packets {
		t.Errorf("%s: %d of %d, want at least %.0f%%", what, len(seen), packets, minUnreliable*100)
	}
}

// checkReliable checks the indexes of packets that came over the reliable
// channel: all of them, in order.
func checkReliable(t *testing.T, what string, got []int) {
	t.Helper()
	for i, p := range got {
		if p != i {
			t.Errorf("%s: packet %d where %d was due (-1: not a packet the page sent)", what, p, i)
			return
		}
	}
	if len(got) != packets {
		t.Errorf("%s: %d of %d", what, len(got), packets)
	}
}

// payloadIndexes maps payloadIndex over texts that came on channel ch.
func payloadIndexes(ch int, texts []string) []int {
	indexes := make([]int, len(texts))
	for i, text := range texts {
		indexes[i] = payloadIndex(ch, text)
	}
	return indexes
}

// payload is packet i of channel ch, as page.js builds it.
func payload(ch, i int) string {
	head := fmt.Sprintf("rollbox c%d #%d ", ch, i)
	size := 16 + (i*37)%1100
	if ch == 1 && i%50 == 7 {
		size = 20000
	}
	return head + strings.Repeat("x", max(0, size-len(head)))
}

// payloadIndex returns the i for which text is payload(ch, i), or -1.
func payloadIndex(ch int, text string) int {
	var i int
	if _, err := fmt.Sscanf(text, "rollbox c"+strconv.Itoa(ch)+" #%d ", &i); err != nil || i < 0 || payload(ch, i) != text {
		return -1
	}
	return i
}

// reader takes the page's reports of one run, in order.
type reader struct {
	t      *testing.T
	events <-chan event
	run    string
}

// next returns the next report of type typ, logging the page's log lines on
// the way. Any other report, or an error from the page, fails the test.
func (r *reader) next(ctx context.Context, typ string) event {
	r.t.Helper()
	for {
		select {
		case <-ctx.Done():
			r.t.Fatalf("waiting for the page to report %q: %v", typ, ctx.Err())
		case ev := <-r.events:
			switch {
			case ev.Run != r.run:
				// From the page of an earlier scenario.
			case ev.Type == "log":
				r.t.Logf("page: %s", ev.Message)
			case ev.Type == "error":
				r.t.Fatalf("page failed: %s", ev.Message)
			case ev.Type != typ:
				r.t.Fatalf("page reported %q (%+v), want %q", ev.Type, ev, typ)
			default:
				return ev
			}
		}
	}
}

// meshcatProc is a running `meshcat -echo`.
type meshcatProc struct {
	t              *testing.T
	cmd            *exec.Cmd
	done           chan error
	stdout, stderr syncbuf.Buffer
	id             string
}

func (h *harness) startMeshcat(t *testing.T, room string) *meshcatProc {
	t.Helper()
	mc := &meshcatProc{t: t, done: make(chan error, 1)}
	mc.cmd = exec.Command(h.meshcat, "-server", h.signal, "-room", room, "-next", "2",
		"-echo", "-channels", "unreliable,reliable", "-loopback")
	mc.cmd.Stdout, mc.cmd.Stderr = &mc.stdout, &mc.stderr
	if err := mc.cmd.Start(); err != nil {
		t.Fatalf("starting meshcat: %v", err)
	}
	go func() { mc.done <- mc.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-mc.done:
		default:
			_ = mc.cmd.Process.Kill()
			<-mc.done
		}
		if t.Failed() {
			t.Logf("meshcat stderr:\n%s", mc.stderr.String())
		}
	})
	return mc
}

var joinedRE = regexp.MustCompile(`(?m)^joined \S+ as (\S+)$`)

// waitJoined waits until meshcat has its id from the signalling server.
func (mc *meshcatProc) waitJoined(ctx context.Context) {
	mc.t.Helper()
	for {
		if m := joinedRE.FindStringSubmatch(mc.stderr.String()); m != nil {
			mc.id = m[1]
			return
		}
		select {
		case err := <-mc.done:
			mc.t.Fatalf("meshcat exited before joining: %v\n%s", err, mc.stderr.String())
		case <-ctx.Done():
			mc.t.Fatalf("meshcat did not join: %v\n%s", ctx.Err(), mc.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// received returns the texts meshcat printed from peer, by channel.
func (mc *meshcatProc) received(peer string) [2][]string {
	var got [2][]string
	sc := bufio.NewScanner(strings.NewReader(mc.stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), peer+" ")
		if !ok {
			continue
		}
		ch, text, _ := strings.Cut(rest, " ")
		switch ch {
		case "0":
			got[0] = append(got[0], text)
		case "1":
			got[1] = append(got[1], text)
		}
	}
	return got
}

// interrupt stops meshcat as Ctrl-C would and expects a clean exit.
func (mc *meshcatProc) interrupt(ctx context.Context) {
	mc.t.Helper()
	if err := mc.cmd.Process.Signal(os.Interrupt); err != nil {
		mc.t.Fatalf("interrupting meshcat: %v", err)
	}
	select {
	case err := <-mc.done:
		mc.done <- err // for the cleanup
		if err != nil {
			mc.t.Errorf("meshcat exited with %v after an interrupt, want success", err)
		}
	case <-ctx.Done():
		mc.t.Fatalf("meshcat did not exit after an interrupt: %v", ctx.Err())
	}
}
