package main

import (
	"io"
	"testing"
)

// TestOptionsFromURL: the page's URL stands for the command line.
func TestOptionsFromURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want options
	}{
		{"http://example.org:3536/", options{server: "ws://example.org:3536", room: "boxgame", players: 2, inputDelay: 2, maxPrediction: 8}},
		{"https://example.org/my%20room?players=3&input-delay=1&max-prediction=4", options{server: "wss://example.org", room: "my room", players: 3, inputDelay: 1, maxPrediction: 4}},
		{"http://127.0.0.1:1/r?bot=1&seed=7&loopback&frames=600", options{server: "ws://127.0.0.1:1", room: "r", players: 2, inputDelay: 2, maxPrediction: 8, headless: true, seed: 7, loopback: true, frames: 600}},
		// A static host's own page, told where the server is.
		{"https://games.example/box/index.html?server=wss://sig.example&room=lobby", options{server: "wss://sig.example", room: "lobby", players: 2, inputDelay: 2, maxPrediction: 8}},
	} {
		got, err := optionsFromURL(tc.url, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		want := tc.want
		if want.seed == 0 {
			want.seed = 1
		}
		want.checkDistance, want.desyncAt = 7, -1
		if want.headless && want.frames == 0 {
			want.frames = 600
		}
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, got, want)
		}
	}
	for _, bad := range []string{"http://h/r?players=9", "http://h/r?nosuchflag=1", "http://h/r?frames=-1"} {
		if _, err := optionsFromURL(bad, io.Discard); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
