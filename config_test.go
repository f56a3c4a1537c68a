package rollbox

import (
	"flag"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rollbox/rollbox/rollback"
	"github.com/rollbox/rollbox/transport"
	"github.com/rollbox/rollbox/transport/simnet"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Logger == nil {
		t.Error("no default logger")
	}
	c.Logger = nil
	want := Config{Server: DefaultServer, Room: DefaultRoom, Players: DefaultPlayers, LocalPlayers: 1, Peers: 2,
		InputDelay: DefaultInputDelay, MaxPrediction: DefaultMaxPrediction, DesyncInterval: DefaultDesyncInterval,
		FPS: DefaultFPS, JoinTimeout: DefaultJoinTimeout, CheckDistance: DefaultCheckDistance}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults\n%+v\nwant\n%+v", c, want)
	}
	if c.desyncInterval() != DefaultDesyncInterval {
		t.Errorf("desync interval %d", c.desyncInterval())
	}

	for _, tc := range []struct {
		name  string
		in    Config
		check func(c Config) bool
	}{
		{"no input delay", Config{NoInputDelay: true}, func(c Config) bool { return c.InputDelay == 0 }},
		{"lockstep", Config{Lockstep: true, MaxPrediction: 5}, func(c Config) bool { return c.MaxPrediction == 0 && c.desyncInterval() == 0 }},
		{"desync detection off", Config{DesyncInterval: -1}, func(c Config) bool { return c.desyncInterval() == 0 }},
		{"sync test plays 600 frames", Config{SyncTest: true}, func(c Config) bool { return c.Frames == 600 }},
		{"headless plays 600 frames with a bot", Config{Headless: true}, func(c Config) bool { return c.Frames == 600 && c.Bot }},
		{"headless keeps its frames", Config{Headless: true, Frames: 9}, func(c Config) bool { return c.Frames == 9 }},
		{"two on one machine", Config{Players: 4, LocalPlayers: 2}, func(c Config) bool { return c.Peers == 2 }},
		{"a spectator plays no one", Config{Spectate: true, Spectators: 1, Players: 3}, func(c Config) bool {
			return c.LocalPlayers == 0 && c.Peers == 3
		}},
		{"a late spectator spectates, with no Spectators", Config{Watch: true}, func(c Config) bool {
			return c.Spectate && c.LocalPlayers == 0
		}},
		{"game's own settings kept", Config{InputDelay: 4, MaxPrediction: 12, FPS: 30, Room: "r"}, func(c Config) bool {
			return c.InputDelay == 4 && c.MaxPrediction == 12 && c.FPS == 30 && c.Room == "r"
		}},
	} {
		c, err := tc.in.withDefaults()
		if err != nil || !tc.check(c) {
			t.Errorf("%s: %+v, %v", tc.name, c, err)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		in   Config
		want string
	}{
		{Config{Players: -1}, "Players must be 1 to 64, got -1"},
		{Config{Players: rollback.MaxPlayers + 1}, "Players must be 1 to 64, got 65"},
		{Config{Spectate: true, LocalPlayers: 1, Spectators: 1}, "a spectator plays no one"},
		{Config{Players: 2, LocalPlayers: 3}, "LocalPlayers must be 1 to Players (2), got 3"},
		{Config{LocalPlayers: -1}, "LocalPlayers must be 1 to Players"},
		{Config{Players: 3, LocalPlayers: 2}, "3 players do not split into machines of 2: set Peers"},
		{Config{Players: 3, Peers: 4}, "Peers must be 1 to Players (3), got 4"},
		{Config{Spectators: -1}, "Spectators must be 0 to 64"},
		{Config{Spectate: true}, "Spectators >= 1"},
		{Config{Watch: true, Record: io.Discard}, "a late spectator (Watch) neither runs a sync test nor records"},
		{Config{Watch: true, SyncTest: true}, "a late spectator (Watch) neither runs a sync test nor records"},
		{Config{InputDelay: rollback.MaxInputDelay + 1}, "InputDelay must be 0 to 32, got 33"},
		{Config{InputDelay: -1}, "InputDelay must be 0 to 32"},
		{Config{MaxPrediction: rollback.MaxPrediction + 1}, "MaxPrediction must be 0 to 64, got 65"},
		{Config{FPS: -1}, "FPS must be 1 to 1000"},
		{Config{FPS: 1001}, "FPS must be 1 to 1000"},
		{Config{Frames: -1}, "Frames must not be negative"},
		{Config{SyncTest: true, CheckDistance: rollback.MaxPrediction}, "CheckDistance must be 1 to 63, got 64"},
		{Config{Transport: transport.Config{Channels: []transport.ChannelConfig{transport.Reliable()}}}, "Transport.Channels are the match's own"},
	} {
		_, err := tc.in.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rollbox: ") {
			t.Errorf("%+v: error %v, want one containing %q", tc.in, err, tc.want)
		}
	}
	// Every problem is reported at once.
	_, err := Config{InputDelay: -1, FPS: -1, Frames: -1}.withDefaults()
	if err == nil || strings.Count(err.Error(), "rollbox: ") != 3 {
		t.Errorf("three problems: %v", err)
	}
	// A bad Config stops NewMatch and Simulate before anything starts.
	if _, err := NewMatch(t.Context(), &walker{}, func(PlayerHandle) uint8 { return 0 }, Config{FPS: -1}); err == nil {
		t.Error("NewMatch accepted FPS -1")
	}
	if _, err := Simulate(&walker{}, Simulation[uint8]{Config: Config{InputDelay: -1}}); err == nil {
		t.Error("Simulate accepted InputDelay -1")
	}
}

// registered returns the flags RegisterFlags defines on a fresh set, after
// parsing args into c.
func registered(t *testing.T, c *Config, args ...string) *flag.FlagSet {
	t.Helper()
	fs := flag.NewFlagSet("game", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return fs
}

func TestRegisterFlagsNamesAndDefaults(t *testing.T) {
	var c Config
	fs := registered(t, &c)
	defaults := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { defaults[f.Name] = f.DefValue })
	want := map[string]string{
		"server": DefaultServer, "room": DefaultRoom, "token": "", "players": "2", "local-players": "0",
		"spectate": "false", "watch": "false", "spectators": "0", "input-delay": "", "max-prediction": "", "frames": "0",
		"headless": "false", "bot": "false", "seed": "0", "synctest": "false", "check-distance": "7", "loopback": "false",
		"netsim": "", "ice": "", "turn-user": "", "turn-pass": "",
	}
	if !reflect.DeepEqual(defaults, want) {
		t.Errorf("flags and defaults\n%v\nwant\n%v", defaults, want)
	}
	// Flags the Func kind cannot give a default name it in their usage.
	for name, def := range map[string]string{"input-delay": "(default 2)", "max-prediction": "(default 8)"} {
		if u := fs.Lookup(name).Usage; !strings.Contains(u, def) {
			t.Errorf("-%s usage %q does not say %s", name, u, def)
		}
	}
	// With no flags given, the Config plays as the zero Config does.
	got, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	zero, _ := Config{}.withDefaults()
	got.Logger, zero.Logger = nil, nil
	if !reflect.DeepEqual(got, zero) {
		t.Errorf("no flags: %+v, want %+v", got, zero)
	}

	// A game's own settings are the flags' defaults.
	game := Config{Room: "boxes", Players: 4, Frames: 100}
	fs = registered(t, &game)
	if fs.Lookup("room").DefValue != "boxes" || fs.Lookup("players").DefValue != "4" || fs.Lookup("frames").DefValue != "100" {
		t.Error("the game's settings are not the flags' defaults")
	}
}

func TestRegisterFlagsParse(t *testing.T) {
	t.Run("max-prediction 0 is lockstep", func(t *testing.T) {
		var c Config
		registered(t, &c, "-max-prediction", "0")
		d, err := c.withDefaults()
		if err != nil || !d.Lockstep || d.MaxPrediction != 0 || d.desyncInterval() != 0 {
			t.Errorf("%+v, %v: want lockstep", d, err)
		}
		c = Config{}
		registered(t, &c, "-max-prediction", "12")
		if d, _ := c.withDefaults(); d.Lockstep || d.MaxPrediction != 12 {
			t.Errorf("-max-prediction 12: %+v", d)
		}
	})
	t.Run("input-delay 0 is no delay", func(t *testing.T) {
		var c Config
		registered(t, &c, "-input-delay", "0")
		d, err := c.withDefaults()
		if err != nil || d.InputDelay != 0 || !d.NoInputDelay {
			t.Errorf("%+v, %v: want no input delay", d, err)
		}
		c = Config{}
		registered(t, &c, "-input-delay", "5")
		if d, _ := c.withDefaults(); d.InputDelay != 5 {
			t.Errorf("-input-delay 5: %d", d.InputDelay)
		}
	})
	t.Run("ice with TURN credentials", func(t *testing.T) {
		var c Config
		registered(t, &c, "-ice", "stun:stun.example.org:3478, turn:turn.example.org:3478,,turns:t2.example.org",
			"-turn-user", "alice", "-turn-pass", "secret")
		d, err := c.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		want := []transport.ICEServer{
			{URLs: []string{"stun:stun.example.org:3478"}},
			{URLs: []string{"turn:turn.example.org:3478"}, Username: "alice", Credential: "secret"},
			{URLs: []string{"turns:t2.example.org"}, Username: "alice", Credential: "secret"},
		}
		if !reflect.DeepEqual(d.ICEServers, want) {
			t.Errorf("ICE servers %+v, want %+v", d.ICEServers, want)
		}
	})
	t.Run("the rest", func(t *testing.T) {
		var c Config
		registered(t, &c, "-server", "wss://s.example.org", "-room", "r", "-token", "tok", "-players", "4",
			"-local-players", "2", "-spectators", "1", "-frames", "50", "-headless", "-seed", "9", "-synctest",
			"-check-distance", "3", "-loopback", "-netsim", "latency=100ms,loss=0.1")
		want := Config{Server: "wss://s.example.org", Room: "r", Token: "tok", Players: 4, LocalPlayers: 2,
			Spectators: 1, Frames: 50, Headless: true, Seed: 9, SyncTest: true, CheckDistance: 3, Loopback: true,
			NetSim: &simnet.Link{Latency: 100 * time.Millisecond, Loss: 0.1}}
		if !reflect.DeepEqual(c, want) {
			t.Errorf("parsed\n%+v\nwant\n%+v", c, want)
		}
	})
	for _, args := range [][]string{
		{"-input-delay", "x"}, {"-max-prediction", "1.5"}, {"-netsim", "latency=fast"}, {"-players", "two"},
	} {
		fs := flag.NewFlagSet("game", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var c Config
		c.RegisterFlags(fs)
		if err := fs.Parse(args); err == nil {
			t.Errorf("%q parsed", args)
		}
	}
}

// The defaults a user sees must not be test-only restrictions.
func TestConfigDefaultsSuitRealMatches(t *testing.T) {
	c, _ := Config{}.withDefaults()
	if c.Loopback || c.Bot || c.SyncTest || c.Frames != 0 || c.JoinTimeout < 30*time.Second {
		t.Errorf("the zero Config is not a real match: %+v", c)
	}
	if !slices.Contains([]*slog.Logger{slog.Default()}, c.Logger) {
		t.Error("the default logger is not slog.Default()")
	}
}

// withDefaults returns a changed copy: the caller's Config, which a test or
// a game may share between matches, is never written.
func TestConfigDefaultsLeaveTheCallersConfigAlone(t *testing.T) {
	var c Config
	registered(t, &c, "-ice", "turn:turn.example.org:3478", "-turn-user", "alice", "-turn-pass", "secret")
	d, err := c.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if d.ICEServers[0].Username != "alice" {
		t.Fatalf("credentials not applied: %+v", d.ICEServers)
	}
	if c.ICEServers[0].Username != "" || c.ICEServers[0].Credential != "" {
		t.Errorf("withDefaults wrote the caller's ICE servers: %+v", c.ICEServers)
	}
}
