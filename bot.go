package rollbox

import (
	"math/rand/v2"
	"reflect"
)

// bot plays without a human: it holds a random input for a while, then
// picks another, like a restless player. The same seed plays the same
// game.
type bot[I any] struct {
	codec *valueCodec[I]
	rng   *rand.Rand
	buf   []byte
	held  I
	left  int // frames until the next change
}

func newBot[I any](codec *valueCodec[I], seed uint64) *bot[I] {
	return &bot[I]{codec: codec, rng: rand.New(rand.NewPCG(seed, 0x626f74)), buf: make([]byte, codec.Size())}
}

// input returns the bot's input for the next frame.
func (b *bot[I]) input(PlayerHandle) I {
	if b.left == 0 {
		// Random bytes for every field, and a valid value for each bool:
		// the codec refuses any other byte there.
		dst := b.buf
		for _, f := range b.codec.fields {
			n := wireSize(f)
			if f.kind == reflect.Bool {
				dst[0] = byte(b.rng.IntN(2))
			} else {
				putUint(dst[:n], b.rng.Uint64())
			}
			dst = dst[n:]
		}
		b.held, _ = b.codec.Decode(b.buf) // valid by construction
		b.left = 10 + b.rng.IntN(50)
	}
	b.left--
	return b.held
}
