package signalserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// roomClaims are the claims of a room token: a JWT signed with HS256 that
// lets its bearer join one room until it expires. Browsers cannot set
// headers on a WebSocket, so the token rides in the query: /room?token=...
type roomClaims struct {
	// Room is the room id the token opens (percent-decoded, as the server
	// compares it with the path). A token without one opens no room, not
	// even the room at /, whose id is empty.
	Room string `json:"room"`
	// MaxNext, when above zero, requires ?next= between 1 and MaxNext: the
	// token holder may only form groups of at most that size.
	MaxNext int `json:"max_next,omitempty"`
	jwt.RegisteredClaims
}

// MintToken returns a token for room (not empty) valid for ttl from now, signed with
// secret. maxNext 0 allows any join to the room.
//
// A token is a JWT signed with HS256 whose claims are "room" (the room id,
// percent-decoded, as the path names it), "exp", and optionally "max_next"
// (above zero: the join must give ?next= between 1 and it): a token minted
// elsewhere with these claims and the same secret works as well.
func MintToken(secret []byte, room string, ttl time.Duration, maxNext int, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("signalserver: empty token secret")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("signalserver: token lifetime must be positive, got %v", ttl)
	}
	if room == "" {
		return "", errors.New("signalserver: a token needs a room")
	}
	claims := roomClaims{
		Room:    room,
		MaxNext: maxNext,
		RegisteredClaims: jwt.RegisteredClaims{
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}

// checkToken returns why r may not join key, or "" when it may (or when
// authentication is off). The reason is one line for the 401 answer.
func (s *Server) checkToken(r *http.Request, key roomKey) string {
	if len(s.cfg.AuthSecret) == 0 {
		return ""
	}
	claims, reason := s.parseToken(r)
	switch {
	case reason != "":
		return reason
	case claims.Room != key.ID:
		return "token is for another room"
	case claims.MaxNext > 0 && (key.Next < 1 || key.Next > claims.MaxNext):
		return fmt.Sprintf("token requires next between 1 and %d", claims.MaxNext)
	}
	return ""
}

// parseToken checks the signature and expiry of r's ?token= and returns its
// claims, or why it is no good.
func (s *Server) parseToken(r *http.Request) (roomClaims, string) {
	var claims roomClaims
	raw := r.URL.Query().Get("token")
	if raw == "" {
		return claims, "token required: join with ?token="
	}
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.AuthSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), // never "none", never a public-key alg
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second), // clock skew between the minting host and this one
	)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return claims, "token expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return claims, "token signature invalid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return claims, "token has no expiry"
	case err != nil:
		return claims, "token invalid"
	case claims.Room == "":
		// Not a token MintToken makes: it must open nothing, not even the
		// room at / (or TURN credentials from /ice).
		return claims, "token names no room"
	}
	return claims, ""
}

// redactedURI returns u's path and query for a log line, with the value of
// every query parameter that could carry a token replaced: a token in the
// logs would let anyone who reads them join its room.
func redactedURI(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	parts := strings.Split(u.RawQuery, "&")
	for i, part := range parts {
		key, _, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(key)
		switch {
		case strings.Contains(part, ";") || err != nil:
			// net/url skips such a part, but a client may have meant a token.
			parts[i] = "REDACTED"
		case strings.Contains(strings.ToLower(k), "token"):
			parts[i] = key + "=REDACTED"
		}
	}
	return u.EscapedPath() + "?" + strings.Join(parts, "&")
}
