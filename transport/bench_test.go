//go:build !js

package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// rawPair connects two plain pion PeerConnections on loopback, the way a
// program using pion directly would (OnMessage callbacks), with one
// negotiated unreliable channel each.
func rawPair(b *testing.B) (ping, echo *webrtc.DataChannel, cleanup func()) {
	var se webrtc.SettingEngine
	restrictToLoopback(&se)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))

	newPC := func() (*webrtc.PeerConnection, *webrtc.DataChannel) {
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		negotiated, id, ordered, zero := true, uint16(0), false, uint16(0)
		dc, err := pc.CreateDataChannel("matchbox_socket_0", &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id, Ordered: &ordered, MaxRetransmits: &zero})
		if err != nil {
			b.Fatal(err)
		}
		return pc, dc
	}
	pcA, dcA := newPC()
	pcB, dcB := newPC()
	opened := make(chan struct{}, 2)
	dcA.OnOpen(func() { opened <- struct{}{} })
	dcB.OnOpen(func() { opened <- struct{}{} })

	// Candidates ride inside the descriptions: wait for gathering to finish.
	offer, err := pcA.CreateOffer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pcA)
	if err := pcA.SetLocalDescription(offer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := pcB.SetRemoteDescription(*pcA.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	answer, err := pcB.CreateAnswer(nil)
	if err != nil {
		b.Fatal(err)
	}
	gathered = webrtc.GatheringCompletePromise(pcB)
	if err := pcB.SetLocalDescription(answer); err != nil {
		b.Fatal(err)
	}
	<-gathered
	if err := pcA.SetRemoteDescription(*pcB.LocalDescription()); err != nil {
		b.Fatal(err)
	}
	for range 2 {
		select {
		case <-opened:
		case <-time.After(10 * time.Second):
			b.Fatal("raw pion channels did not open")
		}
	}
	return dcA, dcB, func() {
		_ = pcA.Close()
		_ = pcB.Close()
	}
}

// BenchmarkRoundTrip measures one packet to a peer and back on an unreliable
// channel over loopback: through Socket (Send, Ready, Receive on both ends)
// and through a raw pion data channel (Send and OnMessage) in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{16, 512} {
		pkt := make([]byte, size)
		b.Run(fmt.Sprintf("socket/%dB", size), func(b *testing.B) {
			ts := startServer(b)
			cfg := testConfig(b)
			socks := joinMesh(b, ts, fmt.Sprint("bench", size), 2, cfg)
			ping, echo := socks[0], socks[1]
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-echo.Ready():
					}
					for _, p := range echo.Receive() {
						_ = echo.Send(p.From, p.Data)
					}
				}
			}()
			defer func() { close(stop); <-done }()
			b.ReportAllocs()
			b.SetBytes(int64(2 * size))
			for b.Loop() {
				if err := ping.Send(echo.ID(), pkt); err != nil {
					b.Fatal(err)
				}
				for len(ping.Receive()) == 0 {
					select {
					case <-ping.Ready():
					case <-time.After(5 * time.Second):
						b.Fatal("packet lost on loopback")
					}
				}
			}
		})
		b.Run(fmt.Sprintf("pion/%dB", size), func(b *testing.B) {
			ping, echo, cleanup := rawPair(b)
			defer cleanup()
			echo.OnMessage(func(m webrtc.DataChannelMessage) { _ = echo.Send(m.Data) })
			back := make(chan struct{}, 1)
			ping.OnMessage(func(webrtc.DataChannelMessage) { back <- struct{}{} })
			b.ReportAllocs()
			b.SetBytes(int64(2 * size))
			for b.Loop() {
				if err := ping.Send(pkt); err != nil {
					b.Fatal(err)
				}
				select {
				case <-back:
				case <-time.After(5 * time.Second):
					b.Fatal("packet lost on loopback")
				}
			}
		})
	}
}

// BenchmarkReceive measures draining a channel that holds 64 packets: the
// part of the receive path the socket owns, without pion.
func BenchmarkReceive(b *testing.B) {
	ch := &Channel{cfg: Unreliable()}
	ch.inbox = newTestInbox()
	pkt := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		for range 64 {
			ch.inbox.Push("peer", pkt)
		}
		if len(ch.Receive()) != 64 {
			b.Fatal("lost packets")
		}
	}
}
