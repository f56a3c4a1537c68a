//go:build js

// Command wasmecho is the page side of TestWasmTransport: the transport's
// js/wasm build in Chromium. It joins the room named by the page's signal
// query parameter with an unreliable and a reliable channel, ICE servers
// from the signalling server, and echoes every packet back to its sender
// on the channel it came on, until a peer sends "close" on the reliable
// channel. It reports to the page's window.wasmecho: id, peers, connecting,
// connected (the PeerConnected events so far), the packets echoed on each
// channel (unreliable, reliable), malformed, closed and error.
package main

import (
	"context"
	"net/url"
	"strings"
	"syscall/js"
	"time"

	"github.com/rollbox/rollbox/transport"
)

func main() {
	page := js.Global().Get("wasmecho")
	if err := run(page); err != nil {
		page.Set("error", err.Error())
	}
}

func run(page js.Value) error {
	query, err := url.ParseQuery(strings.TrimPrefix(js.Global().Get("location").Get("search").String(), "?"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sock, err := transport.Join(ctx, query.Get("signal"), transport.Config{
		Channels:      []transport.ChannelConfig{transport.Unreliable(), transport.Reliable()},
		ICEFromServer: true,
	})
	if err != nil {
		return err
	}
	page.Set("id", string(sock.ID()))
	var echoed [2]int
	connected := 0
	for {
		select {
		case <-sock.Ready():
		case <-time.After(20 * time.Millisecond): // Connecting changes without a wake-up
		}
		for _, ev := range sock.PeerEvents() {
			if ev.State == transport.PeerConnected {
				connected++
			}
		}
		for i := range 2 {
			ch := sock.Channel(i)
			for _, p := range ch.Receive() {
				if i == 1 && string(p.Data) == "close" {
					closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if err := sock.Close(closeCtx); err != nil {
						return err
					}
					page.Set("closed", true)
					return nil
				}
				if err := ch.Send(p.From, p.Data); err != nil {
					return err
				}
				echoed[i]++
			}
		}
		page.Set("peers", len(sock.Peers()))
		page.Set("connecting", sock.Connecting())
		page.Set("connected", connected)
		page.Set("unreliable", echoed[0])
		page.Set("reliable", echoed[1])
		page.Set("malformed", sock.Stats().Malformed)
	}
}
