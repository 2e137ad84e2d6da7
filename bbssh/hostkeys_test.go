package bbssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// certServer is an in-process SSH server whose host key is a certificate
// signed by ca, for principal 127.0.0.1; it lets anyone in.
func certServer(t *testing.T, ca ssh.Signer) (port int) {
	t.Helper()
	hostSigner := newSigner(t)
	cert := &ssh.Certificate{Key: hostSigner.PublicKey(), CertType: ssh.HostCert, KeyId: "test host",
		ValidPrincipals: []string{"127.0.0.1"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := ssh.NewCertSigner(cert, hostSigner)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{NoClientAuth: true}
	config.AddHostKey(certSigner)
	return serveSSH(t, config)
}

func TestCertAuthorityHostKeys(t *testing.T) {
	ca, otherCA := newSigner(t), newSigner(t)
	port := certServer(t, ca)
	tests := []struct {
		name     string
		line     string // the known_hosts line
		wantKind Kind   // "" for success
	}{
		{"trusted CA", fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(ca.PublicKey())), ""},
		{"trusted CA with a wildcard", fmt.Sprintf("@cert-authority * %s", ssh.MarshalAuthorizedKey(ca.PublicKey())), ""},
		{"another CA", fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(otherCA.PublicKey())), KindHostKeyUnknown},
		{"revoked CA", fmt.Sprintf("@cert-authority * %s@revoked * %s", ssh.MarshalAuthorizedKey(ca.PublicKey()), ssh.MarshalAuthorizedKey(ca.PublicKey())), KindHostKeyRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tt.line), 0o600); err != nil {
				t.Fatal(err)
			}
			s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone", KnownHosts: []string{kh},
				HostKeyPolicy: HostKeyPolicy{Strict: "yes"}, NoAgent: true, NoDefaultIdentities: true, NoConfig: true,
				ConnectTimeout: 10 * time.Second})
			defer s.Close()
			err := s.Connect(context.Background())
			if tt.wantKind == "" {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				return
			}
			if KindOf(err) != tt.wantKind {
				t.Fatalf("Connect error %v (kind %q), want kind %q", err, KindOf(err), tt.wantKind)
			}
		})
	}
}

// TestBannerGoesToMessages checks that the server's banner reaches
// Options.Messages (the pod points it at stderr, or at a user-info's
// :show-message), and nowhere when Messages is nil.
func TestBannerGoesToMessages(t *testing.T) {
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := ssh.NewSignerFromKey(hostPriv)
	config := &ssh.ServerConfig{NoClientAuth: true,
		BannerCallback: func(ssh.ConnMetadata) string { return "Authorized use only.\n" }}
	config.AddHostKey(hostSigner)
	port := serveSSH(t, config)
	for _, messages := range []*syncBuffer{{}, nil} {
		opts := Options{Host: "127.0.0.1", Port: port, User: "u", KnownHosts: []string{},
			HostKeyPolicy: HostKeyPolicy{Accept: "yes"}, NoAgent: true, NoDefaultIdentities: true, NoConfig: true}
		if messages != nil {
			opts.Messages = messages
		}
		s := NewSession(opts)
		if err := s.Connect(context.Background()); err != nil {
			t.Fatalf("Connect: %v", err)
		}
		s.Close()
		if messages != nil && !strings.Contains(messages.String(), "Authorized use only.") {
			t.Errorf("Messages got %q, want the banner", messages.String())
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
