//go:build js

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall/js"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
)

// In the browser (web/index.html) the page's URL stands for the command
// line, and the page's window.pong object hears the match: status(phase,
// text) at each change, and finish(resultJSON, error) at the end, with the
// JSON line that -headless prints natively.

// page is the page's window.pong.
func page() js.Value { return js.Global().Get("pong") }

// commandLine is the page URL's options as flags.
func commandLine() []string {
	args, err := rollbox.ArgsFromURL(js.Global().Get("location").Get("href").String())
	if err != nil {
		exit(rollbox.Result{}, fmt.Errorf("page URL: %w", err))
	}
	return args
}

// options tell the page each change of the match's phase or status line.
func options() ebitenrb.Options {
	var phase rollbox.Phase
	var status string
	return ebitenrb.Options{OnUpdate: func(v rollbox.View) {
		if v.Phase != phase || v.Status != status {
			phase, status = v.Phase, v.Status
			page().Call("status", phase.String(), status)
		}
	}}
}

// exit hands the result to the page and ends the program.
func exit(res rollbox.Result, err error) {
	line, _ := json.Marshal(res)
	var errText any // null unless set
	switch {
	case err != nil:
		errText = err.Error()
	case res.Desyncs > 0:
		errText = fmt.Sprintf("desync detected (%d)", res.Desyncs)
	}
	page().Call("finish", string(line), errText)
	os.Exit(0)
}
