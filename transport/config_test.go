package transport

import (
	"testing"
	"time"
)

// TestConfigDefaults: a zero or negative setting takes its Default
// constant, and a set one is kept.
func TestConfigDefaults(t *testing.T) {
	type setting struct {
		name      string
		got, want int64
	}
	check := func(settings []setting) {
		t.Helper()
		for _, s := range settings {
			if s.got != s.want {
				t.Errorf("%s = %d, want %d", s.name, s.got, s.want)
			}
		}
	}
	for _, in := range []Config{{}, {
		KeepAliveInterval: -1, ICEDisconnectedTimeout: -1, ICEFailedTimeout: -1, ICEKeepAliveInterval: -1,
		ConnectTimeout: -1, ReconnectMinDelay: -1, ReconnectMaxDelay: -1,
		SendBufferLimit: -1, ReliableBufferLimit: -1, ReceiveBufferSize: -1, MaxMessageSize: -1,
	}} {
		c, err := in.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		check([]setting{
			{"KeepAliveInterval", int64(c.KeepAliveInterval), int64(DefaultKeepAliveInterval)},
			{"ICEDisconnectedTimeout", int64(c.ICEDisconnectedTimeout), int64(DefaultICEDisconnectedTimeout)},
			{"ICEFailedTimeout", int64(c.ICEFailedTimeout), int64(DefaultICEFailedTimeout)},
			{"ICEKeepAliveInterval", int64(c.ICEKeepAliveInterval), int64(DefaultICEKeepAliveInterval)},
			{"ConnectTimeout", int64(c.ConnectTimeout), int64(DefaultConnectTimeout)},
			{"ReconnectMinDelay", int64(c.ReconnectMinDelay), int64(DefaultReconnectMinDelay)},
			{"ReconnectMaxDelay", int64(c.ReconnectMaxDelay), int64(DefaultReconnectMaxDelay)},
			{"SendBufferLimit", int64(c.SendBufferLimit), DefaultSendBufferLimit},
			{"ReliableBufferLimit", int64(c.ReliableBufferLimit), DefaultReliableBufferLimit},
			{"ReceiveBufferSize", int64(c.ReceiveBufferSize), DefaultReceiveBufferSize},
			{"MaxMessageSize", int64(c.MaxMessageSize), DefaultMaxMessageSize},
		})
		if len(c.Channels) != 1 || c.Channels[0].reliableOrdered() || c.Logger == nil {
			t.Errorf("channels %+v, logger %v: want one unreliable channel and a logger", c.Channels, c.Logger)
		}
	}
	// Set values are kept; a maximum backoff under the minimum is raised.
	c, err := Config{KeepAliveInterval: time.Second, ReconnectMinDelay: 3 * time.Second, ReconnectMaxDelay: time.Second, MaxMessageSize: 1 << 10}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	check([]setting{
		{"KeepAliveInterval", int64(c.KeepAliveInterval), int64(time.Second)},
		{"ReconnectMinDelay", int64(c.ReconnectMinDelay), int64(3 * time.Second)},
		{"ReconnectMaxDelay", int64(c.ReconnectMaxDelay), int64(3 * time.Second)},
		{"MaxMessageSize", int64(c.MaxMessageSize), 1 << 10},
	})
	if _, err := (Config{Channels: make([]ChannelConfig, 1025)}).withDefaults(); err == nil {
		t.Error("1025 channels accepted")
	}
}
