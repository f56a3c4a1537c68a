package transport

import "context"

// The bottom layer of the mesh differs between builds: natively pion is the
// WebRTC stack and coder/websocket the signalling client; in the browser
// (GOOS=js) the page's own RTCPeerConnection, WebSocket and fetch do that
// work, so the page does not carry a second copy of DTLS, SCTP, ICE, TLS and
// an HTTP client. Everything above these interfaces (peer bookkeeping,
// negotiation order, chunking, reconnection, logs and counters) is shared.

// rtcConn is one peer connection with its negotiated data channels.
// Negotiation methods are called from the signalling goroutine only.
type rtcConn interface {
	// offer creates an offer, makes it the local description and returns
	// its SDP; answer does the same for an answer to the remote offer.
	offer() (string, error)
	answer() (string, error)
	// setRemote applies the peer's offer (isOffer) or answer.
	setRemote(isOffer bool, sdp string) error
	// addCandidate adds one of the peer's trickled candidates.
	addCandidate(c candidateInit) error
	// remoteFingerprint returns the hex SHA-256 of the certificate the peer
	// proved in its DTLS handshake; "" before it, or where the stack does
	// not tell.
	remoteFingerprint() string
	// close closes the channels and the connection; idempotent. It may call
	// back into the socket, so callers must not hold s.mu.
	close()
}

// rtcChannel is one negotiated data channel of an rtcConn.
type rtcChannel interface {
	// open readies the channel for read and write once the stack reported
	// it open.
	open() error
	// read blocks for the next message, as pion's ReadDataChannel: a buffer
	// too small gives io.ErrShortBuffer and the message's length, and the
	// message waits for a larger one. It fails once the channel closed.
	read(buf []byte) (int, error)
	// write sends one message without blocking.
	write(msg []byte) error
	// bufferedAmount is how many bytes wait to be sent.
	bufferedAmount() uint64
}

// rtcEvents are the stack's calls into the socket about one connection.
type rtcEvents struct {
	// candidate receives each local candidate as the JSON of an
	// RTCIceCandidateInit, and nil when gathering ends.
	candidate func(init []byte)
	// failed reports that the connection failed or closed.
	failed func(reason string)
	// opened reports that channel i opened.
	opened func(i int)
	// closed reports that channel i closed, where a blocked read does not
	// end by itself (see the js build).
	closed func(i int)
	// dropped counts an unreliable message of channel i dropped before it
	// reached the inbox (the js build's queue was full).
	dropped func(i int)
}

// candidateInit is a remote RTCIceCandidateInit as matchbox peers send it.
type candidateInit struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex"`
	UsernameFragment *string `json:"usernameFragment"`
}

// signalConn is one WebSocket to the signalling server.
type signalConn interface {
	// read returns the next frame, at most signalReadLimit bytes.
	read(ctx context.Context) ([]byte, error)
	// write sends one text frame.
	write(ctx context.Context, frame []byte) error
	// close says goodbye if the server answers within ctx, else just closes.
	close(ctx context.Context)
	// closeNow closes at once, unblocking read and write.
	closeNow()
}
