//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
)

// commandLine is the program's arguments.
func commandLine() []string { return os.Args[1:] }

// options are the window's.
func options() ebitenrb.Options { return ebitenrb.Options{Title: "rollbox pong"} }

// exit prints the result as a line of JSON and exits: 0 when the match
// finished (or the window closed), 1 if it failed, 3 if the peers' states
// diverged. Tests and scripts read both.
func exit(res rollbox.Result, err error) {
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if err != nil {
		log.Fatal("pong: ", err) // exit status 1
	}
	if res.Desyncs > 0 {
		os.Exit(3) // rollbox logged the desync, with the states' differences
	}
}
