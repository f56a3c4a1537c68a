package rollback

import (
	"slices"
	"time"
)

// maxLocalChecksums bounds the local checksums kept for desync comparison.
const maxLocalChecksums = 32

// peer is one remote address of a P2P session and how its inputs arrive.
type peer[A comparable] struct {
	ep        *endpoint[A]
	sink      inputSink
	spectator bool
	dumps     peerDumps
	// disputed has bit h set once this peer's report that player h
	// disconnected was disputed (EventDisconnectDisputed), so it is
	// reported once.
	disputed uint64
	// contestedSince is when a report that this peer disconnected was
	// first left unconfirmed (negative: none now); it is disputed after
	// disputeGrace.
	contestedSince time.Duration
	// holding: a report that this peer disconnected after holdFrame awaits
	// its confirmation, so no later frame counts as confirmed: were it
	// adopted, those frames would change.
	holding   bool
	holdFrame Frame
	// addedLater: a spectator added by AddSpectator, which the start of
	// the match does not wait for.
	addedLater bool
}

// disputeGrace is how long a report about a player this session still hears
// may wait for the player's confirmation before it is disputed: a true report
// is confirmed within a notice's round trip (the reporter tells the player,
// the player's next packets say so), so only reports still unconfirmed after
// this raise EventDisconnectDisputed.
const disputeGrace = time.Second

// P2PSession is the game session: it exchanges inputs with every remote peer,
// predicts missing inputs, rolls back when a prediction was wrong, keeps the
// peers in time, sends confirmed inputs to spectators and detects desyncs.
//
// Drive it once per tick: AddLocalInput for every local player, then
// AdvanceFrame, then carry out the returned requests in order. Call
// PollRemoteClients between ticks if the game does not tick for a while. A
// session is not safe for concurrent use and starts no goroutines.
type P2PSession[S any, I comparable, A comparable] struct {
	numPlayers    int
	maxPrediction int
	sparseSaving  bool
	desyncEvery   int
	codec         InputCodec[I]
	inputSize     int
	clock         sessionClock
	socket        Socket[A]

	sync  *syncLayer[S, I]
	state SessionState
	// localStatus is this session's view of every player.
	localStatus []connectionStatus

	// players is who plays where: kinds, local handles, and the remote
	// peers and spectators with their endpoints.
	players playerRegistry[A]

	localInputs []I
	localSet    []bool
	frameBytes  []byte // one frame of local inputs, encoded
	// sentHistory holds the last lateSpectatorBacklog frames of local
	// inputs sent (frame f in slot f % lateSpectatorBacklog, each
	// len(frameBytes)): a player coming back receives them from the frame
	// of its state on (Readmit), which may be long confirmed here.
	sentHistory []byte
	specBytes   []byte // one frame of every player's inputs, encoded
	specInputs  []PlayerInput[I]
	decoded     []I

	disconnectFrame      Frame
	localSentFrame       Frame // the newest frame of local input sent
	nextSpectatorFrame   Frame
	nextRecommendedSleep Frame
	framesAhead          int

	lastSentChecksumFrame Frame
	localChecksums        [maxLocalChecksums]remoteChecksum
	localChecksumNext     int

	// stateDump and dumps: see SetStateDump; both nil without a hook.
	stateDump func(dst []byte, frame Frame, state S) []byte
	dumps     []localDump

	events eventQueue[A]
	buf    requestBuffer[S, I]
	msg    message
	// mapErr is the first peer's player map that differed from ours: the
	// session cannot start, and AdvanceFrame says why.
	mapErr *PlayerMapError[A]
	// floor is per player the last frame before it came back (Readmit,
	// NewP2PSessionAt), NullFrame if it never left; every endpoint shares
	// it (endpoint.floor).
	floor []Frame
	// readmits counts Readmit calls, to give each new endpoint a seed of
	// its own.
	readmits int
	// resumed: made by NewP2PSessionAt; resumeFailed: a peer never
	// completed its handshake, and the session never starts
	// (ErrResumeFailed).
	resumed, resumeFailed bool
	// waitTimer paces AdvanceFrameWait's polls; nil until its first wait.
	waitTimer *time.Timer
	// newPeerEndpoint builds the endpoint of a peer as NewP2PSession built
	// those of cfg.Players; AddSpectator builds later spectators' with it.
	// pendingFrames bounds its queue of unacknowledged frames (0: the
	// default).
	newPeerEndpoint func(addr A, handles []PlayerHandle, spectator bool, index, pendingFrames int) *endpoint[A]
}

// NewP2PSession validates cfg and returns a session that talks to the remote
// players and spectators of cfg.Players over socket, starting the handshake
// with each. S is the game state type; the session hands out cells that hold
// it.
func NewP2PSession[S any, I comparable, A comparable](cfg Config[I, A], socket Socket[A]) (*P2PSession[S, I, A], error) {
	return newP2PSession[S](cfg, socket, nil)
}

// newP2PSession is NewP2PSession, or NewP2PSessionAt with resume.
func newP2PSession[S any, I comparable, A comparable](cfg Config[I, A], socket Socket[A], resume *Resume) (*P2PSession[S, I, A], error) {
	if err := cfg.validateP2P(); err != nil {
		return nil, err
	}
	if socket == nil {
		return nil, invalidf("socket is nil")
	}
	size := cfg.InputCodec.Size()
	s := &P2PSession[S, I, A]{
		numPlayers:            cfg.NumPlayers,
		maxPrediction:         cfg.MaxPrediction,
		sparseSaving:          cfg.SparseSaving,
		desyncEvery:           cfg.DesyncDetectionInterval,
		codec:                 cfg.InputCodec,
		inputSize:             size,
		clock:                 newSessionClock(cfg.clock()),
		socket:                socket,
		sync:                  newSyncLayer[S](cfg.NumPlayers, cfg.MaxPrediction, cfg.predictor()),
		state:                 Synchronizing,
		localStatus:           make([]connectionStatus, cfg.NumPlayers),
		localInputs:           make([]I, cfg.NumPlayers),
		localSet:              make([]bool, cfg.NumPlayers),
		specBytes:             make([]byte, cfg.NumPlayers*size),
		specInputs:            make([]PlayerInput[I], cfg.NumPlayers),
		decoded:               make([]I, cfg.NumPlayers),
		disconnectFrame:       NullFrame,
		localSentFrame:        NullFrame,
		lastSentChecksumFrame: NullFrame,
		events:                newEventQueue[A](),
		floor:                 make([]Frame, cfg.NumPlayers),
		// A rollback resimulates at most the saved-state ring, plus the
		// frame of this tick.
		buf: newRequestBuffer[S, I](cfg.NumPlayers, cfg.MaxPrediction+3),
	}
	seed := seedFrom(cfg.Seed, s.clock)
	local := cfg.sortedHandles(Local)
	numLocal := len(local)
	s.newPeerEndpoint = func(addr A, handles []PlayerHandle, spectator bool, i, pendingFrames int) *endpoint[A] {
		ec := cfg.endpointConfig(addr, handles, endpointSeed(seed, i))
		ec.pendingFrames = pendingFrames
		ec.floor = s.floor
		ec.sendFrameBytes, ec.recvFrameBytes = numLocal*size, len(handles)*size
		ec.local = local
		if spectator {
			ec.role = roleSpectator
			// The host sends every player's confirmed input and
			// receives none.
			ec.sendFrameBytes, ec.recvFrameBytes = cfg.NumPlayers*size, 0
		}
		return newEndpoint(ec)
	}
	s.players = newPlayerRegistry(cfg.Players, func(addr A, handles []PlayerHandle, spectator bool, i int) *endpoint[A] {
		return s.newPeerEndpoint(addr, handles, spectator, i, 0)
	})
	s.frameBytes = make([]byte, len(s.players.localHandles)*size)
	s.sentHistory = make([]byte, lateSpectatorBacklog*len(s.frameBytes))
	for i := range s.localStatus {
		s.localStatus[i].lastFrame = NullFrame
	}
	for i := range s.floor {
		s.floor[i] = NullFrame
	}
	for _, h := range s.players.localHandles {
		s.sync.setFrameDelay(h, cfg.InputDelay)
	}
	if resume != nil {
		if err := s.resumeAt(*resume); err != nil {
			return nil, err
		}
	}
	now := s.clock.since()
	for _, pr := range s.players.peers {
		pr.sink = s.remoteInputSink(pr)
		if pr.ep.state == 0 { // resumeAt leaves players gone for good shut down
			pr.ep.synchronize(socket, now)
			if resume != nil {
				pr.ep.syncDeadline = now + readmitSyncTimeout
			}
		}
	}
	s.resumed = resume != nil
	if len(s.players.peers) == 0 {
		s.state = Running
	}
	return s, nil
}

func (s *P2PSession[S, I, A]) remoteInputSink(pr *peer[A]) inputSink {
	if pr.spectator {
		return func(Frame, []byte) bool { return false }
	}
	return func(f Frame, data []byte) bool { return s.addRemoteInput(pr.ep, f, data) }
}

// addRemoteInput takes one frame of a peer's inputs, all or nothing.
func (s *P2PSession[S, I, A]) addRemoteInput(ep *endpoint[A], f Frame, data []byte) bool {
	for i, h := range ep.handles {
		st := s.localStatus[h]
		if st.disconnected {
			continue
		}
		if st.lastFrame == NullFrame {
			// The first input of a peer is its frame 0.
			if f != 0 {
				return false
			}
		} else if f != st.lastFrame+1 {
			return false
		}
		if !s.sync.queues[h].canHold(f) {
			return false
		}
		in, err := s.codec.Decode(data[i*s.inputSize : (i+1)*s.inputSize])
		if err != nil {
			return false
		}
		s.decoded[i] = in
	}
	for i, h := range ep.handles {
		if s.localStatus[h].disconnected {
			continue
		}
		s.sync.addRemoteInput(h, f, s.decoded[i])
		s.localStatus[h].lastFrame = f
	}
	return true
}

// AddLocalInput sets the input of local player h for the current frame.
// Calling it again before AdvanceFrame replaces the input. If AdvanceFrame
// could not advance (prediction window full, or lockstep waiting), the input
// already given for that frame stands and later ones are ignored until the
// frame advances.
func (s *P2PSession[S, I, A]) AddLocalInput(h PlayerHandle, in I) error {
	if !s.players.isLocal(h) {
		return invalidf("player handle %d is not a local player", h)
	}
	s.localInputs[h] = in
	s.localSet[h] = true
	return nil
}

// AdvanceFrame polls the network, rolls back if a prediction was wrong, and
// returns the requests for this tick, e.g. [Save(c), Advance] or
// [Load(f), Advance, (Save, Advance)..., Save(c), Advance]. If the session is
// too far ahead of its peers (MaxPrediction frames unconfirmed, or in
// lockstep any unconfirmed input) the requests contain no Advance: the game
// simply does not advance this tick. The requests are valid until the next
// call.
//
// Errors: ErrNotSynchronized before the handshake with every peer is done;
// ErrInvalidRequest if a local player's input is missing.
func (s *P2PSession[S, I, A]) AdvanceFrame() ([]Request[S, I], error) {
	s.PollRemoteClients()
	if s.state != Running {
		if s.mapErr != nil {
			return nil, s.mapErr
		}
		if s.resumeFailed {
			return nil, ErrResumeFailed
		}
		return nil, ErrNotSynchronized
	}
	for _, h := range s.players.localHandles {
		if !s.localSet[h] {
			return nil, invalidf("missing local input for player %d while calling AdvanceFrame", h)
		}
	}
	now := s.clock.since()
	s.buf.reset()
	if s.maxPrediction == 0 {
		s.advanceLockstep(now)
	} else {
		s.advanceRollback(now)
	}
	return s.buf.requests, nil
}

// advanceLockstep is AdvanceFrame in lockstep (MaxPrediction 0): it never
// predicts, so it never rolls back, saves or checks checksums (the
// configuration allows no desync detection and no sparse saving here), and
// advances once every input of the current frame is known.
func (s *P2PSession[S, I, A]) advanceLockstep(now time.Duration) {
	s.updatePlayerDisconnects(now)
	// Nothing was predicted, so nothing needs correcting; the disconnect
	// flags alone give the right inputs.
	s.disconnectFrame = NullFrame
	s.exchangeInputs(s.confirmedFrame(), now)
	// Include this tick's local input: advance as soon as every input of
	// the current frame is known.
	confirmed := s.confirmedFrame()
	s.sync.setLastConfirmedFrame(confirmed, false)
	if confirmed >= s.sync.currentFrame {
		s.advanceCurrentFrame()
	}
}

// advanceRollback is AdvanceFrame with a prediction window: it compares
// checksums, rolls back to the first wrong prediction, and advances unless
// MaxPrediction frames are unconfirmed.
func (s *P2PSession[S, I, A]) advanceRollback(now time.Duration) {
	// Checksums are read before this tick's rollback can re-save the
	// frames: only frames confirmed in earlier ticks have final states.
	if s.desyncEvery > 0 {
		s.sendChecksums(now)
		s.compareChecksums(now)
	}
	s.updatePlayerDisconnects(now)
	confirmed := s.confirmedFrame()
	if s.sparseSaving && s.sync.lastSavedFrame == NullFrame {
		s.buf.save(s.sync.saveCurrentState())
	}
	if first := s.sync.firstIncorrectFrame(s.disconnectFrame); first != NullFrame {
		s.adjustGamestate(first, confirmed)
		s.disconnectFrame = NullFrame
	}
	if s.sparseSaving {
		s.checkLastSavedState(confirmed)
	}
	s.exchangeInputs(confirmed, now)

	ahead := s.sync.currentFrame - s.sync.lastConfirmedFrame
	if s.sync.lastConfirmedFrame == NullFrame {
		ahead = s.sync.currentFrame
	}
	if int(ahead) >= s.maxPrediction {
		return
	}
	// Without sparse saving the current frame is saved only when it
	// advances: a tick that waits leaves the state as it is, and the save
	// of the tick that advances stores the same state. Nothing reads the
	// current frame's cell before then: rollbacks load earlier frames, and
	// checksums are read from frames saved and confirmed.
	if !s.sparseSaving {
		s.buf.save(s.sync.saveCurrentState())
	}
	s.advanceCurrentFrame()
}

// exchangeInputs is the part of a tick both modes share once the inputs up
// to confirmed are final: spectators get the newly confirmed frames, the
// peers this tick's local inputs.
func (s *P2PSession[S, I, A]) exchangeInputs(confirmed Frame, now time.Duration) {
	s.sendToSpectators(confirmed, now)
	s.sync.setLastConfirmedFrame(confirmed, s.sparseSaving)
	s.checkWaitRecommendation()
	s.addLocalInputs(now)
}

// advanceCurrentFrame asks the game to advance the current frame with the
// inputs known or predicted now, and starts collecting the next frame's
// local inputs.
func (s *P2PSession[S, I, A]) advanceCurrentFrame() {
	inputs := s.buf.nextInputs()
	s.sync.synchronizedInputs(inputs, s.localStatus)
	s.buf.advance(s.sync.currentFrame, inputs)
	s.sync.currentFrame++
	clear(s.localSet)
}

// addLocalInputs puts this tick's local inputs into the queues and sends
// every frame that every local player's input has reached: more than one if
// an input delay grew, none while a player with a longer delay than another
// has not reached the frame yet (input delay is per player).
func (s *P2PSession[S, I, A]) addLocalInputs(now time.Duration) {
	if len(s.players.localHandles) == 0 {
		return
	}
	ready := Frame(1<<31 - 1)
	for _, h := range s.players.localHandles {
		if f0, f1 := s.sync.addLocalInput(h, s.localInputs[h]); f0 != NullFrame {
			s.localStatus[h].lastFrame = f1
		}
		ready = min(ready, s.localStatus[h].lastFrame)
	}
	for f := s.localSentFrame + 1; f <= ready; f++ {
		s.localSentFrame = f
		for i, h := range s.players.localHandles {
			in, _ := s.sync.queues[h].confirmedInput(f)
			s.codec.Encode(s.frameBytes[i*s.inputSize:(i+1)*s.inputSize], in)
		}
		copy(s.sentFrame(f), s.frameBytes)
		for _, pr := range s.players.remotes {
			pr.ep.sendInput(f, s.frameBytes, s.localStatus, s.socket, now)
		}
	}
}

// PollRemoteClients receives and handles every packet, runs the protocol
// timers and sends what is due. AdvanceFrame calls it; call it yourself while
// the session synchronizes or the game pauses.
func (s *P2PSession[S, I, A]) PollRemoteClients() {
	now := s.clock.since()
	for _, p := range s.socket.Receive() {
		pr, ok := s.players.peerAt(p.From)
		if !ok {
			continue
		}
		err := decodeMessage(p.Data, &s.msg)
		switch err {
		case errVersion:
			pr.ep.versionMismatch(s.msg.version)
		case nil:
			pr.ep.handle(&s.msg, s.socket, now, pr.sink)
		}
		s.handleEndpointEvents(pr, now)
	}
	for _, pr := range s.players.remotes {
		if pr.ep.isRunning() {
			pr.ep.updateLocalFrameAdvantage(s.sync.currentFrame)
		}
	}
	for _, pr := range s.players.peers {
		pr.ep.poll(s.localStatus, s.socket, now)
		s.handleEndpointEvents(pr, now)
	}
}

func (s *P2PSession[S, I, A]) handleEndpointEvents(pr *peer[A], now time.Duration) {
	ep := pr.ep
	for _, ev := range ep.events {
		switch ev.kind {
		case epSynchronizing:
			s.events.push(Event[A]{Kind: EventSynchronizing, Addr: ep.addr, Count: ev.count, Total: numSyncRoundTrips})
		case epSynchronized:
			s.checkInitialSync()
			s.events.push(Event[A]{Kind: EventSynchronized, Addr: ep.addr})
		case epInterrupted:
			s.events.push(Event[A]{Kind: EventNetworkInterrupted, Addr: ep.addr, DisconnectTimeout: ev.timeLeft})
		case epResumed:
			s.events.push(Event[A]{Kind: EventNetworkResumed, Addr: ep.addr})
		case epDisconnected:
			if s.resumed && s.state == Synchronizing {
				// Dropping it would start the session with a player
				// whose inputs since From it never had: fail instead.
				s.resumeFailed = true
				ep.disconnect(s.socket, now)
				s.events.push(Event[A]{Kind: EventDisconnected, Addr: ep.addr, Reason: DisconnectTimeout})
				continue
			}
			s.dropPeer(pr, now, DisconnectTimeout, ep.addr)
		case epDroppedUs:
			s.dropPeer(pr, now, DisconnectDroppedUs, ep.addr)
		case epVersionMismatch:
			s.events.push(Event[A]{Kind: EventVersionMismatch, Addr: ep.addr, RemoteVersion: ev.remoteVersion})
		case epPlayerMapMismatch:
			if s.mapErr == nil {
				s.mapErr = ep.mapErr
			}
			s.events.push(Event[A]{Kind: EventPlayerMapMismatch, Addr: ep.addr, PlayerMap: ep.mapErr})
		case epDumpReceived:
			s.remoteDumpArrived(pr)
		}
	}
	ep.events = ep.events[:0]
}

// DisconnectPlayer disconnects remote player h and every player sharing its
// address, or spectator h. The others keep playing; the disconnected players'
// inputs become zero with status Disconnected from the frame after their last
// received input.
func (s *P2PSession[S, I, A]) DisconnectPlayer(h PlayerHandle) error {
	kind, ok := s.players.kind(h)
	switch {
	case !ok:
		return invalidf("invalid player handle %d", h)
	case kind == Local:
		return invalidf("local player %d cannot be disconnected", h)
	case kind == Spectator:
		pr, _ := s.players.peerOf(h)
		if pr.ep.state == stateDisconnected || pr.ep.state == stateShutdown {
			return invalidf("spectator %d already disconnected", h)
		}
		s.dropPeer(pr, s.clock.since(), DisconnectLocal, pr.ep.addr)
		return nil
	}
	if s.localStatus[h].disconnected {
		return invalidf("player %d already disconnected", h)
	}
	pr, _ := s.players.peerOf(h)
	s.dropPeer(pr, s.clock.since(), DisconnectLocal, pr.ep.addr)
	return nil
}

// dropPeer disconnects the peer (a remote peer's players after the last
// frame received from them), tells it so, and raises EventDisconnected,
// unless it is disconnected already. reporter matters for
// DisconnectReported and DisconnectDroppedUs only.
func (s *P2PSession[S, I, A]) dropPeer(pr *peer[A], now time.Duration, reason DisconnectReason, reporter A) {
	ev := Event[A]{Kind: EventDisconnected, Addr: pr.ep.addr, Reason: reason}
	if reason == DisconnectReported || reason == DisconnectDroppedUs {
		ev.Reporter = reporter
	}
	if pr.spectator {
		if pr.ep.state == stateDisconnected || pr.ep.state == stateShutdown {
			return
		}
		pr.ep.disconnect(s.socket, now)
		s.checkInitialSync()
		s.events.push(ev)
		return
	}
	if s.localStatus[pr.ep.handles[0]].disconnected {
		return
	}
	s.disconnectPlayerAtFrame(pr, s.peerLastFrame(pr), now)
	if reason == DisconnectDroppedUs {
		for _, h := range pr.ep.handles {
			s.localStatus[h].droppedUs = true
		}
	}
	s.events.push(ev)
}

// peerLastFrame is the earliest last frame of a peer's players this session
// received.
func (s *P2PSession[S, I, A]) peerLastFrame(pr *peer[A]) Frame {
	last := s.localStatus[pr.ep.handles[0]].lastFrame
	for _, h := range pr.ep.handles[1:] {
		last = min(last, s.localStatus[h].lastFrame)
	}
	return last
}

// disconnectPlayerAtFrame marks the peer's players disconnected after frame
// last and schedules the rollback that replaces their later inputs.
func (s *P2PSession[S, I, A]) disconnectPlayerAtFrame(pr *peer[A], last Frame, now time.Duration) {
	for _, h := range pr.ep.handles {
		st := &s.localStatus[h]
		st.disconnected = true
		// Every peer must drop the player at the same frame; taking the
		// earliest reported one makes all peers agree.
		if last < st.lastFrame {
			st.lastFrame = last
		}
	}
	pr.ep.disconnect(s.socket, now)
	if s.sync.currentFrame > last {
		if df := last + 1; s.disconnectFrame == NullFrame || df < s.disconnectFrame {
			s.disconnectFrame = df
		}
	}
	s.checkInitialSync()
}

// updatePlayerDisconnects adopts disconnects other peers saw: in a mesh a
// player may drop for some peers first. The earliest frame anyone reports
// wins, so every peer resimulates the same frames without the player. A
// report is adopted by the rule in "Disconnects" (package documentation):
// at once if this session no longer hears the player either; else only if
// the player confirms it lost the reporter (or was dropped by it); else it
// is disputed and not adopted.
func (s *P2PSession[S, I, A]) updatePlayerDisconnects(now time.Duration) {
	// Decide about every peer first, then drop: a dropped peer's reports
	// stop counting, which must not change the other decisions of this
	// tick (the two ends of a broken link are judged together).
	var drop, reporters [MaxPlayers]int
	n := 0
	for xi, x := range s.players.remotes {
		hx := x.ep.handles[0]
		last := s.earliestReportedFrame(x)
		if s.localStatus[hx].disconnected {
			if last < s.peerLastFrame(x) {
				s.disconnectPlayerAtFrame(x, last, now)
			}
			continue
		}
		if ri := s.adoptedReporter(x, now); ri >= 0 {
			drop[n], reporters[n] = xi, ri
			n++
		}
	}
	for i := range n {
		x, r := s.players.remotes[drop[i]], s.players.remotes[reporters[i]]
		// Take the earliest frame anyone reported, read before the drop.
		last := s.earliestReportedFrame(x)
		s.dropPeer(x, now, DisconnectReported, r.ep.addr)
		if last < s.peerLastFrame(x) {
			s.disconnectPlayerAtFrame(x, last, now)
		}
	}
}

// earliestReportedFrame is the earliest last frame of x's players that this
// session or any running remote peer has.
func (s *P2PSession[S, I, A]) earliestReportedFrame(x *peer[A]) Frame {
	last := s.peerLastFrame(x)
	for _, r := range s.players.remotes {
		if !r.ep.isRunning() {
			continue
		}
		for _, h := range x.ep.handles {
			last = min(last, r.ep.peerStatus[h].lastFrame)
		}
	}
	return last
}

// adoptedReporter returns the index (in s.players.remotes) of the first running peer
// whose report that x disconnected this session adopts, or -1. It raises
// EventDisconnectDisputed for reports it does not adopt.
func (s *P2PSession[S, I, A]) adoptedReporter(x *peer[A], now time.Duration) int {
	hx := x.ep.handles[0]
	heard := x.ep.isRunning() && now-x.ep.lastRecvTime <= x.ep.notifyStart
	contested := false
	x.holding = false
	defer func() {
		if !contested {
			x.contestedSince = -1
		}
	}()
	for ri, r := range s.players.remotes {
		if r == x || !r.ep.isRunning() {
			continue
		}
		st := r.ep.peerStatus[hx]
		if !st.disconnected {
			continue
		}
		if !heard {
			return ri // x is silent here too
		}
		if st.droppedUs {
			// x dropped r: news about r, judged when r is the subject.
			continue
		}
		hr := r.ep.handles[0]
		if confirm := x.ep.peerStatus[hr]; confirm.disconnected {
			// x lost r or was dropped by it: the link between them is
			// broken and one of them must go. When each reports it lost
			// the other, both reports are true; every peer keeps the
			// lower handle, so all agree.
			if confirm.droppedUs || hx > hr {
				return ri
			}
			continue
		}
		contested = true
		if x.contestedSince < 0 {
			x.contestedSince = now
		}
		if now-x.contestedSince < disputeGrace {
			// Within the grace a true report is confirmed; after it the
			// report counts as false and holds nothing back, so a lying
			// peer can stall the match for disputeGrace at most.
			if !x.holding || st.lastFrame < x.holdFrame {
				x.holding, x.holdFrame = true, st.lastFrame
			}
		}
		if r.disputed&(1<<uint(hx)) == 0 && now-x.contestedSince >= disputeGrace {
			r.disputed |= 1 << uint(hx)
			s.events.push(Event[A]{Kind: EventDisconnectDisputed, Addr: x.ep.addr, Reporter: r.ep.addr})
		}
	}
	return -1
}

func (s *P2PSession[S, I, A]) checkInitialSync() {
	if s.state != Synchronizing || s.resumeFailed {
		return
	}
	for _, pr := range s.players.peers {
		if !pr.ep.isSynchronized() && !pr.addedLater {
			return
		}
	}
	s.state = Running
}

// confirmedFrame is the newest frame whose input is known for every connected
// player.
func (s *P2PSession[S, I, A]) confirmedFrame() Frame {
	confirmed := Frame(1<<31 - 1)
	for _, st := range s.localStatus {
		if !st.disconnected {
			confirmed = min(confirmed, st.lastFrame)
		}
	}
	if confirmed == 1<<31-1 {
		return s.sync.currentFrame
	}
	for _, x := range s.players.remotes {
		if x.holding && !s.localStatus[x.ep.handles[0]].disconnected {
			confirmed = min(confirmed, x.holdFrame)
		}
	}
	return confirmed
}

// adjustGamestate rolls back to the first frame with a wrong prediction (or
// the last saved frame with sparse saving) and resimulates to the current
// frame with the inputs known now.
func (s *P2PSession[S, I, A]) adjustGamestate(firstIncorrect, minConfirmed Frame) {
	current := s.sync.currentFrame
	target := firstIncorrect
	if s.sparseSaving {
		target = s.sync.lastSavedFrame
	}
	if target >= current {
		// Nothing simulated with the wrong input yet (e.g. a caught-up
		// player disconnected): just predict afresh.
		s.sync.resetPrediction()
		return
	}
	if oldest := current - Frame(len(s.sync.states)) + 1; target < oldest {
		// The resimulation saves every frame up to current into the ring:
		// rolling back further would hand out the loaded cell again for a
		// later frame before the game loads it. Only a disconnect reported
		// for a frame older than the ring asks for that; recover as well
		// as possible (desync detection will tell).
		target = oldest
	}
	cell, ok := s.sync.loadFrame(target)
	for f := target + 1; !ok && f < current; f++ {
		// The target left the ring: only a disconnect reported for a frame
		// older than the prediction window can do that. Recover as well as
		// possible instead of failing; desync detection will tell.
		cell, ok = s.sync.loadFrame(f)
	}
	if !ok {
		s.sync.resetPrediction()
		return
	}
	s.buf.load(cell)
	s.sync.resetPrediction()
	for i := 0; s.sync.currentFrame < current; i++ {
		if s.sparseSaving {
			if s.sync.currentFrame == minConfirmed {
				s.buf.save(s.sync.saveCurrentState())
			}
		} else if i > 0 {
			s.buf.save(s.sync.saveCurrentState())
		}
		inputs := s.buf.nextInputs()
		s.sync.synchronizedInputs(inputs, s.localStatus)
		s.buf.advance(s.sync.currentFrame, inputs)
		s.sync.currentFrame++
	}
}

// checkLastSavedState keeps a saved confirmed frame within the prediction
// window in sparse saving mode.
func (s *P2PSession[S, I, A]) checkLastSavedState(confirmed Frame) {
	if int(s.sync.currentFrame-s.sync.lastSavedFrame) < s.maxPrediction {
		return
	}
	if confirmed >= s.sync.currentFrame {
		s.buf.save(s.sync.saveCurrentState())
		return
	}
	s.adjustGamestate(s.sync.lastSavedFrame, confirmed)
}

// sendToSpectators sends every player's input of each newly confirmed frame
// to the spectators. Without spectators it still counts the frames, so that
// one added later (AddSpectator) starts at the first frame not yet confirmed.
func (s *P2PSession[S, I, A]) sendToSpectators(confirmed Frame, now time.Duration) {
	for s.nextSpectatorFrame <= confirmed {
		if !s.sync.confirmedInputs(s.specInputs, s.nextSpectatorFrame, s.localStatus) {
			return
		}
		if len(s.players.spectators) == 0 {
			s.nextSpectatorFrame++
			continue
		}
		for i, in := range s.specInputs {
			s.codec.Encode(s.specBytes[i*s.inputSize:(i+1)*s.inputSize], in.Input)
		}
		for _, pr := range s.players.spectators {
			pr.ep.sendInput(s.nextSpectatorFrame, s.specBytes, s.localStatus, s.socket, now)
		}
		s.nextSpectatorFrame++
	}
}

func (s *P2PSession[S, I, A]) checkWaitRecommendation() {
	ahead, found := 0, false
	for _, pr := range s.players.remotes {
		h := pr.ep.handles[0]
		if s.localStatus[h].disconnected {
			continue
		}
		if s.floor[h] != NullFrame && s.localStatus[h].lastFrame <= s.floor[h]+frameWindowSize {
			// Readmitted, and not playing for a time-sync window yet:
			// it started far behind and catches up by itself, and the
			// window still averages its catching up; waiting for it
			// would stall the match for nothing.
			continue
		}
		if adv := pr.ep.timeSync.averageFrameAdvantage(); !found || adv > ahead {
			ahead, found = adv, true
		}
	}
	s.framesAhead = ahead
	if s.sync.currentFrame > s.nextRecommendedSleep && ahead >= minRecommendation {
		s.nextRecommendedSleep = s.sync.currentFrame + recommendationInterval
		s.events.push(Event[A]{Kind: EventWaitRecommendation, SkipFrames: ahead})
	}
}

// sendChecksums reports the checksum of the next interval frame once it is
// confirmed and saved.
func (s *P2PSession[S, I, A]) sendChecksums(now time.Duration) {
	next := Frame(s.desyncEvery)
	if s.lastSentChecksumFrame != NullFrame {
		next = s.lastSentChecksumFrame + Frame(s.desyncEvery)
	}
	if next > s.sync.lastConfirmedFrame || next > s.sync.lastSavedFrame {
		return
	}
	// Move on even if the state is gone (sparse saving may skip it), so one
	// missing frame does not stop detection for good.
	s.lastSentChecksumFrame = next
	cell, ok := s.sync.savedState(next)
	if !ok {
		return
	}
	sum, saved := cell.Checksum()
	if !saved {
		return
	}
	for _, pr := range s.players.remotes {
		pr.ep.sendChecksum(next, sum, s.socket, now)
	}
	s.localChecksums[s.localChecksumNext] = remoteChecksum{frame: next, checksum: sum, valid: true}
	s.localChecksumNext = (s.localChecksumNext + 1) % maxLocalChecksums
	if s.stateDump != nil {
		s.keepDump(next, cell)
	}
}

// compareChecksums compares the peers' checksums of frames confirmed here
// with ours and reports each mismatch once.
func (s *P2PSession[S, I, A]) compareChecksums(now time.Duration) {
	for ri, pr := range s.players.remotes {
		st := s.localStatus[pr.ep.handles[0]]
		for i := range pr.ep.checksums {
			rc := &pr.ep.checksums[i]
			if rc.valid && st.disconnected && rc.frame > st.lastFrame {
				// The peer left our match after its last frame: its
				// later states are of another match.
				rc.valid = false
			}
			if !rc.valid || rc.frame >= s.sync.lastConfirmedFrame {
				continue
			}
			local, ok := s.localChecksum(rc.frame)
			if !ok {
				if rc.frame <= s.lastSentChecksumFrame {
					rc.valid = false // we never had it (skipped or too old)
				}
				continue
			}
			pr.ep.markCompared(rc.frame)
			if local != rc.checksum {
				ev := Event[A]{Kind: EventDesyncDetected, Addr: pr.ep.addr, Frame: rc.frame,
					LocalChecksum: local, RemoteChecksum: rc.checksum}
				if s.stateDump != nil {
					s.reportDesyncWithDumps(pr, ev, now)
				} else {
					s.events.push(ev)
				}
			}
			if s.dumps != nil {
				s.dumpCompared(ri, rc.frame)
			}
			rc.valid = false
		}
	}
	if s.dumps != nil {
		s.releaseDumps()
	}
}

func (s *P2PSession[S, I, A]) localChecksum(f Frame) (uint64, bool) {
	for _, c := range s.localChecksums {
		if c.valid && c.frame == f {
			return c.checksum, true
		}
	}
	return 0, false
}

// SetInputDelay changes the input delay of local player h, as GGRS's
// set_input_delay; Config.InputDelay sets every local player's at the start.
// It takes effect with the next AddLocalInput. Growing it repeats h's last
// input for the new frames; shrinking it drops h's inputs until the current
// frame catches up. Local players may have different delays: the session
// sends a frame to the peers once every local player's input has reached it.
// Errors: ErrInvalidRequest if h is not a local player or frames is out of
// range 0..MaxInputDelay.
func (s *P2PSession[S, I, A]) SetInputDelay(h PlayerHandle, frames int) error {
	if !s.players.isLocal(h) {
		return invalidf("player handle %d is not a local player", h)
	}
	if frames < 0 || frames > MaxInputDelay {
		return invalidf("input delay %d out of range 0..%d", frames, MaxInputDelay)
	}
	s.sync.setFrameDelay(h, frames)
	return nil
}

// NetworkStats returns statistics about the connection to remote player or
// spectator h. Errors: ErrInvalidRequest for a local or unknown handle,
// ErrNotSynchronized if the peer is disconnected, ErrNotEnoughData during the
// first second.
func (s *P2PSession[S, I, A]) NetworkStats(h PlayerHandle) (NetworkStats, error) {
	pr, ok := s.players.peerOf(h)
	if !ok {
		return NetworkStats{}, invalidf("player handle %d is not a remote player or spectator", h)
	}
	return pr.ep.networkStats(s.clock.since())
}

// Events returns the events since the last call, oldest first. At most 100
// are kept; older ones are dropped. The slice is valid until the next call.
func (s *P2PSession[S, I, A]) Events() []Event[A] { return s.events.drain() }

// CurrentFrame returns the frame the game is at.
func (s *P2PSession[S, I, A]) CurrentFrame() Frame { return s.sync.currentFrame }

// ConfirmedFrame returns the newest frame with every connected player's input
// known; states up to it never change any more. It is never past
// CurrentFrame, even when remote inputs have arrived for later frames.
func (s *P2PSession[S, I, A]) ConfirmedFrame() Frame {
	return min(s.confirmedFrame(), s.sync.currentFrame)
}

// FramesAhead estimates how many frames this session runs ahead of the peers
// (the basis of wait recommendations).
func (s *P2PSession[S, I, A]) FramesAhead() int { return s.framesAhead }

// State returns whether the session still synchronizes or runs.
func (s *P2PSession[S, I, A]) State() SessionState { return s.state }

// NumPlayers returns the number of players.
func (s *P2PSession[S, I, A]) NumPlayers() int { return s.numPlayers }

// MaxPrediction returns the prediction window; 0 means lockstep.
func (s *P2PSession[S, I, A]) MaxPrediction() int { return s.maxPrediction }

// LocalPlayerHandles returns the local players' handles, ascending.
func (s *P2PSession[S, I, A]) LocalPlayerHandles() []PlayerHandle {
	return slices.Clone(s.players.localHandles)
}
