package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/rollbox/rollbox/internal/testcert"
	"github.com/rollbox/rollbox/signalwire"
)

// TestServesWSS: with -tls-cert and -tls-key, browsers on https pages can
// reach the server over wss://.
func TestServesWSS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	cfg, opts, err := parseFlags([]string{"-tls-cert", certFile, "-tls-key", keyFile}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	logger, _ := newLogger("error", "text", io.Discard)
	cfg.Logger = logger
	addr, stop := serveOnLoopback(t, cfg, opts, logger)

	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	conn, _, err := dialer.Dial("wss://"+addr+"/secure", nil)
	if err != nil {
		t.Fatal(err)
	}
	var msg struct{ IdAssigned string }
	if err := conn.ReadJSON(&msg); err != nil || !signalwire.ValidPeerID(msg.IdAssigned) {
		t.Fatalf("over wss: %v %+v", err, msg)
	}
	conn.Close()
	if _, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/plain", nil); err == nil {
		t.Fatal("plain ws accepted on a TLS listener")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// selfSigned writes a loopback certificate and its key as PEM files for
// -tls-cert and -tls-key, and returns a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	cert := testcert.Loopback(t)
	pool = x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	der := cert.Certificate[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
