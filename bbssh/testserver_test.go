package bbssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bbssh/test/tcpserve"

	"golang.org/x/crypto/ssh"
)

// The engine's unit tests talk to in-process SSH servers (the end-to-end
// tests use a real OpenSSH sshd). These helpers start them.

// newSigner returns a fresh ed25519 signer, for a host key or a CA.
func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openServerConfig lets anyone in to a server with a fresh host key,
// which it returns too.
func openServerConfig(t *testing.T) (*ssh.ServerConfig, ssh.Signer) {
	t.Helper()
	hostKey := newSigner(t)
	config := &ssh.ServerConfig{NoClientAuth: true}
	config.AddHostKey(hostKey)
	return config, hostKey
}

// serveSSHWith runs an in-process SSH server with config on 127.0.0.1
// until the test ends and returns its port. serve gets each connection
// after its handshake; the connection is closed when serve returns.
func serveSSHWith(t *testing.T, config *ssh.ServerConfig, serve func(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request)) int {
	t.Helper()
	return tcpserve.Serve(t, func(c net.Conn) { serveSSHConn(c, config, serve) })
}

// serveSSHConn runs the server side of one connection: the handshake,
// then serve.
func serveSSHConn(c net.Conn, config *ssh.ServerConfig, serve func(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request)) {
	sc, chans, reqs, err := ssh.NewServerConn(c, config)
	if err != nil {
		return
	}
	defer sc.Close()
	serve(sc, chans, reqs)
}

// connectedSession runs an in-process SSH server that lets anyone in and
// hands each connection to serve, and returns a session connected to it
// that knows its host key (closed when the test ends). change, when not
// nil, adjusts the session's options first.
func connectedSession(t *testing.T, serve func(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request), change func(*Options)) *Session {
	t.Helper()
	config, signer := openServerConfig(t)
	port := serveSSHWith(t, config, serve)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(recordingKnownHost(port, signer.PublicKey())), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{kh},
		HostKeyPolicy: HostKeyPolicy{Strict: "yes"}, NoAgent: true, NoDefaultIdentities: true, NoConfig: true,
		ConnectTimeout: 10 * time.Second}
	if change != nil {
		change(&o)
	}
	s := NewSession(o)
	t.Cleanup(func() { s.Close() })
	if err := s.Connect(context.Background()); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return s
}

// serveSSH runs an in-process SSH server with config that lets clients
// in and refuses every channel; it returns the port.
func serveSSH(t *testing.T, config *ssh.ServerConfig) int {
	return serveSSHWith(t, config, refuseChannels)
}

// refuseChannels serves a connection that lets the client in and refuses
// every channel.
func refuseChannels(_ *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	go ssh.DiscardRequests(reqs)
	for ch := range chans {
		ch.Reject(ssh.Prohibited, "no channels here")
	}
}
