//go:build !template

package main

import (
	"io"
	"testing"
)

// TestOptionsFromURL: the page's URL stands for the command line.
func TestOptionsFromURL(t *testing.T) {
	// The settings a URL may change, with the command line's defaults.
	type settings struct {
		server, room                       string
		players, inputDelay, maxPrediction int
		bot, loopback                      bool
		seed                               uint64
		frames, checkDistance, desyncAt    int
	}
	def := settings{players: 2, seed: 1, checkDistance: 7, desyncAt: -1}
	with := func(f func(*settings)) settings { s := def; f(&s); return s }
	for _, tc := range []struct {
		url  string
		want settings
	}{
		{"http://example.org:3536/", with(func(s *settings) { s.server, s.room = "ws://example.org:3536", "boxgame" })},
		{"https://example.org/my%20room?players=3&input-delay=1&max-prediction=4", with(func(s *settings) {
			s.server, s.room, s.players, s.inputDelay, s.maxPrediction = "wss://example.org", "my room", 3, 1, 4
		})},
		{"http://127.0.0.1:1/r?bot=1&seed=7&loopback&frames=600", with(func(s *settings) {
			s.server, s.room, s.bot, s.seed, s.loopback, s.frames = "ws://127.0.0.1:1", "r", true, 7, true, 600
		})},
		// A static host's own page, told where the server is.
		{"https://games.example/box/index.html?server=wss://sig.example&room=lobby", with(func(s *settings) {
			s.server, s.room = "wss://sig.example", "lobby"
		})},
	} {
		o, err := optionsFromURL(tc.url, io.Discard)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		c := o.cfg
		got := settings{c.Server, c.Room, c.Players, c.InputDelay, c.MaxPrediction, c.Bot, c.Loopback,
			c.Seed, c.Frames, c.CheckDistance, o.desyncAt}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, got, tc.want)
		}
	}
	for _, bad := range []string{"http://h/r?players=9", "http://h/r?nosuchflag=1", "http://h/r?frames=-1", "http://h/r?window-pos=1"} {
		if _, err := optionsFromURL(bad, io.Discard); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
