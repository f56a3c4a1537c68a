package transport

import (
	"net/url"
	"strconv"
	"strings"
)

// RoomURL builds the URL Join takes: the signalling server's base URL, the
// room (escaped as one path segment), next when above zero, and a room token
// when set. The token rides in the URL, so the socket's reconnects send it too.
func RoomURL(server, room string, next int, token string) string {
	u := strings.TrimSuffix(server, "/") + "/" + url.PathEscape(room)
	q := url.Values{}
	if next > 0 {
		q.Set("next", strconv.Itoa(next))
	}
	if token != "" {
		q.Set("token", token)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}
