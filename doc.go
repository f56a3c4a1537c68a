// Package rollbox puts a Go game online: peer to peer, with rollback
// netcode, through a matchbox-compatible signalling server.
//
// A game gives rollbox its state, a value whose pointer has a deterministic
// Step over one frame's inputs (see Game), and a function that reads the
// local player's input. rollbox does the rest: it joins a room on the
// signalling server, waits for the players, connects to each over WebRTC,
// hands out the player handles so that every peer agrees, and then, once per
// tick, exchanges inputs, predicts the missing ones, saves and loads the
// state to roll back wrong predictions, keeps the peers in time, and
// compares checksums to detect desyncs. Saving, loading, checksums and the
// input's wire format are automatic for plain values.
//
// Match is the engine-agnostic layer: call its Update once per tick and draw
// the state. Package ebitenrb is the Ebiten adapter: a game gives it Step,
// Draw and Layout. Simulate plays a whole match in-process over a simulated
// network in virtual time: the test that proves a game plays online.
// Config.Record writes a replay of a match, which Replayer plays back and
// checks frame by frame: a desync seen in the field, reproduced on a desk.
// A player whose program crashed or whose network went comes back to its
// running match as the same player (see Config.RejoinDir), and a spectator
// can join a match already playing (Config.Watch).
//
// Below rollbox: package rollback (GGRS-style sessions over any datagram
// socket), transport (the WebRTC mesh; transport/simnet, a simulated
// network) and signalserver (the signalling server). A game that needs
// what this package does not offer can use them directly.
package rollbox
