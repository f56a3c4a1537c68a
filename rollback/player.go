package rollback

// PlayerKind says where a player's input comes from.
type PlayerKind uint8

const (
	// Local players give their input to this session via AddLocalInput.
	Local PlayerKind = iota + 1
	// Remote players run on another peer, reached at Player.Addr.
	Remote
	// Spectator peers receive every player's confirmed input from this
	// session but contribute none.
	Spectator
)

// String returns the kind's name.
func (k PlayerKind) String() string {
	switch k {
	case Local:
		return "local"
	case Remote:
		return "remote"
	case Spectator:
		return "spectator"
	}
	return "invalid"
}

// Player registers one handle with a session: its kind and, for remote players
// and spectators, the address of the peer. Several handles may share one
// address; the session keeps one connection per address.
type Player[A comparable] struct {
	Handle PlayerHandle
	Kind   PlayerKind
	Addr   A // ignored for Local players
}
