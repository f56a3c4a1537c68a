package rollbox

import (
	"encoding"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/rollbox/rollbox/rollback"
)

// Game is what rollbox asks of a game's state type S: a pointer to it steps
// the simulation one frame. S holds everything that must be the same on
// every peer (positions, scores, the frame count if the game wants one) and
// nothing else: no textures, no sounds, no local player's settings.
//
// Step must be deterministic: the same state and inputs give the same next
// state on every machine. Use integer or fixed-point math, iterate slices
// rather than maps, and read no clock, random source or global variable;
// keep randomness in the state (a seeded generator's state is plain). The
// sync test (Config.SyncTest) proves it on one machine.
//
// inputs holds one input per player, indexed by player handle, each with its
// status: Confirmed, Predicted (a guess that may be rolled back) or
// Disconnected (the zero input). Step may branch on Disconnected, which
// every peer sees at the same frame (to let an AI take over, say), but not
// on Predicted versus Confirmed, which differ between peers.
//
// Saving and loading, checksums and desync dumps are automatic for a plain
// state: numbers, booleans, strings, and arrays and structs of them. A state
// that holds slices, maps or pointers must say how to copy and hash it, with
// methods on *S (NewMatch checks this and says what is missing):
//
//	Clone() S          // a deep copy: saved states must not share memory
//	Checksum() uint64  // a deterministic hash, the same on every peer
//
// Optional on any state: AppendText(b []byte) ([]byte, error)
// (encoding.TextAppender) replaces the field-by-field dump in desync
// reports; Checksum replaces the automatic hash.
type Game[S any, I comparable] interface {
	*S
	Step(inputs []PlayerInput[I])
}

// PlayerInput is one player's input for the frame being stepped, with its
// status.
type PlayerInput[I any] = rollback.PlayerInput[I]

// PlayerHandle identifies a player: 0 to Players-1, the same on every peer.
type PlayerHandle = rollback.PlayerHandle

// Frame numbers simulation steps from 0.
type Frame = rollback.Frame

// InputStatus says how much to trust a player's input: Confirmed,
// Predicted or Disconnected.
type InputStatus = rollback.InputStatus

// Input statuses, as PlayerInput.Status reports them.
const (
	Confirmed    = rollback.Confirmed
	Predicted    = rollback.Predicted
	Disconnected = rollback.Disconnected
)

// cloner is a state that copies itself deeply.
type cloner[S any] interface{ Clone() S }

// checksummer is a state that hashes itself.
type checksummer interface{ Checksum() uint64 }

// stateOps saves, loads, hashes and dumps states of type S, as the state
// type allows: by copy and by layout for plain types, by its methods
// otherwise.
type stateOps[S any, I comparable] struct {
	step     func(*S, []PlayerInput[I])
	clone    func(*S) S
	checksum func(*S) uint64
	dump     func(dst []byte, s *S) []byte
}

// newGame checks a game's state and input types and returns how to handle
// each: the state's operations and the input's wire codec.
func newGame[S any, I comparable, G Game[S, I]]() (stateOps[S, I], *valueCodec[I], error) {
	ops, err := newStateOps[S, I, G]()
	if err != nil {
		return ops, nil, err
	}
	codec, err := newValueCodec[I]()
	return ops, codec, err
}

func newStateOps[S any, I comparable, G Game[S, I]]() (stateOps[S, I], error) {
	ops := stateOps[S, I]{step: func(s *S, in []PlayerInput[I]) { G(s).Step(in) }}
	t := reflect.TypeFor[S]()
	lay, plainErr := layoutOf(t)
	var zero S
	if _, ok := any(&zero).(cloner[S]); ok {
		ops.clone = func(s *S) S { return any(s).(cloner[S]).Clone() }
	} else if plainErr == nil {
		ops.clone = func(s *S) S { return *s }
	} else {
		return ops, fmt.Errorf("rollbox: state %v: %w; give *%v a Clone() %v method that copies it deeply",
			t, plainErr, t.Name(), t.Name())
	}
	if _, ok := any(&zero).(checksummer); ok {
		ops.checksum = func(s *S) uint64 { return any(s).(checksummer).Checksum() }
	} else if plainErr == nil {
		ops.checksum = func(s *S) uint64 { return lay.checksum(unsafe.Pointer(s)) }
	} else {
		return ops, fmt.Errorf("rollbox: state %v: %w; give *%v a Checksum() uint64 method that hashes it deterministically",
			t, plainErr, t.Name())
	}
	if _, ok := any(&zero).(encoding.TextAppender); ok {
		ops.dump = func(dst []byte, s *S) []byte {
			out, err := any(s).(encoding.TextAppender).AppendText(dst)
			if err != nil {
				return append(dst, "dump failed: "+err.Error()...)
			}
			return out
		}
	} else if plainErr == nil {
		ops.dump = func(dst []byte, s *S) []byte { return lay.appendDump(dst, unsafe.Pointer(s)) }
	}
	return ops, nil
}
