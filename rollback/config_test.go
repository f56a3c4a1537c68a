package rollback

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func twoPlayerConfig() Config[uint32, string] {
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	cfg.AddLocalPlayer(0)
	cfg.AddRemotePlayer(1, "b")
	return cfg
}

func TestDefaultConfigMatchesGGRS(t *testing.T) {
	cfg := DefaultConfig[uint32, string](UintCodec[uint32]{})
	if cfg.NumPlayers != 2 || cfg.InputDelay != 0 || cfg.MaxPrediction != 8 || cfg.FPS != 60 ||
		cfg.SparseSaving || cfg.DesyncDetectionInterval != 0 ||
		cfg.DisconnectTimeout != 2000*time.Millisecond || cfg.DisconnectNotifyStart != 500*time.Millisecond ||
		cfg.CheckDistance != 2 || cfg.MaxFramesBehind != 10 || cfg.CatchupSpeed != 1 {
		t.Fatalf("defaults differ from GGRS: %+v", cfg)
	}
}

func TestConfigValidation(t *testing.T) {
	type cfgT = Config[uint32, string]
	p2p := func(c cfgT) error { return c.validateP2P() }
	synctest := func(c cfgT) error { return c.validateSyncTest() }
	spectator := func(c cfgT) error { return c.validateSpectator() }
	for _, tc := range []struct {
		name     string
		validate func(cfgT) error
		edit     func(*cfgT)
		errPart  string // "" means valid
	}{
		{"default p2p", p2p, func(c *cfgT) {}, ""},
		{"four players and spectator", p2p, func(c *cfgT) {
			c.NumPlayers = 4
			c.AddRemotePlayer(2, "c")
			c.AddRemotePlayer(3, "d")
			c.AddSpectator(4, "s")
		}, ""},
		{"two handles on one address", p2p, func(c *cfgT) {
			c.NumPlayers = 3
			c.AddRemotePlayer(2, "b")
		}, ""},
		{"duplicate handle", p2p, func(c *cfgT) { c.AddRemotePlayer(0, "c") }, "already in use"},
		{"local handle out of range", p2p, func(c *cfgT) { c.AddLocalPlayer(5) }, "handle of a local player"},
		{"remote handle out of range", p2p, func(c *cfgT) { c.AddRemotePlayer(5, "c") }, "handle of a remote player"},
		{"negative handle", p2p, func(c *cfgT) { c.AddRemotePlayer(-1, "c") }, "handle of a remote player"},
		{"spectator handle below num players", p2p, func(c *cfgT) {
			c.Players = c.Players[:1]
			c.AddSpectator(1, "s")
		}, "handle of a spectator"},
		{"missing player", p2p, func(c *cfgT) { c.Players = c.Players[:1] }, "not enough players"},
		{"address both remote and spectator", p2p, func(c *cfgT) { c.AddSpectator(2, "b") }, "both as"},
		{"invalid kind", p2p, func(c *cfgT) { c.Players = append(c.Players, Player[string]{Handle: 3}) }, "invalid kind"},
		{"zero players", p2p, func(c *cfgT) { c.NumPlayers = 0 }, "NumPlayers"},
		{"too many players", p2p, func(c *cfgT) { c.NumPlayers = MaxPlayers + 1 }, "NumPlayers"},
		{"fps zero", p2p, func(c *cfgT) { c.FPS = 0 }, "FPS"},
		{"negative delay", p2p, func(c *cfgT) { c.InputDelay = -1 }, "InputDelay"},
		{"delay too big", p2p, func(c *cfgT) { c.InputDelay = MaxInputDelay + 1 }, "InputDelay"},
		{"negative prediction", p2p, func(c *cfgT) { c.MaxPrediction = -1 }, "MaxPrediction"},
		{"prediction too big", p2p, func(c *cfgT) { c.MaxPrediction = MaxPrediction + 1 }, "MaxPrediction"},
		{"lockstep", p2p, func(c *cfgT) { c.MaxPrediction = 0 }, ""},
		{"sparse lockstep", p2p, func(c *cfgT) { c.MaxPrediction = 0; c.SparseSaving = true }, "SparseSaving"},
		{"desync lockstep", p2p, func(c *cfgT) { c.MaxPrediction = 0; c.DesyncDetectionInterval = 10 }, "lockstep"},
		{"negative desync interval", p2p, func(c *cfgT) { c.DesyncDetectionInterval = -1 }, "DesyncDetectionInterval"},
		{"no codec", p2p, func(c *cfgT) { c.InputCodec = nil }, "InputCodec"},
		{"zero timeout", p2p, func(c *cfgT) { c.DisconnectTimeout = 0 }, "DisconnectTimeout"},
		{"notify after timeout", p2p, func(c *cfgT) { c.DisconnectNotifyStart = 3 * time.Second }, "DisconnectNotifyStart"},
		{"default synctest", synctest, func(c *cfgT) {}, ""},
		{"check distance too big", synctest, func(c *cfgT) { c.CheckDistance = 8 }, "check distance too big"},
		{"negative check distance", synctest, func(c *cfgT) { c.CheckDistance = -1 }, "negative"},
		{"synctest lockstep", synctest, func(c *cfgT) { c.MaxPrediction = 0; c.CheckDistance = 0 }, "check distance too big"},
		{"synctest sparse", synctest, func(c *cfgT) { c.SparseSaving = true }, "SparseSaving"},
		{"default spectator", spectator, func(c *cfgT) {}, ""},
		{"max frames behind zero", spectator, func(c *cfgT) { c.MaxFramesBehind = 0 }, "MaxFramesBehind"},
		{"max frames behind 60", spectator, func(c *cfgT) { c.MaxFramesBehind = 60 }, "MaxFramesBehind"},
		{"max frames behind 59", spectator, func(c *cfgT) { c.MaxFramesBehind = 59; c.CatchupSpeed = 10 }, ""},
		{"catchup zero", spectator, func(c *cfgT) { c.CatchupSpeed = 0 }, "CatchupSpeed"},
		// GGRS 0.13 dropped the rule CatchupSpeed < MaxFramesBehind.
		{"catchup equal max behind", spectator, func(c *cfgT) { c.CatchupSpeed = 10 }, ""},
		{"catchup above max behind", spectator, func(c *cfgT) { c.MaxFramesBehind = 2; c.CatchupSpeed = 1000 }, ""},
		{"input too large", spectator, func(c *cfgT) { c.InputCodec = bigCodec{} }, "InputCodec.Size"},
	} {
		cfg := twoPlayerConfig()
		tc.edit(&cfg)
		err := tc.validate(cfg)
		if tc.errPart == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("%s: error %v, want ErrInvalidRequest mentioning %q", tc.name, err, tc.errPart)
		}
	}
}

type bigCodec struct{ UintCodec[uint32] }

func (bigCodec) Size() int { return MaxInputSize + 1 }

func TestConfigFrameInputBytesLimit(t *testing.T) {
	cfg := DefaultConfig[[64]byte, string](ByteArrayCodec[[64]byte]{})
	cfg.NumPlayers = 17 // 17*64 > 1024
	err := cfg.validateSpectator()
	if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("error %v, want frame input size error", err)
	}
	cfg.NumPlayers = 16
	if err := cfg.validateSpectator(); err != nil {
		t.Fatal(err)
	}
}

func TestConstructorsValidate(t *testing.T) {
	cfg := twoPlayerConfig()
	cfg.FPS = 0
	if _, err := NewSyncTestSession[stubState](cfg); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("NewSyncTestSession: %v", err)
	}
}
