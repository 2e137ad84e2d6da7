package bbssh

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// Error kinds of key handling.
const (
	// KindBadKey is a key that cannot be parsed, does not match its other
	// half, or lacks the half an operation needs.
	KindBadKey Kind = "bad-key"
	// KindUnsupported is something bbssh 0.6 offered that this engine
	// cannot do (DSA and Ed448 key generation).
	KindUnsupported Kind = "unsupported"
)

// KeyPair is an SSH key pair, or one half of one, as bbssh 0.6's key-pair
// namespace (JSch's KeyPair) handles it: generated, or loaded from key
// files; possibly still encrypted; able to sign, to report its
// fingerprint and size, and to be written in OpenSSH's formats. It is safe
// for concurrent use.
type KeyPair struct {
	mu         sync.Mutex
	pub        ssh.PublicKey     // nil when only an encrypted private key without public half is known
	priv       crypto.Signer     // nil: public half only, still encrypted, or disposed
	sealed     []byte            // the private key file while it is still encrypted
	passphrase []byte            // for WritePrivateKey, from SetPassphrase
	comment    string            // from the public key file, written back with it
	disposed   bool              // Dispose was called
	raw        crypto.PrivateKey // what priv was made from, for marshalling
}

// GenerateKeyPair makes a new key of keyType ("rsa", "ecdsa" or
// "ed25519"). bits is the RSA modulus size (0 means 2048, bbssh 0.6's
// default; at least 1024 as OpenSSH requires) or the ECDSA curve size
// (256, 384 or 521; 0 or 2048, 0.6's default, mean 256); Ed25519 ignores
// it. "dsa" and "ed448" are refused with KindUnsupported: no server this
// pod can talk to accepts such a key (OpenSSH removed DSA and never had
// Ed448), and golang.org/x/crypto/ssh can sign with neither.
func GenerateKeyPair(keyType string, bits int) (*KeyPair, error) {
	var key crypto.Signer
	var err error
	switch keyType {
	case "rsa":
		if bits == 0 {
			bits = 2048
		}
		if bits < 1024 || bits > 16384 {
			return nil, errorf(KindBadOption, nil, "RSA key size %d is out of range 1024-16384", bits)
		}
		key, err = rsa.GenerateKey(rand.Reader, bits)
	case "ecdsa":
		var curve elliptic.Curve
		switch bits {
		case 0, 256, 2048:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		default:
			return nil, errorf(KindBadOption, nil, "ECDSA key size %d is not one of 256, 384, 521", bits)
		}
		key, err = ecdsa.GenerateKey(curve, rand.Reader)
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "dsa":
		return nil, errorf(KindUnsupported, nil, "generating dsa keys is not supported: DSA is limited to 1024 bits and SHA-1, OpenSSH removed it (disabled in 9.8, gone in 10.0) and golang.org/x/crypto/ssh no longer signs or verifies it, so a new DSA key could log in nowhere; use ed25519 (or ecdsa, rsa)")
	case "ed448":
		return nil, errorf(KindUnsupported, nil, "generating ed448 keys is not supported: OpenSSH never implemented ssh-ed448 (RFC 8709) and golang.org/x/crypto/ssh cannot sign with it, so such a key could log in nowhere; use ed25519")
	default:
		return nil, errorf(KindBadOption, nil, "unknown key type %q (known: rsa, ecdsa, ed25519)", keyType)
	}
	if err != nil {
		return nil, errorf(KindBadKey, err, "generating a %s key", keyType)
	}
	return newKeyPair(key)
}

func newKeyPair(key crypto.PrivateKey) (*KeyPair, error) {
	// ssh.NewSignerFromKey wants the pointer form of ed25519 keys too.
	if k, ok := key.(*ed25519.PrivateKey); ok {
		key = *k
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, errorf(KindBadKey, nil, "unsupported private key type %T", key)
	}
	pub, err := ssh.NewPublicKey(s.Public())
	if err != nil {
		return nil, errorf(KindBadKey, err, "unsupported private key")
	}
	return &KeyPair{pub: pub, priv: s, raw: key}, nil
}

// LoadKeyPair makes a key pair from the contents of a private key file
// (PEM or OpenSSH format, possibly encrypted) and of a public key file
// (an authorized_keys line or the wire-format blob). Either may be empty,
// but not both: a public half alone still gives the fingerprint, size and
// blob. When both are given they must belong together.
func LoadKeyPair(private, public []byte) (*KeyPair, error) {
	var kp *KeyPair
	if len(bytes.TrimSpace(private)) > 0 {
		key, err := ssh.ParseRawPrivateKey(private)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			kp = &KeyPair{pub: missing.PublicKey, sealed: bytes.Clone(private)}
		case err != nil:
			return nil, errorf(KindBadKey, nil, "cannot parse the private key: %v", err)
		default:
			if kp, err = newKeyPair(key); err != nil {
				return nil, err
			}
		}
	}
	if len(bytes.TrimSpace(public)) > 0 {
		pub, comment, err := parsePublicKey(public)
		if err != nil {
			return nil, err
		}
		switch {
		case kp == nil:
			kp = &KeyPair{pub: pub}
		case kp.pub == nil:
			kp.pub = pub
		case !bytes.Equal(kp.pub.Marshal(), pub.Marshal()):
			return nil, errorf(KindBadKey, nil, "the public key (%s) is not the public half of the private key (%s)",
				ssh.FingerprintSHA256(pub), ssh.FingerprintSHA256(kp.pub))
		}
		kp.comment = comment
	}
	if kp == nil {
		return nil, errorf(KindBadKey, nil, "neither a private nor a public key was given")
	}
	return kp, nil
}

// parsePublicKey reads an authorized_keys line or a wire-format blob.
func parsePublicKey(b []byte) (ssh.PublicKey, string, error) {
	if pub, comment, err := parseAuthorizedKey(b); err == nil {
		return pub, comment, nil
	}
	if pub, err := ParsePublicKey(b); err == nil {
		return pub, "", nil
	}
	return nil, "", errorf(KindBadKey, nil, "the public key is neither an authorized_keys line nor a public key blob")
}

// LoadKeyPairFiles reads a private key file and its public half, pubFile
// ("" means privFile + ".pub", used only when it exists).
func LoadKeyPairFiles(privFile, pubFile string) (*KeyPair, error) {
	priv, err := os.ReadFile(expandHome(privFile))
	if err != nil {
		return nil, errorf(KindBadKey, nil, "cannot read private key %s: %v", privFile, pathErr(err))
	}
	explicit := pubFile != ""
	if !explicit {
		pubFile = privFile + ".pub"
	}
	pub, err := os.ReadFile(expandHome(pubFile))
	if err != nil && (explicit || !errors.Is(err, os.ErrNotExist)) {
		return nil, errorf(KindBadKey, nil, "cannot read public key %s: %v", pubFile, pathErr(err))
	}
	kp, err := LoadKeyPair(priv, pub)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Msg = privFile + ": " + e.Msg
		}
		return nil, err
	}
	return kp, nil
}

// IsEncrypted reports whether the private key is still encrypted.
func (k *KeyPair) IsEncrypted() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.sealed != nil
}

// HasPrivate reports whether the key can sign now.
func (k *KeyPair) HasPrivate() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.priv != nil
}

// Decrypt decrypts a still encrypted private key with passphrase and
// reports whether the key is now usable; a key that is not encrypted
// gives true, a wrong passphrase false.
func (k *KeyPair) Decrypt(passphrase []byte) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.sealed == nil {
		return k.priv != nil || k.pub != nil
	}
	key, err := ssh.ParseRawPrivateKeyWithPassphrase(k.sealed, passphrase)
	if err != nil {
		return false
	}
	opened, err := newKeyPair(key)
	if err != nil {
		return false
	}
	if k.pub != nil && !bytes.Equal(k.pub.Marshal(), opened.pub.Marshal()) {
		return false
	}
	k.pub, k.priv, k.raw, k.sealed = opened.pub, opened.priv, opened.raw, nil
	return true
}

// SetPassphrase sets the passphrase WritePrivateKey encrypts with when it
// is given none; empty means write unencrypted.
func (k *KeyPair) SetPassphrase(passphrase []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.passphrase = bytes.Clone(passphrase)
}

// Comment returns the comment of the public key file, if one was read.
func (k *KeyPair) Comment() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.comment
}

// PublicKey returns the public half, or nil when it is not known (an
// encrypted PEM key given without its public half).
func (k *KeyPair) PublicKey() ssh.PublicKey {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pub
}

func (k *KeyPair) needPublic() (ssh.PublicKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.pub == nil {
		return nil, errorf(KindBadKey, nil, "the public half of this key is not known: decrypt the private key or load its public key")
	}
	return k.pub, nil
}

// FingerprintMD5 returns the MD5 fingerprint as colon-separated lower-case
// hex, the form bbssh 0.6's key-pair/get-finger-print gave (OpenSSH shows
// it with ssh-keygen -l -E md5, after "MD5:").
func (k *KeyPair) FingerprintMD5() (string, error) {
	pub, err := k.needPublic()
	if err != nil {
		return "", err
	}
	return ssh.FingerprintLegacyMD5(pub), nil
}

// PublicKeyBlob returns the public key in SSH wire format.
func (k *KeyPair) PublicKeyBlob() ([]byte, error) {
	pub, err := k.needPublic()
	if err != nil {
		return nil, err
	}
	return pub.Marshal(), nil
}

// KeySize returns the key's size as bbssh 0.6 reported it: the RSA
// modulus bits, the ECDSA curve bits, 32 for Ed25519 (its key length in
// bytes) and the DSA prime bits.
func (k *KeyPair) KeySize() (int, error) {
	pub, err := k.needPublic()
	if err != nil {
		return 0, err
	}
	return keySize(pub)
}

func keySize(pub ssh.PublicKey) (int, error) {
	if dsa, ok := pub.(*dsaPublicKey); ok {
		return dsa.p.BitLen(), nil
	}
	cp, ok := pub.(ssh.CryptoPublicKey)
	if !ok {
		return 0, errorf(KindBadKey, nil, "cannot tell the size of a %s key", pub.Type())
	}
	switch key := cp.CryptoPublicKey().(type) {
	case *rsa.PublicKey:
		return key.N.BitLen(), nil
	case *ecdsa.PublicKey:
		return key.Curve.Params().BitSize, nil
	case ed25519.PublicKey:
		return len(key), nil
	}
	return 0, errorf(KindBadKey, nil, "cannot tell the size of a %s key", pub.Type())
}

// Signer returns an ssh.Signer for the private key.
func (k *KeyPair) Signer() (ssh.Signer, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.disposed:
		return nil, errorf(KindBadKey, nil, "the key was disposed")
	case k.sealed != nil:
		return nil, errorf(KindBadKey, nil, "the private key is encrypted: decrypt it first")
	case k.priv == nil:
		return nil, errorf(KindBadKey, nil, "only the public half of this key is known")
	}
	s, err := ssh.NewSignerFromKey(k.raw)
	if err != nil {
		return nil, errorf(KindBadKey, err, "cannot sign with this key")
	}
	return s, nil
}

// Sign signs data and returns the SSH signature blob (string algorithm,
// string signature), as used in publickey authentication. algorithm is
// a signature algorithm such as "rsa-sha2-512"; "" means the key type's
// own ("ssh-rsa", SHA-1, for RSA keys, as bbssh 0.6 did).
func (k *KeyPair) Sign(data []byte, algorithm string) ([]byte, error) {
	s, err := k.Signer()
	if err != nil {
		return nil, err
	}
	if algorithm == "" {
		algorithm = s.PublicKey().Type()
	}
	as, ok := s.(ssh.AlgorithmSigner)
	if !ok {
		return nil, errorf(KindBadKey, nil, "a %s key cannot sign with a chosen algorithm", s.PublicKey().Type())
	}
	sig, err := as.SignWithAlgorithm(rand.Reader, data, algorithm)
	if err != nil {
		return nil, errorf(KindBadKey, err, "signing with %s", algorithm)
	}
	return ssh.Marshal(sig), nil
}

// PrivateKeyPEM returns the private key in OpenSSH's format, encrypted
// (bcrypt, aes256-ctr, as ssh-keygen does) when passphrase, or else the
// passphrase of SetPassphrase, is not empty. A key still encrypted is
// returned as it was read when no new passphrase is asked for.
func (k *KeyPair) PrivateKeyPEM(passphrase []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(passphrase) == 0 {
		passphrase = k.passphrase
	}
	switch {
	case k.disposed:
		return nil, errorf(KindBadKey, nil, "the key was disposed")
	case k.sealed != nil && len(passphrase) == 0:
		return bytes.Clone(k.sealed), nil
	case k.sealed != nil:
		return nil, errorf(KindBadKey, nil, "the private key is encrypted: decrypt it before writing it with a new passphrase")
	case k.priv == nil:
		return nil, errorf(KindBadKey, nil, "only the public half of this key is known")
	}
	var block *pem.Block
	var err error
	if len(passphrase) > 0 {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.raw, k.comment, passphrase)
	} else {
		block, err = ssh.MarshalPrivateKey(k.raw, k.comment)
	}
	if err != nil {
		return nil, errorf(KindBadKey, err, "cannot write a %s key", k.pub.Type())
	}
	return pem.EncodeToMemory(block), nil
}

// AuthorizedKey returns the public key as an authorized_keys line ending
// in a newline, with comment (none when empty).
func (k *KeyPair) AuthorizedKey(comment string) ([]byte, error) {
	pub, err := k.needPublic()
	if err != nil {
		return nil, err
	}
	line := bytes.TrimRight(ssh.MarshalAuthorizedKey(pub), "\n")
	if comment = strings.TrimSpace(comment); comment != "" {
		line = append(append(line, ' '), comment...)
	}
	return append(line, '\n'), nil
}

// WritePrivateKey writes PrivateKeyPEM(passphrase) to file, mode 0600.
func (k *KeyPair) WritePrivateKey(file string, passphrase []byte) error {
	data, err := k.PrivateKeyPEM(passphrase)
	if err != nil {
		return err
	}
	return writeKeyFile(file, data, 0o600)
}

// WritePublicKey writes AuthorizedKey(comment) to file, mode 0644.
func (k *KeyPair) WritePublicKey(file, comment string) error {
	data, err := k.AuthorizedKey(comment)
	if err != nil {
		return err
	}
	return writeKeyFile(file, data, 0o644)
}

// writeKeyFile replaces file with data through a temporary file in the
// same directory, so that a crash never leaves half a key.
func writeKeyFile(file string, data []byte, mode os.FileMode) error {
	file = expandHome(file)
	if err := replaceFile(file, data, mode); err != nil {
		return errorf(KindBadOption, nil, "cannot write %s: %v", file, pathErr(err))
	}
	return nil
}

// Dispose forgets the private key; the public half stays usable.
func (k *KeyPair) Dispose() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.priv, k.raw, k.sealed, k.passphrase, k.disposed = nil, nil, nil, nil, true
}

// String describes the key without secrets.
func (k *KeyPair) String() string {
	pub := k.PublicKey()
	if pub == nil {
		return "KeyPair{encrypted, public half unknown}"
	}
	return fmt.Sprintf("KeyPair{%s %s}", pub.Type(), ssh.FingerprintSHA256(pub))
}
