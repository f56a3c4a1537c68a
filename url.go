package rollbox

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// ArgsFromURL turns a web page's URL into the command line the native game
// takes, so that a browser build (GOOS=js) reads the same flags
// (RegisterFlags) from its page's address: each query parameter is the flag
// of the same name (?players=4&room=x; ?headless alone sets a boolean). The
// signalling server defaults to the page's own host (wss when the page came
// over https), as when the signalling server serves the page, and the room
// to the path's last segment, so that http://host:3536/myroom is a room's
// link.
func ArgsFromURL(pageURL string) ([]string, error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("rollbox: page URL: %w", err)
	}
	q := u.Query()
	var args []string
	if !q.Has("server") && u.Host != "" {
		scheme := "ws"
		if u.Scheme == "https" {
			scheme = "wss"
		}
		args = append(args, "-server="+scheme+"://"+u.Host)
	}
	if !q.Has("room") {
		// "/" and a static host's ".../index.html" name no room.
		path := u.EscapedPath()
		seg := path[strings.LastIndex(path, "/")+1:]
		if room, err := url.PathUnescape(seg); err == nil && room != "" && !strings.HasSuffix(room, ".html") {
			args = append(args, "-room="+room)
		}
	}
	// Sorted, so that a repeated flag's last value wins the same way each
	// time.
	for _, k := range slices.Sorted(maps.Keys(q)) {
		for _, v := range q[k] {
			if v == "" {
				args = append(args, "-"+k)
			} else {
				args = append(args, "-"+k+"="+v)
			}
		}
	}
	return args, nil
}
