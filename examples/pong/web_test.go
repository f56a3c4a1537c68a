package main

import (
	"slices"
	"testing"
)

func TestArgsFromURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want []string
	}{
		{"http://host:3536/myroom?players=4&headless", []string{"-server=ws://host:3536", "-room=myroom", "-headless", "-players=4"}},
		{"https://example.org/games/index.html", []string{"-server=wss://example.org"}},
		{"https://example.org/a%20room?server=ws://other:1&room=r", []string{"-room=r", "-server=ws://other:1"}},
	} {
		got, err := argsFromURL(c.url)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, %v; want %q", c.url, got, err, c.want)
		}
	}
	if _, err := argsFromURL("http://host/%zz"); err == nil {
		t.Error("a malformed URL gave no error")
	}
}
