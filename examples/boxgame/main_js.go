//go:build js

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall/js"

	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// main runs the game in the web page (web/index.html). The page's
// window.rollbox object is the bridge: status(phase, text) hears the
// progress, drawn(playing) each frame until the match is on screen, and
// finish(resultJSON, error) the end, with the same JSON that -headless
// prints. The page keeps them for people and test harnesses to read.
func main() {
	page := js.Global().Get("rollbox")
	res, err := runPage(page)
	var resJSON, errText any // null unless set
	if res.Frame > 0 || res.Desyncs > 0 {
		resJSON = res.JSON()
	}
	switch {
	case err != nil:
		errText = oneLine(err)
	case res.Desyncs > 0:
		errText = fmt.Sprintf("desync detected (%d)", res.Desyncs)
	}
	page.Call("finish", resJSON, errText)
}

func runPage(page js.Value) (result, error) {
	if page.Type() != js.TypeObject {
		return result{}, errors.New("window.rollbox is missing: load the game through its index.html")
	}
	o, err := optionsFromURL(js.Global().Get("location").Get("href").String(), os.Stderr)
	if err != nil {
		return result{}, err
	}
	if o.synctest {
		return runSyncTest(o)
	}
	g := &game{o: o, input: keyboardInput}
	if o.headless { // a bot plays, and the page still shows the game
		g.input = newBot(o.seed).input
	}
	input := g.input
	g.input = func() sim.Input {
		in := input()
		// What the local player holds and where the match is, for people
		// and tests to read.
		page.Set("input", int(in))
		page.Set("frame", int(g.nm.session.CurrentFrame()))
		page.Set("confirmed", int(g.nm.session.ConfirmedFrame()))
		return in
	}
	g.progress = func(p phase, text string) { page.Call("status", string(p), text) }
	playing := false
	g.drawn = func(now bool) {
		if !playing {
			playing = now
			page.Call("drawn", now)
		}
	}
	return playGame(context.Background(), g, os.Stderr)
}
