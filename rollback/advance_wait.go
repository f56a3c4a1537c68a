package rollback

import (
	"context"
	"time"
)

// waitPollInterval is the pause between polls while AdvanceFrameWait waits
// for a remote input: short against a frame (16.7 ms at 60 fps), long enough
// not to keep a core busy.
const waitPollInterval = 200 * time.Microsecond

// AdvanceFrameWait is AdvanceFrame for lockstep sessions (MaxPrediction 0)
// that would rather wait a little for a remote input than skip the tick, as
// GGRS's advance_frame_with_wait_timeout: if AdvanceFrame cannot advance
// because an input of the current frame is missing, it polls the socket
// (every 200 µs; the Socket interface cannot block) until the input arrives
// or ctx is done. Then it returns the tick's requests as AdvanceFrame does:
// with the Advance, or, when ctx ended first, without one and with a nil
// error, since a lockstep stall is no error (GGRS returns an empty request
// list too). Give ctx a deadline of about a frame, like GGRS's
// advance_frame_with_wait, which waits one frame at the configured FPS.
//
// In rollback mode (MaxPrediction > 0) it is AdvanceFrame and never waits.
// It blocks the calling goroutine, so call it from the game loop only when a
// short wait is acceptable there; it starts no goroutines and allocates
// nothing after its first wait.
func (s *P2PSession[S, I, A]) AdvanceFrameWait(ctx context.Context) ([]Request[S, I], error) {
	reqs, err := s.AdvanceFrame()
	if err != nil || s.maxPrediction != 0 || len(reqs) > 0 {
		return reqs, err
	}
	for s.waitPoll(ctx) {
		s.PollRemoteClients()
		if s.state == Running && s.confirmedFrame() >= s.sync.currentFrame {
			return s.AdvanceFrame()
		}
	}
	return reqs, nil
}

// waitPoll sleeps waitPollInterval on the session's reused timer and reports
// false if ctx ended first.
func (s *P2PSession[S, I, A]) waitPoll(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	if s.waitTimer == nil {
		s.waitTimer = time.NewTimer(waitPollInterval)
	} else {
		s.waitTimer.Reset(waitPollInterval)
	}
	select {
	case <-ctx.Done():
		s.waitTimer.Stop()
		return false
	case <-s.waitTimer.C:
		return true
	}
}
