// Package signalwire is the signalling wire protocol of matchbox, shared by
// the server (package signalserver), its clients (package transport, also
// built for js/wasm) and the tools that speak it: peer ids, the frames a
// client sends (KeepAlive, Signal) and the frames a server sends
// (IdAssigned, NewPeer, PeerLeft, Signal), and the ICE server list that
// GET /ice answers with.
//
// Frames are JSON text in serde's externally tagged enum encoding, as
// matchbox_protocol writes them:
//
//	client to server: "KeepAlive"
//	                  {"Signal":{"receiver":"<id>","data":<any JSON>}}
//	server to client: {"IdAssigned":"<id>"}
//	                  {"NewPeer":"<id>"}
//	                  {"PeerLeft":"<id>"}
//	                  {"Signal":{"sender":"<id>","data":<any JSON>}}
//
// The package imports only the standard library, nothing of net/http, so a
// browser build that uses it stays small. Its parsers read
// the exact shapes serde writes without reflection (a relay's hot path) and
// fall back to encoding/json for any other spelling of a valid frame; the
// data of a Signal is passed through byte for byte.
package signalwire
