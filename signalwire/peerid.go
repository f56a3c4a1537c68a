package signalwire

import "crypto/rand"

// PeerID is a peer's id: a hyphenated UUID that the server assigns (in
// IdAssigned), lowercase when this package's NewPeerID made it.
type PeerID string

// peerIDLen is the length of a hyphenated UUID.
const peerIDLen = 36

// NewPeerID returns a fresh random UUID v4, lowercase.
func NewPeerID() PeerID {
	var b [16]byte
	_, _ = rand.Read(b[:])  // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	const hexdigits = "0123456789abcdef"
	var s [peerIDLen]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexdigits[v>>4]
		s[j+1] = hexdigits[v&0x0f]
		j += 2
	}
	return PeerID(s[:])
}

// ValidPeerID reports whether s has the UUID text form matchbox clients send
// (8-4-4-4-12 hex digits). Upper-case hex is accepted, as serde's Uuid does.
func ValidPeerID(s string) bool {
	if len(s) != peerIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
