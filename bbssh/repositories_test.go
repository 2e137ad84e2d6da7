package bbssh

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// keyPairSource offers the keys of key pairs, as a bbssh agent does.
type keyPairSource []*KeyPair

func (k keyPairSource) Signers(ctx context.Context, passphrase func(string) ([]byte, error)) ([]ssh.Signer, []string, error) {
	var out []ssh.Signer
	var notes []string
	for i, kp := range k {
		if kp.IsEncrypted() {
			p, err := passphrase(fmt.Sprintf("key %d", i))
			if err != nil || !kp.Decrypt(p) {
				notes = append(notes, fmt.Sprintf("key %d: cannot decrypt", i))
				continue
			}
		}
		s, err := kp.Signer()
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s)
	}
	return out, notes, nil
}

// TestRepositories connects with the identities, host key repository and
// config source of the Options instead of files.
func TestRepositories(t *testing.T) {
	user, _ := GenerateKeyPair("ed25519", 0)
	host, _ := GenerateKeyPair("ecdsa", 256)
	hostSigner, _ := host.Signer()
	config := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(k.Marshal(), user.PublicKey().Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown key")
	}}
	config.AddHostKey(hostSigner)
	port := serveSSH(t, config)
	// The encrypted copy of the user's key needs the passphrase.
	pem, _ := user.PrivateKeyPEM([]byte("pw"))
	sealed, err := LoadKeyPair(pem, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseSSHConfigText("test config", []byte(fmt.Sprintf("Host alias\n  HostName 127.0.0.1\n  Port %d\n  User tester\n", port)))
	if err != nil {
		t.Fatal(err)
	}
	hostLine := fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(host.PublicKey()))
	other, _ := GenerateKeyPair("ecdsa", 256)
	otherLine := fmt.Sprintf("[127.0.0.1]:%d %s", port, ssh.MarshalAuthorizedKey(other.PublicKey()))
	for _, tc := range []struct {
		name     string
		ids      IdentitySource
		known    string
		strict   string
		pass     string
		wantKind Kind
		recorded bool
	}{
		{name: "known key", ids: keyPairSource{user}, known: hostLine},
		{name: "encrypted identity and passphrase", ids: keyPairSource{sealed}, known: hostLine, pass: "pw"},
		{name: "no identity", ids: keyPairSource{}, known: hostLine, wantKind: KindAuth},
		{name: "changed key", ids: keyPairSource{user}, known: otherLine, wantKind: KindHostKeyChanged},
		{name: "unknown key refused", ids: keyPairSource{user}, strict: "yes", wantKind: KindHostKeyUnknown},
		{name: "unknown key accepted and recorded", ids: keyPairSource{user}, strict: "accept-new", recorded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := NewKnownHostsContent([]byte(tc.known))
			s := NewSession(Options{Host: "alias", ConfigSource: cfg, Identities: tc.ids, HostKeyRepository: repo,
				NoAgent: true, NoDefaultIdentities: true, Passphrase: tc.pass, HostKeyPolicy: HostKeyPolicy{Strict: tc.strict}})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := s.Connect(ctx)
			defer s.Close()
			if KindOf(err) != tc.wantKind {
				t.Fatalf("Connect: %v, want kind %q", err, tc.wantKind)
			}
			if tc.recorded {
				st, _ := repo.Check(ctx, fmt.Sprintf("[127.0.0.1]:%d", port), host.PublicKey())
				if st != HostKeyOK {
					t.Errorf("accepted key not recorded: %v", st)
				}
			}
		})
	}
}
