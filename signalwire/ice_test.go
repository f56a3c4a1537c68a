package signalwire

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseICEServers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []ICEServer
		ok   bool
	}{
		{`[]`, []ICEServer{}, true},
		{`[{"urls":["stun:a:3478","stun:b:3478"]},{"urls":"turn:t:3478","username":"1:x","credential":"p"}]`,
			[]ICEServer{{URLs: []string{"stun:a:3478", "stun:b:3478"}}, {URLs: []string{"turn:t:3478"}, Username: "1:x", Credential: "p"}}, true},
		// Entries that name no server are dropped.
		{`[{"urls":[]},{"urls":null},{"username":"u"},{"urls":"stun:a"}]`, []ICEServer{{URLs: []string{"stun:a"}}}, true},
		{`{"urls":"stun:a"}`, nil, false},
		{`[{"urls":1}]`, nil, false},
		{`[{"urls":["stun:a",2]}]`, nil, false},
		{`[`, nil, false},
	} {
		got, err := ParseICEServers([]byte(tc.in))
		if (err == nil) != tc.ok || tc.ok && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseICEServers(%s) = %#v, %v; want %#v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestICEServersRoundTrip: what a server marshals, a client parses.
func TestICEServersRoundTrip(t *testing.T) {
	want := []ICEServer{{URLs: []string{"stun:a:3478"}}, {URLs: []string{"turn:t:3478?transport=udp", "turn:t:3478?transport=tcp"}, Username: "1700000000:x", Credential: "c2VjcmV0"}}
	body, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != `[{"urls":["stun:a:3478"]},{"urls":["turn:t:3478?transport=udp","turn:t:3478?transport=tcp"],"username":"1700000000:x","credential":"c2VjcmV0"}]` {
		t.Errorf("marshalled as %s", body)
	}
	got, err := ParseICEServers(body)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parsed back as %#v, %v", got, err)
	}
}

// FuzzParseICEServers: no input panics, and every list accepted names a
// server in each entry and survives a round trip.
func FuzzParseICEServers(f *testing.F) {
	for _, seed := range []string{`[]`, `[{"urls":"stun:a"}]`, `[{"urls":["turn:a"],"username":"u","credential":"c"}]`, `[{"urls":null}]`, `null`, `[{"urls":1}]`, "\xff"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		servers, err := ParseICEServers(in)
		if err != nil {
			return
		}
		for _, s := range servers {
			if len(s.URLs) == 0 {
				t.Fatalf("accepted an entry without URLs: %+v", s)
			}
		}
		body, err := json.Marshal(servers)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseICEServers(body)
		if err != nil || len(back) != len(servers) {
			t.Fatalf("%+v re-encoded as %s parses as %+v, %v", servers, body, back, err)
		}
	})
}
