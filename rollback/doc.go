// Package rollback provides GGRS-style rollback networking sessions (P2P,
// sync test and spectator) over any unreliable datagram Socket. A user of
// GGRS 0.13 finds its concepts, defaults and request sequences here; the
// differences that remain are deliberate and listed below.
//
// # How a session works
//
// The game owns its state; the session owns time. Every tick the game polls
// the network (PollRemoteClients), hands the session its local input
// (AddLocalInput) and asks it to advance (AdvanceFrame), then carries out the
// requests it gets, in order:
//
//   - SaveState: store a copy of the state (and its checksum) in the cell;
//   - LoadState: go back to the state stored in the cell;
//   - AdvanceFrame: step the game one frame with the inputs given, every
//     player's, each marked Confirmed, Predicted or Disconnected.
//
// Prediction: a remote player's input for a frame the network has not yet
// delivered is predicted (by default, the last input received), so the game
// never waits for the network, up to Config.MaxPrediction frames ahead of the
// last frame every input is known for. Rollback: when a real input arrives
// that differs from its prediction, the next AdvanceFrame returns a LoadState
// of the last correct frame and an AdvanceFrame for every frame since, with
// the real inputs, before the new frame: the game re-simulates in one tick
// what it got wrong, so its step must be deterministic and cheap. Input delay
// (SetInputDelay) trades a few frames of latency for fewer rollbacks.
//
// Time sync: peers exchange how far ahead each runs; the one ahead gets
// EventWaitRecommendation (skip that many frames) so that neither side keeps
// predicting far into the other's future. Desync detection: with
// Config.DesyncDetectionInterval, peers exchange the checksum of every n-th
// confirmed frame and raise EventDesyncDetected when they differ (see below
// for state dumps). A SyncTestSession runs the same requests on one machine,
// rolling back every frame, to catch non-determinism before it reaches the
// network. The P2P example below plays two sessions over transport/simnet.
//
// # Desync detection and state dumps
//
// Desync detection (Config.DesyncDetectionInterval) reports the frame and
// both checksums. To learn what differed, install a state dump hook with
// P2PSession.SetStateDump: on a desync both peers exchange their dumps of the
// frame, and each game receives both views (EventDesyncDetected,
// EventDesyncDump). SyncTestSession.SetStateDump takes the same hook: a sync
// test failure (MismatchedChecksumError.Mismatches) then carries the dumps of
// the first and the resimulated state of every mismatched frame.
//
// # Player map
//
// Every peer of a match must hand out the handles the same way: handle h is
// the same player everywhere, local on its own peer and remote at that peer's
// address on every other. Derive the handles from something all peers share,
// e.g. the peer ids sorted; a handle fixed in code ("I am 0, the other is 1")
// gives every peer handle 0 and makes each play its own mirrored game.
//
// The handshake checks this. Each sync message carries the sender's player
// count, the handles it plays and the handles it has at the receiver (no
// addresses, which differ between peers); the receiver compares them with its
// own map. Checked between every two peers this is complete: when they agree
// pairwise, and every handle is someone's (NewP2PSession requires that), all
// hold the same map. A peer that disagrees gets no sync reply, so neither side
// starts: each raises EventPlayerMapMismatch naming the other, and its
// AdvanceFrame returns that *PlayerMapError (errors.Is ErrPlayerMapMismatch)
// instead of ErrNotSynchronized, before frame 0. A spectator and its host
// check the player count and that neither has the spectator play a handle.
//
// # Spectators joining a running match
//
// A spectator of Config.Players follows the match from frame 0. One that
// comes later joins with P2PSession.AddSpectator on its host, which returns
// the frame start from which the host sends it every player's confirmed
// input; the spectator runs NewSpectatorSessionAt(cfg, host, socket, start)
// and advances from start on. It never receives the frames before start:
// the game state at start reaches it by other means, which the caller
// provides (e.g. a reliable channel). This package says which state: between
// two AdvanceFrame calls the host's state at start is final, and it is the
// game's current state or the one it saved for start (see AddSpectator).
// From there the spectator agrees with the players on every frame, as one
// from frame 0 does.
//
// A late spectator starts behind: the state transfer and its handshake take
// time, during which the host queues its frames (up to 600, ten seconds at
// 60 fps, where a spectator from the start gets 128). It takes no more
// frames than its buffer holds (SpectatorBufferSize) and leaves the rest
// unacknowledged with the host, which resends them with every frame, so it
// never falls "too far behind"; with a CatchupSpeed above 1 it catches up.
// The handshake checks its player map as for any spectator. The start of the
// match does not wait for a spectator added before it.
//
// # Traffic
//
// In steady state a P2P session sends one datagram per remote peer per
// frame: the input packet, which also carries the acknowledgement of the
// peer's inputs and, every 200 ms, the quality report and the reply to the
// peer's. A peer that sends no input (waiting on the network, lockstep,
// spectators) sends them on their own after at most 50 ms. Without sparse
// saving a session saves a state only in the tick that advances it, so a game
// loop that ticks faster than frames advance saves once per frame.
//
// # Disconnects
//
// A peer is dropped when nothing arrives from it for
// Config.DisconnectTimeout, when the game calls DisconnectPlayer, or when
// another peer reports it and this session adopts the report. Every
// disconnect raises EventDisconnected on every peer of the match: Reason says
// why and Reporter names the peer that reported it. A session that drops a
// peer tells it at once (a disconnect notice), so the dropped peer leaves the
// dropper's match with EventDisconnected{Reason: DisconnectDroppedUs}
// instead of waiting for a timeout.
//
// Peers exchange their view of every player, so that all drop a player at the
// same frame (the earliest frame anyone received from it). In GGRS any peer's
// report is adopted, which lets one peer evict another silently. Here a
// report from peer R that player X is disconnected is adopted:
//
//   - at once, if this session no longer hears X either (nothing for
//     Config.DisconnectNotifyStart): X is gone;
//   - once X confirms that it lost R, or that R dropped it (its own reports
//     say R is disconnected): the link between R and X is broken and one of
//     them must go. If R reported first and X only learnt of it, X goes; if
//     each lost the other, every peer keeps the one with the lower handle,
//     so all agree;
//   - never, while X is still heard here and does not confirm: after one
//     second the report raises EventDisconnectDisputed (naming X and R)
//     once. Until then, frames after the reported frame do not count as
//     confirmed, so spectators and desync checks never see a frame that
//     adopting the report would change.
//
// Frames confirmed before any report arrived can still change when the
// agreed frame is earlier (a peer that lost X stalls, but the others may have
// confirmed a few frames with X's inputs meanwhile), as in GGRS: the saved
// states keep a second prediction window for that rollback.
//
// So a peer cannot evict a player that the others still hear by a report
// alone: it has to tell the player (which then confirms) or stop talking to
// it, and either way every peer's event names it as the reporter. A lying
// peer can still desync a match, as it can by sending different inputs to
// different peers; desync detection finds that. Spectators follow their
// host's view of the players and raise events only about the host.
//
// # Players who come back
//
// GGRS cannot take a dropped player back. Here every peer still playing
// calls P2PSession.Readmit with the player's new address and two frames
// agreed among them: from, a frame each of them confirmed, whose state the
// returning peer receives by other means, and at, a frame none of them
// confirmed, a second or so ahead. The player's input stays zero and
// Disconnected until at-1 and counts from at on: every peer steps the same
// frames the same way, before and after. Readmit returns the Resume the
// returning peer gives NewP2PSessionAt; its peers send it their inputs from
// from on, it catches up (FramesBehind), and its inputs reach them before
// they need them, so they do not wait. Until the returning peer's first
// input arrives it takes no part in time sync: it is far behind by design.
// A peer's reports about the player from before its return are ignored
// (they are news of its absence), so a peer that readmits a little later
// than another does not make the other drop the player again. Readmit
// checks the frames before changing anything; agreeing on them is the
// caller's protocol (package rollbox has one).
//
// # Differences from GGRS 0.13
//
// These are deliberate; everything else follows GGRS 0.13.
//
//	topic                    GGRS 0.13                                rollback
//	Synchronizing events     4 (counts 1..4 of 5), then Synchronized  5 (counts 1..5 of 5), then Synchronized:
//	                                                                  every completed round trip is reported
//	first-frame saves        frame 0 saved twice                      once
//	saves while waiting      the current frame is saved on every      only in the tick that advances it (one
//	                         advance_frame, also one that cannot      save per frame however often the game
//	                         advance                                  ticks; sparse saving unchanged)
//	lockstep                 advance_frame is "conservative": may     advances in the AdvanceFrame call whose
//	                         need input delay to cover polling        poll brings the last missing input (this
//	                         jitter; advance_frame_with_wait and      tick's local input included);
//	                         ..._timeout poll for a Duration          AdvanceFrameWait polls until a context ends
//	checksums                u128                                     uint64 (StateCell.Save)
//	NetworkStats             kbps_sent removed                        KbpsSent kept (GGPO has it), 28 bytes of
//	                                                                  IP/UDP header counted per datagram
//	acks, quality reports    datagrams of their own                   ride the input packet: one datagram per
//	                                                                  peer per frame in steady state
//	disconnect reports       any peer's report adopted, silently;     the rule above; events everywhere naming
//	                         dropped peer not told                    the reporter; dropped peer told at once
//	DisconnectPlayer         no event                                 EventDisconnected{Reason: DisconnectLocal}
//	wire format              bincode, no version                      ProtocolVersion byte; a peer on another
//	                                                                  version gets EventVersionMismatch
//	bounds                   none explicit                            MaxPlayers, MaxPrediction, MaxInputDelay,
//	                                                                  MaxInputSize, MaxFrameInputBytes, 1400-byte
//	                                                                  packets
//	state dumps              none (bevy_ggrs #117)                    SetStateDump on P2P and sync test sessions
//	player map               not checked: peers that assign handles   checked in the handshake (see "Player
//	                         differently play different games         map"): EventPlayerMapMismatch
//	spectators               fixed at the start, follow from frame 0  may join a running match (see
//	                                                                  "Spectators joining a running match")
//
// API names follow Go: SetInputDelay(handle, frames) is set_input_delay,
// SpectatorSession.CurrentFrame is current_frame (the last frame advanced,
// NullFrame before the first), P2PSession.CurrentFrame is current_frame (the
// frame the game is at, the next to advance).
package rollback
