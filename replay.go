package rollbox

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/rollbox/rollbox/rollback"
)

// A replay is a match's confirmed inputs, frame by frame, with what is
// needed to play them again: the game's name, the player count, the input
// size and frame rate, and checksums to verify the playback against. It is
// written as the match confirms frames (Config.Record, Simulation.Record)
// and played back by a Replayer, at any speed, on any machine with the
// same game: a desync seen in the field becomes a file to debug on a desk.
//
// The format, version 1, little-endian:
//
//	header:  "rollbox-replay\n", uvarint version (1), uvarint len + game
//	         name, uvarint players, uvarint input size, uvarint fps,
//	         uint64 checksum of the state at frame 0
//	frame f: byte flags; if flags&newInputs: players x (status byte, input
//	         bytes), else the previous frame's inputs again; then the
//	         checksum of the state at frame f+1: uint64 if flags&fullSum
//	         (every replayFullSumEvery frames), else its low 16 bits
//
// A frame whose inputs repeat the previous frame's (the common case: players
// hold buttons) takes three bytes. The 16-bit checksums find the first frame
// that differs on playback (a wrong frame passes one only once in 65536);
// the full ones make a match of the rest certain.

const (
	replayMagic   = "rollbox-replay\n"
	replayVersion = 1
	// replayFullSumEvery: every this many frames a full 64-bit checksum.
	replayFullSumEvery = 60
	// maxReplayGameName bounds the game name a replay may carry.
	maxReplayGameName = 1024
	// maxReplayFPS is Config.FPS's bound.
	maxReplayFPS = 1000
)

// Frame flags.
const (
	replayNewInputs = 1 << 0
	replayFullSum   = 1 << 1
	replayKnown     = replayNewInputs | replayFullSum
)

// ErrReplayMismatch: a replay played back to a different state than it
// recorded. A *ReplayMismatchError matches it.
var ErrReplayMismatch = errors.New("rollbox: replay differs from the recording")

// ReplayMismatchError names the first frame whose state differs on
// playback from the recording.
type ReplayMismatchError struct {
	// Frame is the first frame whose state differs.
	Frame Frame
	// Recorded and Replayed are the checksums (only their low 16 bits
	// where the recording kept no more).
	Recorded, Replayed uint64
	// Full says whether whole 64-bit checksums were compared.
	Full bool
}

func (e *ReplayMismatchError) Error() string {
	if e.Full {
		return fmt.Sprintf("rollbox: replay differs from the recording at frame %d: checksum %016x, recorded %016x", e.Frame, e.Replayed, e.Recorded)
	}
	return fmt.Sprintf("rollbox: replay differs from the recording at frame %d: checksum ends %04x, recorded %04x", e.Frame, e.Replayed&0xffff, e.Recorded&0xffff)
}

// Is reports whether target is ErrReplayMismatch.
func (e *ReplayMismatchError) Is(target error) bool { return target == ErrReplayMismatch }

// recorder writes a replay as frames are confirmed. A write error stops
// the recording (and is kept for Close); it never stops the match.
type recorder struct {
	w       *bufio.Writer
	err     error
	players int
	size    int // input size
	prev    []byte
	rec     []byte // one frame's record, reused
	frames  int
}

func newRecorder(w io.Writer, game string, players, inputSize, fps int, sum0 uint64) *recorder {
	r := &recorder{w: bufio.NewWriter(w), players: players, size: inputSize,
		prev: make([]byte, players*(1+inputSize)), rec: make([]byte, 0, 1+players*(1+inputSize)+8)}
	h := []byte(replayMagic)
	h = binary.AppendUvarint(h, replayVersion)
	h = binary.AppendUvarint(h, uint64(len(game)))
	h = append(h, game...)
	h = binary.AppendUvarint(h, uint64(players))
	h = binary.AppendUvarint(h, uint64(inputSize))
	h = binary.AppendUvarint(h, uint64(fps))
	h = binary.LittleEndian.AppendUint64(h, sum0)
	_, r.err = r.w.Write(h)
	return r
}

// frame records frame f's confirmed inputs (players x (status, input), as
// encodeInputs writes them) and the checksum of the state they lead to.
func (r *recorder) frame(f rollback.Frame, inputs []byte, next uint64) {
	if r.err != nil {
		return
	}
	rec := r.rec[:1]
	rec[0] = 0
	if r.frames == 0 || string(inputs) != string(r.prev) {
		rec[0] |= replayNewInputs
		rec = append(rec, inputs...)
		copy(r.prev, inputs)
	}
	if int(f+1)%replayFullSumEvery == 0 {
		rec[0] |= replayFullSum
		rec = binary.LittleEndian.AppendUint64(rec, next)
	} else {
		rec = binary.LittleEndian.AppendUint16(rec, uint16(next))
	}
	r.rec = rec
	r.frames++
	_, r.err = r.w.Write(rec)
}

// flush writes out what is buffered.
func (r *recorder) flush() error {
	if r.err == nil {
		r.err = r.w.Flush()
	}
	return r.err
}

// encodeInputs writes every player's status and input of one frame into
// dst (players x (1+codec size) bytes). A predicted input is recorded as
// confirmed: by the time the frame is recorded it is confirmed, and a
// prediction that needed no rollback was right.
func encodeInputs[I any](dst []byte, codec *valueCodec[I], inputs []PlayerInput[I]) {
	n := codec.Size()
	for i, in := range inputs {
		rec := dst[i*(1+n) : (i+1)*(1+n)]
		rec[0] = byte(in.Status)
		if in.Status == rollback.Predicted {
			rec[0] = byte(rollback.Confirmed)
		}
		codec.Encode(rec[1:], in.Input)
	}
}

// Replayer plays a replay back on a game's state, frame by frame, checking
// every recorded checksum: call Step as often as the playback speed wants
// (once per tick for real time, in a loop for as fast as it goes).
type Replayer[S any, I comparable] struct {
	r       *bufio.Reader
	ops     stateOps[S, I]
	codec   *valueCodec[I]
	state   *S
	players int
	fps     int
	frame   Frame
	rec     []byte // the current frame's inputs, as recorded
	inputs  []PlayerInput[I]
	started bool
	sum     [8]byte // read buffer: a local array would escape into io.ReadFull
}

// NewReplayer reads the replay's header from r and returns a Replayer that
// steps the state initial returns for the recorded match's player count:
// the game's state at frame 0, as the match started. It fails if the
// replay is not one, is of another version, was recorded by another game
// (state or input type) or claims a frame rate no match plays at, and with a *ReplayMismatchError if the
// state's checksum is not the recorded one.
func NewReplayer[S any, I comparable, G Game[S, I]](r io.Reader, initial func(players int) G) (*Replayer[S, I], error) {
	ops, codec, err := newGame[S, I, G]()
	if err != nil {
		return nil, err
	}
	p := &Replayer[S, I]{r: bufio.NewReader(r), ops: ops, codec: codec}
	magic := make([]byte, len(replayMagic))
	if _, err := io.ReadFull(p.r, magic); err != nil || string(magic) != replayMagic {
		return nil, errors.New("rollbox: not a replay")
	}
	version, err := p.uvarint("version")
	if err != nil {
		return nil, err
	}
	if version != replayVersion {
		return nil, fmt.Errorf("rollbox: replay version %d, this build reads %d", version, replayVersion)
	}
	n, err := p.uvarint("game name")
	if err != nil {
		return nil, err
	}
	if n > maxReplayGameName {
		return nil, fmt.Errorf("rollbox: replay game name of %d bytes", n)
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(p.r, name); err != nil {
		return nil, errors.New("rollbox: replay truncated in its header")
	}
	if want := gameName[S, I](); string(name) != want {
		return nil, fmt.Errorf("rollbox: replay of game %q, not %q", name, want) // quoted: the file's bytes
	}
	players, err := p.uvarint("players")
	if err != nil {
		return nil, err
	}
	size, err := p.uvarint("input size")
	if err != nil {
		return nil, err
	}
	fps, err := p.uvarint("fps")
	if err != nil {
		return nil, err
	}
	if players < 1 || players > rollback.MaxPlayers {
		return nil, fmt.Errorf("rollbox: replay of %d players", players)
	}
	if size != uint64(codec.Size()) {
		return nil, fmt.Errorf("rollbox: replay inputs of %d bytes, this game's are %d", size, codec.Size())
	}
	// No match plays at another rate, and a player paces playback by it
	// (time.Second / FPS): a rate of 0 would divide by zero there.
	if fps < 1 || fps > maxReplayFPS {
		return nil, fmt.Errorf("rollbox: replay at %d fps, not 1 to %d", fps, maxReplayFPS)
	}
	p.players, p.fps = int(players), int(fps)
	state := initial(p.players)
	if state == nil {
		return nil, errors.New("rollbox: initial returned a nil state")
	}
	p.state = (*S)(state)
	p.rec = make([]byte, p.players*(1+codec.Size()))
	p.inputs = make([]PlayerInput[I], p.players)
	var sum [8]byte
	if _, err := io.ReadFull(p.r, sum[:]); err != nil {
		return nil, errors.New("rollbox: replay truncated in its header")
	}
	if want, got := binary.LittleEndian.Uint64(sum[:]), ops.checksum(p.state); want != got {
		return nil, &ReplayMismatchError{Frame: 0, Recorded: want, Replayed: got, Full: true}
	}
	return p, nil
}

func (p *Replayer[S, I]) uvarint(what string) (uint64, error) {
	v, err := binary.ReadUvarint(p.r)
	if err != nil {
		return 0, fmt.Errorf("rollbox: replay header: bad %s", what)
	}
	return v, nil
}

// Players returns the number of players of the recorded match.
func (p *Replayer[S, I]) Players() int { return p.players }

// FPS returns the frame rate the match was played at, 1 to 1000: step
// that many frames a second to watch it at its real speed.
func (p *Replayer[S, I]) FPS() int { return p.fps }

// Frame returns the frame the state is at.
func (p *Replayer[S, I]) Frame() Frame { return p.frame }

// State returns the state being played back (the one initial returned), to
// draw it between steps.
func (p *Replayer[S, I]) State() *S { return p.state }

// Checksum returns the checksum of the state at Frame.
func (p *Replayer[S, I]) Checksum() uint64 { return p.ops.checksum(p.state) }

// Step plays the next recorded frame and checks the state it leads to
// against the recording. It returns io.EOF at the end of the replay,
// a *ReplayMismatchError (errors.Is ErrReplayMismatch) at the first frame
// that differs, and another error for a replay cut short or damaged.
func (p *Replayer[S, I]) Step() error {
	flags, err := p.r.ReadByte()
	if err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("rollbox: replay at frame %d: %w", p.frame, err)
	}
	if flags&^replayKnown != 0 {
		return fmt.Errorf("rollbox: replay damaged at frame %d (flags %#x)", p.frame, flags)
	}
	if flags&replayNewInputs != 0 {
		if _, err := io.ReadFull(p.r, p.rec); err != nil {
			return fmt.Errorf("rollbox: replay cut short at frame %d", p.frame)
		}
		n := p.codec.Size()
		for i := range p.inputs {
			rec := p.rec[i*(1+n) : (i+1)*(1+n)]
			status := rollback.InputStatus(rec[0])
			if status != rollback.Confirmed && status != rollback.Disconnected {
				return fmt.Errorf("rollbox: replay damaged at frame %d: input status %d", p.frame, rec[0])
			}
			in, err := p.codec.Decode(rec[1:])
			if err != nil {
				return fmt.Errorf("rollbox: replay damaged at frame %d: %w", p.frame, err)
			}
			p.inputs[i] = PlayerInput[I]{Input: in, Status: status}
		}
		p.started = true
	} else if !p.started {
		return fmt.Errorf("rollbox: replay damaged: frame %d repeats inputs before any", p.frame)
	}
	full := flags&replayFullSum != 0
	width := 2
	if full {
		width = 8
	}
	sum := p.sum[:]
	clear(sum)
	if _, err := io.ReadFull(p.r, sum[:width]); err != nil {
		return fmt.Errorf("rollbox: replay cut short at frame %d", p.frame)
	}
	p.ops.step(p.state, p.inputs)
	p.frame++
	recorded := binary.LittleEndian.Uint64(sum)
	got := p.ops.checksum(p.state)
	if !full {
		got &= 0xffff
	}
	if got != recorded {
		return &ReplayMismatchError{Frame: p.frame, Recorded: recorded, Replayed: p.ops.checksum(p.state), Full: full}
	}
	return nil
}

// Replay plays a whole replay (see NewReplayer for initial) as fast as the
// machine goes, checking every recorded checksum, and returns the last
// frame and its checksum. Errors are NewReplayer's and Step's, but io.EOF:
// a replay that ends is a success.
func Replay[S any, I comparable, G Game[S, I]](r io.Reader, initial func(players int) G) (Frame, uint64, error) {
	p, err := NewReplayer[S, I](r, initial)
	if err != nil {
		return 0, 0, err
	}
	for {
		if err := p.Step(); err == io.EOF {
			return p.frame, p.Checksum(), nil
		} else if err != nil {
			return p.frame, p.Checksum(), err
		}
	}
}

// inputRecord is where a runner keeps the encoded inputs of its recent
// frames until they are confirmed and recorded.
type inputRecord struct {
	frames [sumRing]rollback.Frame
	data   []byte // sumRing x players x (1+input size)
	width  int
}

func newInputRecord(players, inputSize int) *inputRecord {
	w := players * (1 + inputSize)
	return &inputRecord{data: make([]byte, sumRing*w), width: w}
}

func (ir *inputRecord) slot(f rollback.Frame) []byte {
	i := int(f) % sumRing
	return ir.data[i*ir.width : (i+1)*ir.width]
}
