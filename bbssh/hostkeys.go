package bbssh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyPolicy decides what happens to a host key that known_hosts does
// not vouch for. A revoked key is refused whatever the policy; a key that
// differs from a known one is refused unless Strict is "no" (or Accept
// "yes" with Strict left to ask), when the connection goes on untrusted
// (hostkeychanged.go).
type HostKeyPolicy struct {
	// Strict is OpenSSH's StrictHostKeyChecking: "yes" refuses unknown
	// keys; "no" accepts and records them with a warning; "accept-new"
	// accepts and records them; "ask" or "" applies Accept, then asks the
	// Prompter, then refuses.
	Strict string
	// Accept is bbssh's :accept-host-key: "yes" or "new" accept and record
	// an unknown key; "no" refuses it; "SHA256:..." accepts only a key with
	// that fingerprint; "" leaves the decision to the Prompter.
	Accept string
}

// validate checks the policy's values.
func (p HostKeyPolicy) validate() error {
	switch p.Strict {
	case "", "yes", "no", "ask", "accept-new":
	default:
		return errorf(KindBadOption, nil, "strict host key checking %q is not one of yes, no, ask, accept-new", p.Strict)
	}
	switch {
	case p.Accept == "", p.Accept == "yes", p.Accept == "no", p.Accept == "new":
	case strings.HasPrefix(p.Accept, "SHA256:"):
	default:
		return errorf(KindBadOption, nil, "accept host key %q is not one of true, false, :new or a SHA256: fingerprint", p.Accept)
	}
	return nil
}

// hostKeyChecker checks server keys against known_hosts files and the
// policy, and records accepted keys.
type hostKeyChecker struct {
	files    []string // known_hosts files, the first is written to
	policy   HostKeyPolicy
	prompter Prompter
	ctx      context.Context // of the connection attempt, for prompts
	messages func(string)
	db       *knownhosts.HostKeyDB // nil when no file exists
	repo     HostKeyRepository     // replaces files and db when set
	mu       *sync.Mutex           // serialises writes to files[0]
	log      func(LogLevel, string)
	// untrusted is the changed key the connection went on with
	// (hostkeychanged.go).
	untrusted atomic.Pointer[HostKeyError]
}

var knownHostsWriteMu sync.Mutex

func newHostKeyChecker(ctx context.Context, o *Options) (*hostKeyChecker, error) {
	if err := o.HostKeyPolicy.validate(); err != nil {
		return nil, err
	}
	c := &hostKeyChecker{ctx: ctx, files: o.KnownHosts, policy: o.HostKeyPolicy, prompter: o.Prompter,
		mu: &knownHostsWriteMu, messages: func(string) {}, log: func(l LogLevel, m string) { o.logf(l, "%s", m) }}
	if o.Messages != nil {
		c.messages = func(s string) { fmt.Fprintln(o.Messages, s) }
	}
	if o.HostKeyRepository != nil {
		c.repo, c.files = o.HostKeyRepository, nil
		return c, nil
	}
	var existing []string
	for _, f := range o.KnownHosts {
		if _, err := os.Stat(f); err == nil {
			existing = append(existing, f)
		}
	}
	if len(existing) > 0 {
		db, err := knownhosts.NewDB(existing...)
		if err != nil {
			return nil, errorf(KindBadOption, err, "cannot read known_hosts")
		}
		c.db = db
	}
	return c, nil
}

// algorithms returns the host key algorithms to ask for, preferring the
// types known_hosts has for addr, so that a server with several keys shows
// the one we can verify.
func (c *hostKeyChecker) algorithms(addr string) []string {
	if c.db == nil {
		return nil
	}
	return c.db.HostKeyAlgorithms(addr)
}

// callback is the ssh.HostKeyCallback.
func (c *hostKeyChecker) callback(hostname string, remote net.Addr, key ssh.PublicKey) error {
	fp := ssh.FingerprintSHA256(key)
	host := knownhosts.Normalize(hostname)
	if c.repo != nil {
		return c.checkRepository(hostname, remote, key)
	}
	if c.db != nil {
		err := c.db.HostKeyCallback()(hostname, remote, key)
		if err == nil {
			return nil
		}
		var revoked *xknownhosts.RevokedError
		if errors.As(err, &revoked) {
			return &HostKeyError{Kind: KindHostKeyRevoked, Host: host, KeyType: key.Type(), Fingerprint: fp}
		}
		if knownhosts.IsHostKeyChanged(err) {
			var ke *xknownhosts.KeyError
			errors.As(err, &ke)
			var known []string
			for _, w := range ke.Want {
				known = append(known, fmt.Sprintf("%s %s (%s:%d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Filename, w.Line))
			}
			return c.changed(&HostKeyError{Kind: KindHostKeyChanged, Host: host, KeyType: key.Type(), Fingerprint: fp, KnownHosts: known})
		}
		if _, isCert := key.(*ssh.Certificate); isCert && !knownhosts.IsHostUnknown(err) {
			// A certificate no known authority vouches for: revoked,
			// or judged as an unknown key, as OpenSSH does.
			if strings.Contains(err.Error(), "revoked") {
				return &HostKeyError{Kind: KindHostKeyRevoked, Host: host, KeyType: key.Type(), Fingerprint: fp}
			}
			return c.unknown(hostname, remote, key, "no trusted authority signed its certificate ("+strings.TrimPrefix(err.Error(), "ssh: ")+")")
		}
		if !knownhosts.IsHostUnknown(err) {
			return errorf(KindConnect, err, "checking the host key of %s", host)
		}
	}
	return c.unknown(hostname, remote, key, "")
}

// unknown applies the policy to a key known_hosts has never seen.
func (c *hostKeyChecker) unknown(hostname string, remote net.Addr, key ssh.PublicKey, why string) error {
	fp := ssh.FingerprintSHA256(key)
	refuse := func(reason string) error {
		if why != "" {
			reason = why + "; " + reason
		}
		return &HostKeyError{Kind: KindHostKeyUnknown, Host: knownhosts.Normalize(hostname), KeyType: key.Type(), Fingerprint: fp, Reason: reason}
	}
	switch c.policy.Strict {
	case "yes":
		return refuse("strict host key checking is on; add the key to known_hosts first")
	case "no":
		c.messages(fmt.Sprintf("Warning: accepting unknown %s host key %s for %s (strict host key checking is off).", key.Type(), fp, knownhosts.Normalize(hostname)))
		return c.record(hostname, remote, key)
	case "accept-new":
		return c.record(hostname, remote, key)
	}
	switch {
	case c.policy.Accept == "yes", c.policy.Accept == "new":
		return c.record(hostname, remote, key)
	case c.policy.Accept == "no":
		return refuse("accept-host-key is false")
	case strings.HasPrefix(c.policy.Accept, "SHA256:"):
		if c.policy.Accept != fp {
			return refuse("it does not match the expected fingerprint " + c.policy.Accept)
		}
		return c.record(hostname, remote, key)
	}
	if c.prompter == nil {
		return refuse("no way to ask whether to trust it (give :accept-host-key, or add it to known_hosts)")
	}
	question := fmt.Sprintf("The authenticity of host '%s' can't be established.\n%s key fingerprint is %s.\nAre you sure you want to continue connecting?",
		knownhosts.Normalize(hostname), keyTypeName(key.Type()), fp)
	yes, err := c.prompter.YesNo(c.ctx, question)
	if err != nil {
		return refuse(fmt.Sprintf("asking failed: %v", err))
	}
	if !yes {
		return refuse("the user declined it")
	}
	return c.record(hostname, remote, key)
}

// record appends the key to the first known_hosts file, creating it (mode
// 0600) and its directory (0700) when missing. The file is rewritten
// through a temporary file and a rename, so a crash never leaves it half
// written.
func (c *hostKeyChecker) record(hostname string, remote net.Addr, key ssh.PublicKey) error {
	if c.repo != nil {
		return c.recordRepository(hostname, key)
	}
	if len(c.files) == 0 {
		return nil
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		key = cert.Key // as OpenSSH: remember the plain key, not the certificate
	}
	file := c.files[0]
	// A known_hosts that is a symlink (kept with dotfiles, say) stays
	// one: the file it points to is the one rewritten.
	if target, err := filepath.EvalSymlinks(file); err == nil {
		file = target
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := os.ReadFile(file)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return errorf(KindConnect, err, "reading %s", file)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return errorf(KindConnect, err, "creating the directory of %s", file)
	}
	var line strings.Builder
	if len(old) > 0 && old[len(old)-1] != '\n' {
		line.WriteByte('\n')
	}
	if err := knownhosts.WriteKnownHost(&line, hostname, remote, key); err != nil {
		return errorf(KindConnect, err, "recording the host key")
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(file); err == nil {
		mode = st.Mode().Perm()
	}
	if err := replaceFile(file, append(old, line.String()...), mode); err != nil {
		return errorf(KindConnect, err, "writing %s", file)
	}
	c.messages(fmt.Sprintf("Warning: Permanently added '%s' (%s) to the list of known hosts.", knownhosts.Normalize(hostname), keyTypeName(key.Type())))
	return nil
}

// keyTypeName gives the short key type names OpenSSH prints.
func keyTypeName(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ED25519"
	case strings.HasPrefix(t, "ecdsa"), strings.Contains(t, "ecdsa"):
		return "ECDSA"
	case strings.Contains(t, "rsa"):
		return "RSA"
	case strings.Contains(t, "dss"):
		return "DSA"
	}
	return strings.ToUpper(t)
}
