package transport

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
)

// maxICEBody bounds the /ice answer read: a list of a few servers.
const maxICEBody = 64 << 10

// iceURL returns the URL of the ICE server list next to a room URL:
// ws://host:3536/room?next=2 gives http://host:3536/ice, and a server
// mounted under a prefix (wss://host/signal/room) gives https://host/signal/ice.
// The room's token, if any, goes along: a server with room tokens on hands
// TURN credentials only to token holders.
func iceURL(room *url.URL) *url.URL {
	u := *room
	u.Scheme = map[string]string{"ws": "http", "wss": "https"}[room.Scheme]
	u.Path = path.Join(path.Dir(room.Path), "ice")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	if token := room.Query().Get("token"); token != "" {
		u.RawQuery = url.Values{"token": {token}}.Encode()
	}
	return &u
}

// fetchICEServers asks the signalling server for its ICE servers (GET /ice,
// as served by package signalserver): TURN credentials minted for this join.
// A server that does not offer them (matchbox_server answers 426) gives
// none, so the option is safe against any matchbox server.
func fetchICEServers(ctx context.Context, room *url.URL, client *http.Client) ([]ICEServer, error) {
	u := iceURL(room)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("transport: ICE servers: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("transport: ICE servers: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var list []struct {
		URLs       json.RawMessage `json:"urls"` // a string or a list, as in RTCIceServer
		Username   string          `json:"username"`
		Credential string          `json:"credential"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxICEBody)).Decode(&list); err != nil {
		return nil, fmt.Errorf("transport: ICE servers from %s: %w", u, err)
	}
	servers := make([]ICEServer, 0, len(list))
	for _, s := range list {
		var urls []string
		if err := json.Unmarshal(s.URLs, &urls); err != nil {
			var one string
			if err := json.Unmarshal(s.URLs, &one); err != nil {
				return nil, fmt.Errorf("transport: ICE servers from %s: urls: %w", u, err)
			}
			urls = []string{one}
		}
		if len(urls) > 0 {
			servers = append(servers, ICEServer{URLs: urls, Username: s.Username, Credential: s.Credential})
		}
	}
	return servers, nil
}

// withServerICE adds the signalling server's ICE servers to c's when
// ICEFromServer asks for them, before c's own (which thus still apply when
// the server offers none).
func (c Config) withServerICE(ctx context.Context, room *url.URL) (Config, error) {
	if !c.ICEFromServer {
		return c, nil
	}
	fetched, err := fetchICEServers(ctx, room, http.DefaultClient)
	if err != nil {
		return c, err
	}
	c.Logger.Debug("ICE servers from the signalling server", "count", len(fetched))
	c.ICEServers = append(fetched, c.ICEServers...)
	return c, nil
}
