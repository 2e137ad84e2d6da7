package testbed

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// keygenSpec is one key to create with ssh-keygen.
type keygenSpec struct {
	file       string   // file name inside the key directory
	args       []string // type/size/format flags
	passphrase string
}

// hostKeySpecs are the server's host keys, one per algorithm family the pod
// may negotiate.
var hostKeySpecs = []keygenSpec{
	{file: "ssh_host_ed25519_key", args: []string{"-t", "ed25519"}},
	{file: "ssh_host_ecdsa_key", args: []string{"-t", "ecdsa", "-b", "256"}},
	{file: "ssh_host_rsa_key", args: []string{"-t", "rsa", "-b", "3072"}},
}

// keySet holds the paths and public halves of every generated key.
type keySet struct {
	hostKeys   []string        // private host key paths, for HostKey lines
	hostPubs   []ssh.PublicKey // matching public keys
	clientKey  string          // unencrypted ed25519
	clientEnc  string          // ed25519 encrypted with passphrase
	passphrase string
	clientRSA  string // RSA-3072, PEM
	authorized []byte // authorized_keys content for all client keys
}

// generateKeys creates fresh host and client keys in dir with ssh-keygen,
// running the ssh-keygen processes concurrently since RSA generation
// dominates Start's latency.
func generateKeys(dir string) (*keySet, error) {
	pass, err := randomHex(12)
	if err != nil {
		return nil, err
	}
	ks := &keySet{passphrase: pass}
	clients := []keygenSpec{
		{file: "id_ed25519", args: []string{"-t", "ed25519"}},
		{file: "id_ed25519_encrypted", args: []string{"-t", "ed25519"}, passphrase: pass},
		{file: "id_rsa", args: []string{"-t", "rsa", "-b", "3072", "-m", "PEM"}},
	}
	specs := append(append([]keygenSpec{}, hostKeySpecs...), clients...)
	paths := make([]string, len(specs))
	pubs := make([]ssh.PublicKey, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() { paths[i], pubs[i], errs[i] = keygen(dir, spec) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	n := len(hostKeySpecs)
	ks.hostKeys, ks.hostPubs = paths[:n], pubs[:n]
	ks.clientKey, ks.clientEnc, ks.clientRSA = paths[n], paths[n+1], paths[n+2]
	for i := n; i < len(specs); i++ {
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pubs[i])))
		ks.authorized = append(ks.authorized, fmt.Sprintf("%s bbssh-test-%s\n", line, specs[i].file)...)
	}
	return ks, nil
}

// keygen runs ssh-keygen for spec and returns the private key path and the
// parsed public key. ssh-keygen writes private keys with mode 0600.
func keygen(dir string, spec keygenSpec) (string, ssh.PublicKey, error) {
	path := filepath.Join(dir, spec.file)
	args := append([]string{"-q", "-N", spec.passphrase, "-C", "bbssh-test-" + spec.file, "-f", path}, spec.args...)
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		return "", nil, fmt.Errorf("testbed: ssh-keygen %s: %w: %s", spec.file, err, bytes.TrimSpace(out))
	}
	raw, err := os.ReadFile(path + ".pub")
	if err != nil {
		return "", nil, fmt.Errorf("testbed: read public key: %w", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(raw)
	if err != nil {
		return "", nil, fmt.Errorf("testbed: parse %s.pub: %w", path, err)
	}
	return path, pub, nil
}

// knownHosts renders a known_hosts file listing every host key for
// [host]:port, the form OpenSSH uses for non-default ports.
func (ks *keySet) knownHosts(host string, port int) []byte {
	var b bytes.Buffer
	for _, pub := range ks.hostPubs {
		fmt.Fprintf(&b, "[%s]:%d %s", host, port, ssh.MarshalAuthorizedKey(pub))
	}
	return b.Bytes()
}

// fingerprints maps each host key type (as in known_hosts, e.g.
// "ssh-ed25519") to its "SHA256:..." fingerprint as ssh-keygen -lf shows it.
func (ks *keySet) fingerprints() map[string]string {
	m := make(map[string]string, len(ks.hostPubs))
	for _, pub := range ks.hostPubs {
		m[pub.Type()] = ssh.FingerprintSHA256(pub)
	}
	return m
}

// randomHex returns n random bytes as hex.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("testbed: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
