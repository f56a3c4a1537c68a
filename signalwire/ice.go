package signalwire

import (
	"encoding/json"
	"fmt"
)

// ICEServer is one entry of the GET /ice answer, a JSON list shaped as the
// browser's RTCIceServer: {"urls":[...],"username":...,"credential":...}.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// UnmarshalJSON accepts urls as a list or as one string, as RTCIceServer
// does.
func (s *ICEServer) UnmarshalJSON(b []byte) error {
	var v struct {
		URLs       json.RawMessage `json:"urls"`
		Username   string          `json:"username"`
		Credential string          `json:"credential"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var urls []string
	if len(v.URLs) > 0 && v.URLs[0] == '"' {
		var one string
		if err := json.Unmarshal(v.URLs, &one); err != nil {
			return fmt.Errorf("signalwire: urls: %w", err)
		}
		urls = []string{one}
	} else if len(v.URLs) > 0 {
		if err := json.Unmarshal(v.URLs, &urls); err != nil {
			return fmt.Errorf("signalwire: urls: %w", err)
		}
	}
	*s = ICEServer{URLs: urls, Username: v.Username, Credential: v.Credential}
	return nil
}

// ParseICEServers decodes a GET /ice answer. Entries without URLs are
// dropped: they name no server.
func ParseICEServers(body []byte) ([]ICEServer, error) {
	var list []ICEServer
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("signalwire: ICE servers: %w", err)
	}
	servers := list[:0]
	for _, s := range list {
		if len(s.URLs) > 0 {
			servers = append(servers, s)
		}
	}
	return servers, nil
}
