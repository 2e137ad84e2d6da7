package bbssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// lockedBuffer collects Messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestChangedHostKey: a server whose key differs from the known one is
// refused, unless strict host key checking is off (or :accept-host-key
// true with strict checking left to ask); then the connection goes on as
// OpenSSH's does, with a warning, public key auth only, no agent or port
// forwarding, and the known key kept.
func TestChangedHostKey(t *testing.T) {
	_, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	clientPEM := pem.EncodeToMemory(block)
	clientPub, _ := ssh.NewPublicKey(clientPriv.Public())

	var passwordsSeen atomic.Int32
	config := &ssh.ServerConfig{
		PasswordCallback: func(_ ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			passwordsSeen.Add(1)
			if string(pw) == "secret" {
				return nil, nil
			}
			return nil, errors.New("wrong password")
		},
		PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), clientPub.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	hostKey := newSigner(t)
	config.AddHostKey(hostKey)
	port := serveSSH(t, config)
	stale := newSigner(t).PublicKey() // the key of the server that was there before
	host := fmt.Sprintf("[127.0.0.1]:%d", port)
	staleLine := host + " " + string(ssh.MarshalAuthorizedKey(stale))

	tests := []struct {
		name     string
		policy   HostKeyPolicy
		key      bool   // offer the client key (else only the password)
		wantKind Kind   // "" when the connection goes on
		wantErr  string // in the error
	}{
		{"strict off, key auth", HostKeyPolicy{Strict: "no"}, true, "", ""},
		{"accept-host-key true, key auth", HostKeyPolicy{Accept: "yes"}, true, "", ""},
		{"strict off, password only", HostKeyPolicy{Strict: "no"}, false, KindHostKeyChanged, "password authentication is disabled on this connection to avoid man-in-the-middle attacks"},
		{"default", HostKeyPolicy{}, true, KindHostKeyChanged, "refusing to connect"},
		{"accept-host-key :new", HostKeyPolicy{Accept: "new"}, true, KindHostKeyChanged, "refusing to connect"},
		{"accept-new", HostKeyPolicy{Strict: "accept-new"}, true, KindHostKeyChanged, "refusing to connect"},
		{"strict on, accept-host-key true", HostKeyPolicy{Strict: "yes", Accept: "yes"}, true, KindHostKeyChanged, "refusing to connect"},
		{"accept-host-key false", HostKeyPolicy{Accept: "no"}, true, KindHostKeyChanged, "refusing to connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			passwordsSeen.Store(0)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(staleLine), 0o600); err != nil {
				t.Fatal(err)
			}
			var messages lockedBuffer
			var logged []string
			var logMu sync.Mutex
			o := Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{kh}, HostKeyPolicy: tt.policy,
				Password: "secret", NoAgent: true, NoDefaultIdentities: true, NoConfig: true, ConnectTimeout: 10 * time.Second,
				Messages: &messages, Log: func(level LogLevel, m string) {
					logMu.Lock()
					defer logMu.Unlock()
					if level == LogError {
						logged = append(logged, m)
					}
				}}
			if tt.key {
				o.PrivateKey = clientPEM
			}
			s := NewSession(o)
			defer s.Close()
			err := s.Connect(context.Background())
			if tt.wantKind != "" {
				if KindOf(err) != tt.wantKind || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Connect = %v; want a %s error containing %q", err, tt.wantKind, tt.wantErr)
				}
				if n := passwordsSeen.Load(); n != 0 {
					t.Errorf("the password went to a server whose key changed (%d times)", n)
				}
			} else {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				if passwordsSeen.Load() != 0 {
					t.Error("password auth was tried on a connection whose host key changed")
				}
				if s.HostKeyChanged() == nil {
					t.Error("HostKeyChanged() is nil on a connection whose key changed")
				}
				for _, want := range []string{"WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!", ssh.FingerprintSHA256(hostKey.PublicKey()),
					"Password authentication is disabled", "Port forwarding is disabled", "Agent forwarding is disabled"} {
					if !strings.Contains(messages.String(), want) {
						t.Errorf("the warning lacks %q:\n%s", want, messages.String())
					}
				}
				logMu.Lock()
				if len(logged) == 0 || !strings.Contains(strings.Join(logged, "\n"), "REMOTE HOST IDENTIFICATION HAS CHANGED") {
					t.Errorf("no error-level log of the changed key: %q", logged)
				}
				logMu.Unlock()
				_, err := s.Forward(ForwardSpec{TargetHost: "127.0.0.1", TargetPort: 9})
				if KindOf(err) != KindHostKeyChanged || !strings.Contains(err.Error(), "port forwarding is disabled") {
					t.Errorf("a forward on the untrusted connection: %v", err)
				}
			}
			if data, _ := os.ReadFile(kh); string(data) != staleLine {
				t.Errorf("known_hosts changed to %q", data)
			}
		})
	}

	// A trusted key: nothing is disabled.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(kh, []byte(host+" "+string(ssh.MarshalAuthorizedKey(hostKey.PublicKey()))), 0o600)
	s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{kh}, HostKeyPolicy: HostKeyPolicy{Strict: "no"},
		Password: "secret", NoAgent: true, NoDefaultIdentities: true, NoConfig: true, ConnectTimeout: 10 * time.Second})
	defer s.Close()
	if err := s.Connect(context.Background()); err != nil || s.HostKeyChanged() != nil || passwordsSeen.Load() == 0 {
		t.Fatalf("trusted key: %v, changed %v, passwords %d", err, s.HostKeyChanged(), passwordsSeen.Load())
	}
}
