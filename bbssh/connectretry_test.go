package bbssh

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bbssh/test/tcpserve"

	"golang.org/x/crypto/ssh"
)

// droppingServer is an in-process SSH server that closes its first drop
// connections at once, before sending its version, as OpenSSH's sshd does
// past MaxStartups; reset makes it reset them instead, as dropbear does.
type droppingServer struct {
	drop     int64
	reset    bool
	accepted atomic.Int64
}

// start runs the server with config and returns its port.
func (d *droppingServer) start(t *testing.T, config *ssh.ServerConfig) int {
	t.Helper()
	return tcpserve.Serve(t, func(c net.Conn) {
		if d.accepted.Add(1) <= d.drop {
			if d.reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			return
		}
		serveSSHConn(c, config, refuseChannels)
	})
}

func TestConnectRetriesEarlyDrops(t *testing.T) {
	tests := []struct {
		name     string
		drop     int64
		reset    bool
		attempts int // Options.ConnectionAttempts
		timeout  time.Duration
		wantErr  string // "" for success
		accepts  int64  // connections the server saw
	}{
		{name: "closed twice", drop: 2, accepts: 3},
		{name: "reset three times", drop: 3, reset: true, accepts: 4},
		{name: "attempts run out", drop: 5, attempts: 3, wantErr: "MaxStartups", accepts: 3},
		{name: "one attempt", drop: 1, attempts: 1, wantErr: "the only attempt", accepts: 1},
		{name: "connect timeout ends the retries", drop: 1000, timeout: 700 * time.Millisecond, wantErr: "MaxStartups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config, signer := openServerConfig(t)
			srv := &droppingServer{drop: tt.drop, reset: tt.reset}
			port := srv.start(t, config)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(recordingKnownHost(port, signer.PublicKey())), 0o600); err != nil {
				t.Fatal(err)
			}
			var logged atomic.Int64
			s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{kh},
				HostKeyPolicy: HostKeyPolicy{Strict: "yes"}, NoAgent: true, NoDefaultIdentities: true, NoConfig: true,
				ConnectTimeout: tt.timeout, ConnectionAttempts: tt.attempts,
				Log: func(_ LogLevel, m string) {
					if strings.Contains(m, "trying again") {
						logged.Add(1)
					}
				}})
			defer s.Close()
			start := time.Now()
			err := s.Connect(context.Background())
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
			} else if err == nil || KindOf(err) != KindConnect || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("want connect-failed naming %q, got %v", tt.wantErr, err)
			}
			if tt.accepts > 0 && srv.accepted.Load() != tt.accepts {
				t.Errorf("the server saw %d connections, want %d", srv.accepted.Load(), tt.accepts)
			}
			if tt.timeout > 0 && time.Since(start) > tt.timeout+time.Second {
				t.Errorf("retries outlasted the connect timeout: %v", time.Since(start))
			}
			if got := srv.accepted.Load() - 1; tt.wantErr == "" && logged.Load() != got {
				t.Errorf("logged %d retries, want %d", logged.Load(), got)
			}
		})
	}
}

// TestConnectNeverRetries covers what must fail on the first attempt: a
// refused port, a host key that does not match, failed authentication.
func TestConnectNeverRetries(t *testing.T) {
	t.Run("refused port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{},
			NoAgent: true, NoDefaultIdentities: true, NoConfig: true})
		start := time.Now()
		err = s.Connect(context.Background())
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("want connection refused, got %v", err)
		}
		if time.Since(start) > time.Second {
			t.Errorf("a refused port took %v: retried?", time.Since(start))
		}
	})
	for _, tt := range []struct {
		name    string
		known   func(port int, key ssh.PublicKey) string
		auth    bool
		wantErr Kind
	}{
		{name: "host key mismatch", known: func(port int, _ ssh.PublicKey) string {
			return recordingKnownHost(port, newSigner(t).PublicKey())
		}, wantErr: KindHostKeyChanged},
		{name: "authentication", known: recordingKnownHost, auth: true, wantErr: KindAuth},
	} {
		t.Run(tt.name, func(t *testing.T) {
			config, signer := openServerConfig(t)
			if tt.auth {
				config.NoClientAuth = false
				config.PasswordCallback = func(ssh.ConnMetadata, []byte) (*ssh.Permissions, error) {
					return nil, os.ErrPermission
				}
			}
			srv := &droppingServer{}
			port := srv.start(t, config)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tt.known(port, signer.PublicKey())), 0o600); err != nil {
				t.Fatal(err)
			}
			s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", Password: "wrong", KnownHosts: []string{kh},
				HostKeyPolicy: HostKeyPolicy{Strict: "yes"}, NoAgent: true, NoDefaultIdentities: true, NoConfig: true})
			defer s.Close()
			err := s.Connect(context.Background())
			if KindOf(err) != tt.wantErr {
				t.Fatalf("want %s, got %v", tt.wantErr, err)
			}
			if n := srv.accepted.Load(); n != 1 {
				t.Errorf("the server saw %d connections: retried", n)
			}
		})
	}
}
