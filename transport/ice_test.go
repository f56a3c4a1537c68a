//go:build !js

package transport

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// iceServerAnswering serves body on /ice and returns the room URL next to it.
func iceServerAnswering(t *testing.T, body string) *url.URL {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ice" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(hs.Close)
	room, err := url.Parse("ws" + strings.TrimPrefix(hs.URL, "http") + "/room")
	if err != nil {
		t.Fatal(err)
	}
	return room
}

// The /ice answer is read as the browser reads an RTCIceServer list (urls a
// string or a list), and an entry naming no server is skipped rather than
// failing the join.
func TestFetchICEServersReadsTheServersAnswer(t *testing.T) {
	room := iceServerAnswering(t, `[
		{"urls":"stun:stun.example.org:3478"},
		{"username":"orphan","credential":"no urls"},
		{"urls":["turn:turn.example.org:3478?transport=udp","turns:turn.example.org:5349"],"username":"1700000000:a","credential":"c"}
	]`)
	ctx := testContext(t, 20*time.Second)
	got, err := fetchICEServers(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	want := []ICEServer{
		{URLs: []string{"stun:stun.example.org:3478"}},
		{URLs: []string{"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"}, Username: "1700000000:a", Credential: "c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ICE servers %+v, want %+v", got, want)
	}
}

// An answer longer than maxICEBody is cut short, and so refused: a server
// cannot make the socket buffer an unbounded body.
func TestFetchICEServersRefusesAnOversizedAnswer(t *testing.T) {
	entry := `{"urls":"stun:stun.example.org:3478"},`
	body := "[" + strings.Repeat(entry, maxICEBody/len(entry)+1) + `{"urls":"stun:last"}]`
	room := iceServerAnswering(t, body)
	ctx := testContext(t, 20*time.Second)
	servers, err := fetchICEServers(ctx, room)
	if err == nil || !strings.HasPrefix(err.Error(), "transport: ") {
		t.Fatalf("fetched %d servers, err %v; want a transport error for a body over %d bytes", len(servers), err, maxICEBody)
	}
}
