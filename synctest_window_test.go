package rollbox

import "testing"

// A sync test plays every frame with the real inputs, whatever its check
// distance and input delay: with a check window and input delay too large
// for the session's input queues, inputs were dropped and frames stepped
// with predictions, so the test passed while checking nothing.
func TestSyncTestNeverStepsPredictedInputs(t *testing.T) {
	for _, delay := range []int{0, 2, 32} {
		for d := 1; d < 64; d++ {
			cfg, err := Config{SyncTest: true, CheckDistance: d, InputDelay: delay, NoInputDelay: delay == 0, Frames: 300}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			ops, err := newStateOps[walker, uint8, *walker]()
			if err != nil {
				t.Fatal(err)
			}
			codec, err := newValueCodec[uint8]()
			if err != nil {
				t.Fatal(err)
			}
			r, err := newSyncTestRunner[walker, uint8, int](cfg, ops, codec, &walker{})
			if err != nil {
				t.Fatalf("delay %d distance %d: %v", delay, d, err)
			}
			predicted := Frame(-1)
			r.ops.step = func(s *walker, in []PlayerInput[uint8]) {
				for _, p := range in {
					if p.Status != Confirmed && predicted < 0 {
						predicted = r.frame
					}
				}
				ops.step(s, in)
			}
			for r.recorded < 300 {
				if err := r.tick(); err != nil {
					t.Fatalf("delay %d distance %d: %v", delay, d, err)
				}
			}
			if predicted >= 0 {
				t.Errorf("delay %d distance %d: frame %d stepped with a predicted input", delay, d, predicted)
			}
		}
	}
}
