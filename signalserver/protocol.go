package signalserver

import "github.com/rollbox/rollbox/signalwire"

// The frames the server makes, as package signalwire encodes them: each in
// one allocation of exactly its length. Peer ids never need JSON escaping:
// the server makes them and they are hex and hyphens only.

func idAssignedFrame(id signalwire.PeerID) []byte {
	return signalwire.ServerMessage{Kind: signalwire.IDAssigned, Peer: id}.Encode()
}

func newPeerFrame(id signalwire.PeerID) []byte {
	return signalwire.ServerMessage{Kind: signalwire.NewPeer, Peer: id}.Encode()
}

func peerLeftFrame(id signalwire.PeerID) []byte {
	return signalwire.ServerMessage{Kind: signalwire.PeerLeft, Peer: id}.Encode()
}

// signalFrame builds {"Signal":{"sender":S,"data":D}} with D byte for byte.
func signalFrame(sender signalwire.PeerID, data []byte) []byte {
	return signalwire.ServerMessage{Kind: signalwire.Signal, Peer: sender, Data: data}.Encode()
}
