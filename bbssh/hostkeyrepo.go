package bbssh

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// HostKey is one known_hosts entry (JSch's HostKey, bbssh 0.6's host-key
// namespace): an optional marker, the host patterns, the key and a
// comment.
type HostKey struct {
	// Marker is "", "@cert-authority" or "@revoked".
	Marker string
	// Host is the host field as written: comma-separated patterns such as
	// "example.com,[10.0.0.1]:2222", or a hashed "|1|salt|hash".
	Host string
	// Type is the key's algorithm name, e.g. "ssh-ed25519".
	Type string
	// Key is the public key in SSH wire format.
	Key []byte
	// Comment is what follows the key on the line.
	Comment string
}

// NewHostKey checks and builds a host key. typ "" takes the type from the
// key; a type that contradicts the key is an error.
func NewHostKey(marker, host, typ string, key []byte, comment string) (*HostKey, error) {
	switch marker {
	case "", "@cert-authority", "@revoked":
	default:
		return nil, errorf(KindBadOption, nil, "host key marker %q is not one of \"\", \"@cert-authority\", \"@revoked\"", marker)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n") {
		return nil, errorf(KindBadOption, nil, "host key host %q must be non-empty patterns without spaces", host)
	}
	pub, err := ParsePublicKey(key)
	if err != nil {
		return nil, errorf(KindBadKey, nil, "the host key is not an SSH public key blob: %v", err)
	}
	if typ == "" {
		typ = pub.Type()
	}
	if typ != pub.Type() {
		return nil, errorf(KindBadKey, nil, "the host key is a %s key, not %s", pub.Type(), typ)
	}
	if strings.ContainsAny(comment, "\r\n") {
		return nil, errorf(KindBadOption, nil, "a host key comment must be one line")
	}
	return &HostKey{Marker: marker, Host: host, Type: typ, Key: bytes.Clone(key), Comment: comment}, nil
}

// FingerprintHex returns the SHA-256 fingerprint as colon-separated
// lower-case hex: the form bbssh 0.6's host-key/get-finger-print gave.
func (h *HostKey) FingerprintHex() string {
	sum := sha256.Sum256(h.Key)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = hex.EncodeToString([]byte{b})
	}
	return strings.Join(parts, ":")
}

// Matches reports whether the entry's host field selects host (as written
// in known_hosts: "name" for port 22, "[name]:port" otherwise): one
// pattern or hash matches and no negated pattern does, as in OpenSSH.
func (h *HostKey) Matches(host string) bool {
	if strings.HasPrefix(h.Host, "|1|") {
		return hashedMatch(h.Host, host)
	}
	found := false
	for _, p := range strings.Split(h.Host, ",") {
		neg := strings.HasPrefix(p, "!")
		if !globMatch(strings.ToLower(strings.TrimPrefix(p, "!")), strings.ToLower(host)) {
			continue
		}
		if neg {
			return false
		}
		found = true
	}
	return found
}

// hashedMatch checks host against "|1|base64 salt|base64 HMAC-SHA1".
func hashedMatch(field, host string) bool {
	parts := strings.Split(field, "|")
	if len(parts) != 4 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(parts[2])
	want, err2 := base64.StdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil {
		return false
	}
	mac := hmac.New(sha1.New, salt)
	mac.Write([]byte(host))
	return hmac.Equal(mac.Sum(nil), want)
}

// line renders the entry as a known_hosts line, without newline.
func (h *HostKey) line() string {
	fields := []string{h.Host, h.Type, base64.StdEncoding.EncodeToString(h.Key)}
	if h.Marker != "" {
		fields = append([]string{h.Marker}, fields...)
	}
	if h.Comment != "" {
		fields = append(fields, h.Comment)
	}
	return strings.Join(fields, " ")
}

// parseHostKeyLine reads one known_hosts line; ok is false for blank,
// comment and malformed lines, which are kept as they are.
func parseHostKeyLine(line string) (*HostKey, bool) {
	line = strings.TrimRight(line, "\r")
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || trimmed[0] == '#' {
		return nil, false
	}
	marker := ""
	if trimmed[0] == '@' {
		marker, trimmed = cutField(trimmed)
	}
	host, rest := cutField(trimmed)
	typ, rest := cutField(rest)
	b64, comment := cutField(rest)
	if b64 == "" {
		return nil, false
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, false
	}
	hk, err := NewHostKey(marker, host, typ, key, strings.TrimSpace(comment))
	if err != nil {
		return nil, false
	}
	return hk, true
}

// cutField splits s at its first run of spaces or tabs.
func cutField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimLeft(s[i:], " \t")
	}
	return s, ""
}

// HostKeyStatus is the result of checking a server's key.
type HostKeyStatus int

// Host key statuses: JSch's OK, NOT_INCLUDED and CHANGED, and revoked,
// which OpenSSH refuses outright.
const (
	HostKeyOK HostKeyStatus = iota
	HostKeyNotIncluded
	HostKeyChanged
	HostKeyRevoked
)

func (s HostKeyStatus) String() string {
	return [...]string{"ok", "not-included", "changed", "revoked"}[s]
}

// HostKeyRepository decides whether a server's key is known (JSch's
// HostKeyRepository). When Options.HostKeyRepository is set, Connect
// checks keys with it instead of known_hosts files, and records keys the
// policy accepts with Add. host is written as in known_hosts.
type HostKeyRepository interface {
	Check(ctx context.Context, host string, key ssh.PublicKey) (HostKeyStatus, error)
	Add(ctx context.Context, host string, key ssh.PublicKey) error
}

// KnownHosts is a known_hosts database (JSch's KnownHosts): a file, read
// afresh by every operation and rewritten whole by changes, or content
// held in memory. Comment and unreadable lines are kept as they are. It is
// safe for concurrent use and implements HostKeyRepository.
type KnownHosts struct {
	file string // "" when in memory

	mu    sync.Mutex
	lines []knownHostsLine // in memory only
}

// knownHostsLine is an entry, or a line kept as text.
type knownHostsLine struct {
	key  *HostKey
	text string
}

// NewKnownHostsFile returns the database of file, which need not exist
// yet (it is created by the first Add).
func NewKnownHostsFile(file string) *KnownHosts {
	return &KnownHosts{file: expandHome(file)}
}

// NewKnownHostsContent returns an in-memory database holding the lines of
// content.
func NewKnownHostsContent(content []byte) *KnownHosts {
	return &KnownHosts{lines: parseKnownHosts(content)}
}

func parseKnownHosts(content []byte) []knownHostsLine {
	var out []knownHostsLine
	for _, l := range strings.Split(string(content), "\n") {
		if hk, ok := parseHostKeyLine(l); ok {
			out = append(out, knownHostsLine{key: hk})
		} else if strings.TrimSpace(l) != "" {
			out = append(out, knownHostsLine{text: strings.TrimRight(l, "\r")})
		}
	}
	return out
}

// File returns the file behind the database, "" for one in memory.
func (k *KnownHosts) File() string { return k.file }

// load returns the current lines; the caller holds k.mu.
func (k *KnownHosts) load() ([]knownHostsLine, error) {
	if k.file == "" {
		return k.lines, nil
	}
	data, err := os.ReadFile(k.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf(KindBadOption, nil, "cannot read known hosts %s: %v", k.file, pathErr(err))
	}
	return parseKnownHosts(data), nil
}

// store saves lines; the caller holds k.mu.
func (k *KnownHosts) store(lines []knownHostsLine) error {
	if k.file == "" {
		k.lines = lines
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		if l.key != nil {
			b.WriteString(l.key.line())
		} else {
			b.WriteString(l.text)
		}
		b.WriteByte('\n')
	}
	knownHostsWriteMu.Lock()
	defer knownHostsWriteMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(k.file), 0o700); err != nil {
		return errorf(KindBadOption, nil, "cannot create the directory of %s: %v", k.file, pathErr(err))
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(k.file); err == nil {
		mode = st.Mode().Perm()
	}
	return writeKeyFile(k.file, []byte(b.String()), mode)
}

// Check reports whether key is host's known key: OK when an entry for
// host holds it, Changed when entries for host hold only other keys of
// its type, NotIncluded when none has its type, Revoked when a @revoked
// entry names it. @cert-authority entries are not host keys and are
// skipped.
func (k *KnownHosts) Check(_ context.Context, host string, key ssh.PublicKey) (HostKeyStatus, error) {
	return k.CheckBlob(host, key.Marshal())
}

// CheckBlob is Check for a key in wire format.
func (k *KnownHosts) CheckBlob(host string, blob []byte) (HostKeyStatus, error) {
	pub, err := ParsePublicKey(blob)
	if err != nil {
		return 0, errorf(KindBadKey, nil, "the key is not an SSH public key blob: %v", err)
	}
	k.mu.Lock()
	lines, err := k.load()
	k.mu.Unlock()
	if err != nil {
		return 0, err
	}
	status := HostKeyNotIncluded
	for _, l := range lines {
		hk := l.key
		if hk == nil || hk.Marker == "@cert-authority" || !hk.Matches(host) {
			continue
		}
		same := bytes.Equal(hk.Key, blob)
		switch {
		case hk.Marker == "@revoked" && same:
			return HostKeyRevoked, nil
		case hk.Marker == "@revoked" || hk.Type != pub.Type():
		case same:
			status = HostKeyOK
		case status != HostKeyOK:
			status = HostKeyChanged
		}
	}
	return status, nil
}

// Add records key for host, unless an entry for host already holds it.
func (k *KnownHosts) Add(_ context.Context, host string, key ssh.PublicKey) error {
	hk, err := NewHostKey("", host, "", key.Marshal(), "")
	if err != nil {
		return err
	}
	return k.AddHostKey(hk)
}

// AddHostKey adds the entry hk, unless one for its host already holds its
// key.
func (k *KnownHosts) AddHostKey(hk *HostKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.load()
	if err != nil {
		return err
	}
	for _, l := range lines {
		if l.key != nil && l.key.Marker == hk.Marker && l.key.Type == hk.Type &&
			bytes.Equal(l.key.Key, hk.Key) && (l.key.Host == hk.Host || l.key.Matches(hk.Host)) {
			return nil
		}
	}
	c := *hk
	c.Key = bytes.Clone(hk.Key)
	return k.store(append(lines[:len(lines):len(lines)], knownHostsLine{key: &c}))
}

// Remove deletes host's entries of type typ (all types when ""), only
// those holding key when key is not nil. An entry that also names other
// hosts keeps them and loses only host, as JSch does. Like ssh-keygen -R,
// @revoked and @cert-authority entries are removed only when host is their
// host field as written.
// It returns the number of entries changed.
func (k *KnownHosts) Remove(host, typ string, key []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.load()
	if err != nil {
		return 0, err
	}
	var out []knownHostsLine
	changed := 0
	for _, l := range lines {
		hk := l.key
		// As ssh-keygen -R, marker lines (revocations, authorities) stay
		// unless named exactly.
		named := hk != nil && (hk.Marker == "" && hk.Matches(host) || hk.Host == host)
		if !named || (typ != "" && hk.Type != typ) || (key != nil && !bytes.Equal(hk.Key, key)) {
			out = append(out, l)
			continue
		}
		changed++
		if pats := strings.Split(hk.Host, ","); len(pats) > 1 && !strings.HasPrefix(hk.Host, "|") {
			var keep []string
			for _, p := range pats {
				if !strings.EqualFold(p, host) {
					keep = append(keep, p)
				}
			}
			if len(keep) > 0 && len(keep) < len(pats) {
				c := *hk
				c.Host = strings.Join(keep, ",")
				out = append(out, knownHostsLine{key: &c})
			}
		}
	}
	if changed == 0 {
		return 0, nil
	}
	return changed, k.store(out)
}

// HostKeys returns the entries for host ("" for every entry) of type typ
// ("" for every type), in file order.
func (k *KnownHosts) HostKeys(host, typ string) ([]*HostKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	lines, err := k.load()
	if err != nil {
		return nil, err
	}
	var out []*HostKey
	for _, l := range lines {
		if l.key != nil && (host == "" || l.key.Matches(host)) && (typ == "" || l.key.Type == typ) {
			out = append(out, l.key)
		}
	}
	return out, nil
}

// checkRepository checks key with the checker's HostKeyRepository: known
// keys pass, changed and revoked ones are refused, unknown ones go to the
// policy as with known_hosts files.
func (c *hostKeyChecker) checkRepository(hostname string, remote net.Addr, key ssh.PublicKey) error {
	host, fp := knownhosts.Normalize(hostname), ssh.FingerprintSHA256(key)
	status, err := c.repo.Check(c.ctx, host, key)
	if err != nil {
		return errorf(KindConnect, err, "checking the host key of %s with the host key repository", host)
	}
	switch status {
	case HostKeyOK:
		return nil
	case HostKeyChanged:
		return c.changed(&HostKeyError{Kind: KindHostKeyChanged, Host: host, KeyType: key.Type(), Fingerprint: fp, KnownHosts: []string{"the host key repository"}})
	case HostKeyRevoked:
		return &HostKeyError{Kind: KindHostKeyRevoked, Host: host, KeyType: key.Type(), Fingerprint: fp}
	}
	return c.unknown(hostname, remote, key, "")
}

// recordRepository adds an accepted key to the HostKeyRepository.
func (c *hostKeyChecker) recordRepository(hostname string, key ssh.PublicKey) error {
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key
	}
	host := knownhosts.Normalize(hostname)
	if err := c.repo.Add(c.ctx, host, key); err != nil {
		return errorf(KindConnect, err, "recording the host key of %s in the host key repository", host)
	}
	c.messages(fmt.Sprintf("Warning: Permanently added '%s' (%s) to the host key repository.", host, keyTypeName(key.Type())))
	return nil
}
