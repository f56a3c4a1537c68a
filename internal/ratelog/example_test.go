package ratelog_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/rollbox/rollbox/internal/ratelog"
)

func Example() {
	// A clock the example moves by hand; leave Now nil for the real one.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	limiter := &ratelog.Limiter{Interval: 10 * time.Second, Now: func() time.Time { return now }}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))

	// A peer sends a thousand bad frames within a second...
	for range 1000 {
		limiter.Log(context.Background(), log, slog.LevelWarn, "dropping bad frame", "peer", "p1")
	}
	// ...and one more after the interval.
	now = now.Add(10 * time.Second)
	limiter.Log(context.Background(), log, slog.LevelWarn, "dropping bad frame", "peer", "p1")
	// Output:
	// level=WARN msg="dropping bad frame" peer=p1
	// level=WARN msg="dropping bad frame" peer=p1 suppressed=999
}
