//go:build js && !template

package main

import (
	"context"
	"errors"
	"os"
	"syscall/js"

	"github.com/rollbox/rollbox"
	"github.com/rollbox/rollbox/ebitenrb"
	"github.com/rollbox/rollbox/examples/boxgame/sim"
)

// main runs the game in the web page (web/index.html). The page's
// window.rollbox object is the bridge: status(phase, text) hears the
// progress, drawn(playing) each frame until the match is on screen, and
// finish(resultJSON, error) the end, with the same JSON that -headless
// prints. The page keeps them for people and test harnesses to read, with
// input (what the local player holds), frame and confirmed.
func main() {
	page := js.Global().Get("rollbox")
	res, err := runPage(page)
	var resJSON, errText any // null unless set
	rep, reason := report(res, err)
	if rep != "" {
		resJSON = rep
	}
	if reason != "" {
		errText = reason
	}
	page.Call("finish", resJSON, errText)
}

func runPage(page js.Value) (rollbox.Result, error) {
	if page.Type() != js.TypeObject {
		return rollbox.Result{}, errors.New("window.rollbox is missing: load the game through its index.html")
	}
	o, err := optionsFromURL(js.Global().Get("location").Get("href").String(), os.Stderr)
	if err != nil {
		return rollbox.Result{}, err
	}
	if o.cfg.Headless && !o.cfg.SyncTest {
		// A page always shows the game: -headless there is -bot.
		o.cfg.Headless, o.cfg.Bot = false, true
		if o.cfg.Frames == 0 {
			o.cfg.Frames = 600
		}
	}
	var phase rollbox.Phase
	playing := false
	onUpdate := func(v rollbox.View) {
		// finish reports the end. PhaseRejoining comes after the end's
		// phases but is not one.
		if v.Phase != phase && v.Phase != rollbox.PhaseFinished && v.Phase != rollbox.PhaseFailed {
			phase = v.Phase
			page.Call("status", v.Phase.String(), v.Status)
		}
		page.Set("frame", int(v.Frame))
		page.Set("confirmed", int(v.Confirmed))
		if !playing {
			// A page reloaded mid-match asks to come back before it has a
			// match to show (no players yet): ebitenrb draws its progress.
			playing = v.Phase >= rollbox.PhasePlaying && len(v.Players) > 0
			page.Call("drawn", playing)
		}
	}
	return play(context.Background(), o, ebitenrb.Options{OnUpdate: onUpdate}, func(h rollbox.PlayerHandle) sim.Input {
		in := readKeys(h)
		page.Set("input", int(in)) // what the local player holds
		return in
	})
}
