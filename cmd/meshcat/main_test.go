package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/internal/syncbuf"
	"github.com/rollbox/rollbox/packet"
	"github.com/rollbox/rollbox/packet/mocks"
	"github.com/rollbox/rollbox/signalserver"
	"github.com/rollbox/rollbox/signalserver/signaltest"
	"github.com/rollbox/rollbox/transport"
	"go.uber.org/goleak"
	"go.uber.org/mock/gomock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRelayPrintsAndEchoes(t *testing.T) {
	ctrl := gomock.NewController(t)
	sock := mocks.NewMockSocket[transport.PeerID](ctrl)
	sock.EXPECT().Receive().Return([]packet.Packet[transport.PeerID]{
		{From: "alice", Data: []byte("hi")},
		{From: "bob", Data: []byte("yo")},
	})
	gomock.InOrder(
		sock.EXPECT().Send(transport.PeerID("alice"), []byte("hi")).Return(nil),
		sock.EXPECT().Send(transport.PeerID("bob"), []byte("yo")).Return(transport.ErrUnknownPeer),
	)
	var out bytes.Buffer
	err := relay(sock, 1, &out, true)
	if got, want := out.String(), "alice 1 hi\nbob 1 yo\n"; got != want {
		t.Fatalf("printed %q, want %q", got, want)
	}
	if !errors.Is(err, transport.ErrUnknownPeer) || !strings.Contains(err.Error(), "bob") {
		t.Fatalf("relay error %v, want the failed echo to bob", err)
	}

	// Without -echo nothing is sent back: the mock fails on any Send.
	sock.EXPECT().Receive().Return([]packet.Packet[transport.PeerID]{{From: "carol", Data: []byte("x")}})
	out.Reset()
	if err := relay(sock, 0, &out, false); err != nil || out.String() != "carol 0 x\n" {
		t.Fatalf("relay without echo: %q, %v", out.String(), err)
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-room", "r", "-channels", "unreliable,bogus"},
		{"-room", "r", "-next", "-1"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted bad flags", args)
		}
	}
	o, err := parseFlags([]string{"-server", "ws://h:1/", "-room", "a b", "-next", "3", "-channels", "unreliable,reliable"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.roomURL(); got != "ws://h:1/a%20b?next=3" {
		t.Fatalf("room URL %q", got)
	}
	o.token = "eyJ.x-y_z"
	if got := o.roomURL(); got != "ws://h:1/a%20b?next=3&token=eyJ.x-y_z" {
		t.Fatalf("room URL with token %q", got)
	}
	if len(o.channels) != 2 || o.channels[1] != transport.Reliable() {
		t.Fatalf("channels %+v", o.channels)
	}
}

// meshcat -echo in a room with a test socket: packets are printed and come
// back on their channel, and stdin lines reach the peer on channel 0.
func TestMeshcatEchoesInARealRoom(t *testing.T) {
	server := signaltest.Start(t, signalserver.Config{}).URL()

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	stdin, stdinW := io.Pipe()
	var stdout, stderr syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"-server", server, "-room", "cat", "-next", "2", "-echo", "-channels", "unreliable,reliable", "-loopback"}, stdin, &stdout, &stderr)
	}()
	defer func() {
		stop()
		_ = stdinW.Close()
		if err := <-done; err != nil {
			t.Errorf("meshcat: %v", err)
		}
	}()

	sock, err := transport.Join(ctx, server+"/cat?next=2", transport.Config{
		Channels:     []transport.ChannelConfig{transport.Unreliable(), transport.Reliable()},
		LoopbackOnly: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sock.Close(context.Background()) }()
	peers, err := sock.WaitForPeers(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	cat := peers[0]

	if err := sock.Channel(1).Send(cat, []byte("ping")); err != nil {
		t.Fatal(err)
	}
	echoed := ""
	for echoed == "" {
		for _, p := range sock.Channel(1).Receive() {
			echoed = string(p.Data)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no echo; meshcat stderr:\n%s", stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if echoed != "ping" {
		t.Fatalf("echo %q, want ping", echoed)
	}
	if want := string(sock.ID()) + " 1 ping\n"; !strings.Contains(stdout.String(), want) {
		t.Fatalf("stdout %q lacks %q", stdout.String(), want)
	}
	if want := string(sock.ID()) + " connected"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr %q lacks %q", stderr.String(), want)
	}

	if _, err := io.WriteString(stdinW, "from stdin\n"); err != nil {
		t.Fatal(err)
	}
	line := ""
	for line == "" {
		for _, p := range sock.Receive() {
			if p.From == cat {
				line = string(p.Data)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("stdin line never arrived")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if line != "from stdin" {
		t.Fatalf("got %q from meshcat's stdin, want %q", line, "from stdin")
	}
}
