package rollback

// Time synchronisation as in GGPO/GGRS: every sent frame records how far this
// session thinks it is behind the peer (local advantage) and how far the peer
// says it is behind us (remote advantage); the averages over a window tell
// which side runs ahead, and the side ahead waits half the difference.
const (
	frameWindowSize = 30
	// minRecommendation: waits shorter than this are not worth the stutter.
	minRecommendation = 3
	// recommendationInterval: at most one wait recommendation per second.
	recommendationInterval = 60
)

type timeSync struct {
	local  [frameWindowSize]int32
	remote [frameWindowSize]int32
}

// advanceFrame records the advantages at frame f.
func (t *timeSync) advanceFrame(f Frame, localAdv, remoteAdv int) {
	if f < 0 {
		return
	}
	i := int(f) % frameWindowSize
	t.local[i] = int32(localAdv)
	t.remote[i] = int32(remoteAdv)
}

// averageFrameAdvantage returns how many frames this session is ahead of the
// peer: (remote average - local average) / 2, in integer math so every
// platform computes the same value.
func (t *timeSync) averageFrameAdvantage() int {
	var localSum, remoteSum int64
	for i := range frameWindowSize {
		localSum += int64(t.local[i])
		remoteSum += int64(t.remote[i])
	}
	return int((remoteSum - localSum) / (2 * frameWindowSize))
}
