//go:build !template

package main

import (
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// In a web browser (GOOS=js, see main_js.go) the page's URL stands for the
// command line: http://host:3536/myroom?players=3&input-delay=1 plays as
// `boxgame -server ws://host:3536 -room myroom -players 3 -input-delay 1`.
// The signalling server defaults to the page's own host, over wss when the
// page came over https, and the room to the last path segment, so a room's
// link is all two players need.

// optionsFromURL reads the options from a page URL: each query parameter is
// the flag of the same name ("bot" is short for "headless": a bot plays,
// and the page still shows the game), validated by parseFlags exactly as on
// the command line.
func optionsFromURL(pageURL string, stderr io.Writer) (options, error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return options{}, fmt.Errorf("page URL: %w", err)
	}
	q := u.Query()
	var args []string
	if !q.Has("server") {
		scheme := "ws"
		if u.Scheme == "https" {
			scheme = "wss"
		}
		args = append(args, "-server="+scheme+"://"+u.Host)
	}
	if !q.Has("room") {
		// "/" and a static host's ".../index.html" name no room: the flag's
		// default applies.
		seg := u.EscapedPath()[strings.LastIndex(u.EscapedPath(), "/")+1:]
		if room, err := url.PathUnescape(seg); err == nil && room != "" && !strings.HasSuffix(room, ".html") {
			args = append(args, "-room="+room)
		}
	}
	// In a fixed order, so that a repeated flag's last value wins the
	// same way each time.
	for _, k := range slices.Sorted(maps.Keys(q)) {
		name := k
		if name == "bot" {
			name = "headless"
		}
		for _, v := range q[k] {
			if v == "" { // ?loopback alone sets a boolean flag
				args = append(args, "-"+name)
			} else {
				args = append(args, "-"+name+"="+v)
			}
		}
	}
	return parseFlags(args, stderr)
}
