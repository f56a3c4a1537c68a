package transport

import "testing"

func TestRoomURL(t *testing.T) {
	for _, tc := range []struct {
		server, room string
		next         int
		token, want  string
	}{
		{"ws://h:3536", "lobby", 0, "", "ws://h:3536/lobby"},
		{"ws://h:3536/", "lobby", 4, "", "ws://h:3536/lobby?next=4"},
		{"wss://h", "a b/c", 2, "x.y+z", "wss://h/a%20b%2Fc?next=2&token=x.y%2Bz"},
	} {
		if got := RoomURL(tc.server, tc.room, tc.next, tc.token); got != tc.want {
			t.Errorf("RoomURL(%q, %q, %d, %q) = %q, want %q", tc.server, tc.room, tc.next, tc.token, got, tc.want)
		}
	}
}
