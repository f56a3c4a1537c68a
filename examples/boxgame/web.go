//go:build !template

package main

import (
	"io"

	"github.com/rollbox/rollbox"
)

// In a web browser (GOOS=js, see main_js.go) the page's URL stands for the
// command line: http://host:3536/myroom?players=3&input-delay=1 plays as
// `boxgame -server ws://host:3536 -room myroom -players 3 -input-delay 1`.
// The signalling server defaults to the page's own host, over wss when the
// page came over https, and the room to the last path segment, so a room's
// link is all two players need.

// optionsFromURL reads the options from a page URL (rollbox.ArgsFromURL):
// each query parameter is the flag of the same name, validated by parseFlags
// exactly as on the command line.
func optionsFromURL(pageURL string, stderr io.Writer) (options, error) {
	args, err := rollbox.ArgsFromURL(pageURL)
	if err != nil {
		return options{}, err
	}
	return parseFlags(args, stderr)
}
