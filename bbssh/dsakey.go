package bbssh

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/crypto/ssh"
)

// DSA ("ssh-dss") public keys, read and written but never trusted.
//
// golang.org/x/crypto/ssh no longer parses ssh-dss keys (DSA is limited
// to 1024 bits and SHA-1; OpenSSH disabled it in 9.8 and removed it in
// 10.0). Old known_hosts files and bbssh 0.6 scripts still hold such
// keys, so host keys and public keys of this type are parsed here: they
// can be stored, listed, compared and written back, but a signature made
// with one is never accepted, so no server can prove its identity with
// a DSA key and no DSA key can log in.

// dsaKeyAlgo is the SSH name of DSA keys.
const dsaKeyAlgo = "ssh-dss"

// dsaPublicKey is a parsed ssh-dss public key (RFC 4253 6.6).
type dsaPublicKey struct {
	p, q, g, y *big.Int
}

// errDSASignature is what verifying a DSA signature answers.
var errDSASignature = errors.New("ssh: ssh-dss (DSA) signatures are not accepted: DSA is limited to 1024 bits and SHA-1, and OpenSSH removed it")

func (k *dsaPublicKey) Type() string { return dsaKeyAlgo }

func (k *dsaPublicKey) Marshal() []byte {
	return ssh.Marshal(struct {
		Name       string
		P, Q, G, Y *big.Int
	}{dsaKeyAlgo, k.p, k.q, k.g, k.y})
}

func (k *dsaPublicKey) Verify([]byte, *ssh.Signature) error { return errDSASignature }

// parseDSAPublicKey reads an ssh-dss wire-format blob.
func parseDSAPublicKey(blob []byte) (*dsaPublicKey, error) {
	var w struct {
		Name       string
		P, Q, G, Y *big.Int
		Rest       []byte `ssh:"rest"`
	}
	if err := ssh.Unmarshal(blob, &w); err != nil {
		return nil, fmt.Errorf("ssh: malformed ssh-dss key: %w", err)
	}
	if w.Name != dsaKeyAlgo {
		return nil, fmt.Errorf("ssh: not an ssh-dss key: %q", w.Name)
	}
	if len(w.Rest) > 0 {
		return nil, errors.New("ssh: trailing data after the ssh-dss key")
	}
	for _, v := range []*big.Int{w.P, w.Q, w.G, w.Y} {
		if v.Sign() <= 0 {
			return nil, errors.New("ssh: malformed ssh-dss key: a parameter is not positive")
		}
	}
	return &dsaPublicKey{p: w.P, q: w.Q, g: w.G, y: w.Y}, nil
}

// ParsePublicKey is ssh.ParsePublicKey that also reads ssh-dss keys (see
// above); the error for other blobs is x/crypto's.
func ParsePublicKey(blob []byte) (ssh.PublicKey, error) {
	pub, err := ssh.ParsePublicKey(blob)
	if err == nil {
		return pub, nil
	}
	if dsa, derr := parseDSAPublicKey(blob); derr == nil {
		return dsa, nil
	}
	return nil, err
}

// parseAuthorizedKey is ssh.ParseAuthorizedKey for one line that may also
// hold an ssh-dss key: "ssh-dss BASE64 [comment]".
func parseAuthorizedKey(line []byte) (ssh.PublicKey, string, error) {
	pub, comment, _, _, err := ssh.ParseAuthorizedKey(line)
	if err == nil {
		return pub, comment, nil
	}
	typ, rest := cutField(string(line))
	b64, comment := cutField(rest)
	if typ != dsaKeyAlgo || b64 == "" {
		return nil, "", err
	}
	blob, derr := base64.StdEncoding.DecodeString(b64)
	if derr != nil {
		return nil, "", err
	}
	dsa, derr := parseDSAPublicKey(blob)
	if derr != nil {
		return nil, "", derr
	}
	return dsa, strings.TrimSpace(comment), nil
}
