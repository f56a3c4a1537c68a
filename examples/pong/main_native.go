//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/rollbox/rollbox"
)

// commandLine is the program's arguments.
func commandLine() []string { return os.Args[1:] }

// onUpdate: a window shows the match's progress itself.
func onUpdate() func(rollbox.View) { return nil }

// The exit codes: what the end-to-end tests and scripts check.
const (
	exitOK      = 0
	exitFailure = 1
	exitDesync  = 3
)

// exit prints the result as a line of JSON and exits: 0 when the match
// finished (or the window closed), 3 if the peers' states diverged, 1 if
// the match failed.
func exit(res rollbox.Result, err error) {
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "pong:", err)
		os.Exit(exitFailure)
	case res.Desyncs > 0:
		fmt.Fprintf(os.Stderr, "pong: desync detected (%d)\n", res.Desyncs)
		os.Exit(exitDesync)
	}
	os.Exit(exitOK)
}
