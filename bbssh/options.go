package bbssh

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Options say how to reach and log in to one SSH server. Zero values mean
// the OpenSSH default noted on each field.
type Options struct {
	// Host is the server's name or address. Required.
	Host string
	// Port is the server's TCP port; 0 means 22.
	Port int
	// User is the login name; empty means the local user's name.
	User string

	// Password is offered to password and keyboard-interactive auth.
	Password string
	// IdentityFiles are private key files tried in order, before the
	// default ones (~/.ssh/id_ed25519, id_ecdsa, id_rsa).
	IdentityFiles []string
	// Passphrase decrypts encrypted identities and PrivateKey.
	Passphrase string
	// PrivateKey is a private key given as its file contents (PEM or
	// OpenSSH format), tried after IdentityFiles.
	PrivateKey []byte
	// PublicKey, when set, is PrivateKey's public half (authorized_keys
	// line or wire format); a mismatch is an error, not a silent skip.
	PublicKey []byte
	// NoDefaultIdentities stops the default identity files being tried
	// (OpenSSH's IdentitiesOnly, applied to the defaults).
	NoDefaultIdentities bool
	// AgentSocket is the ssh-agent socket; empty means $SSH_AUTH_SOCK.
	// NoAgent disables agent auth.
	AgentSocket string
	NoAgent     bool

	// KnownHosts are the known_hosts files; nil means ~/.ssh/known_hosts.
	// Files that do not exist are treated as empty. New keys, when
	// accepted, are added to the first one.
	KnownHosts []string
	// HostKeyPolicy decides about keys known_hosts does not vouch for.
	HostKeyPolicy HostKeyPolicy

	// ConnectTimeout bounds the TCP connect and SSH handshake; 0 means
	// no limit beyond the caller's context.
	ConnectTimeout time.Duration
	// ConnectionAttempts is how many times a connection the server closes
	// before key exchange is tried (servers busy with many new
	// connections drop some: OpenSSH's MaxStartups); 0 means the ssh
	// config's ConnectionAttempts, else DefaultConnectionAttempts. A
	// refused port, a host key mismatch or failed authentication are never
	// tried again.
	ConnectionAttempts int

	// ChannelWait bounds how long opening a session channel (a command,
	// scp, sftp) waits while the server refuses it because its limit on
	// sessions per connection is reached (OpenSSH's MaxSessions); 0 means
	// the connect timeout or DefaultChannelWait, whichever is longer.
	ChannelWait time.Duration

	// Algorithms restricts and orders the algorithms offered; empty lists
	// mean x/crypto/ssh's defaults. A list may also be an OpenSSH-style
	// change of the defaults: a single entry starting with "+" (append),
	// "-" (remove) or "^" (put first), e.g. "+ssh-rsa".
	Algorithms Algorithms

	// ConfigFile is the OpenSSH client config to read for Host; ""
	// means ~/.ssh/config when it exists. NoConfig skips config files.
	// Options set here win over the file, as on ssh's command line.
	ConfigFile string
	NoConfig   bool
	// ConfigSource, when set, replaces the config file: it says what the
	// config holds for a host (JSch's ConfigRepository, set through a
	// bbssh agent). NoConfig still wins.
	ConfigSource ConfigSource
	// HostKeyRepository, when set, replaces KnownHosts: Connect checks
	// server keys with it and records the keys the policy accepts in it.
	HostKeyRepository HostKeyRepository
	// Identities, when set, are offered in publickey auth after the
	// ssh-agent's keys and before IdentityFiles (JSch's
	// IdentityRepository: a bbssh agent's keys, a script's own).
	Identities IdentitySource

	// Proxy, when set, reaches the server through an HTTP or SOCKS proxy.
	Proxy *Proxy
	// ProxyCommand, when set, is run with sh -c and the connection is
	// made over its stdin and stdout (tokens %h %p %r already expanded).
	ProxyCommand string
	// JumpHosts are hops to tunnel through, in order (ssh -J).
	JumpHosts []JumpHost
	// Via, when set, is a connected session the connection is tunnelled
	// through (a jump host the script already holds).
	Via *Session

	// KeepaliveInterval, when positive, sends a keepalive request that
	// often; after KeepaliveCountMax (default 3) go unanswered the
	// connection is closed as lost (OpenSSH's ServerAliveInterval and
	// ServerAliveCountMax).
	KeepaliveInterval time.Duration
	KeepaliveCountMax int

	// ReceiveWindow, when set, lets the receive windows of the session's
	// channels grow with the path (window.go); nil keeps OpenSSH's fixed
	// 2 MiB. Sessions that share it share its budget.
	ReceiveWindow *ssh.ReceiveWindow

	// Messages receives the server's banner and warnings (for example
	// "Permanently added ..."); nil discards them.
	Messages io.Writer
	// Prompter asks the user for passwords, passphrases and host-key
	// decisions; nil means nobody can be asked.
	Prompter Prompter
	// Log, when set, receives what the connection does step by step
	// (config applied, route, host key, auth methods, keepalives, the
	// end of the connection), as ssh -v shows it.
	Log func(level LogLevel, message string)
}

// Algorithms are algorithm names in order of preference, as in OpenSSH's
// KexAlgorithms, Ciphers, MACs and HostKeyAlgorithms.
type Algorithms struct {
	KeyExchanges []string
	Ciphers      []string
	MACs         []string
	HostKeys     []string
}

// validate checks every name against what x/crypto/ssh implements, so a
// typo is reported by name rather than as a failed negotiation.
func (a Algorithms) validate() error {
	supported, insecure := ssh.SupportedAlgorithms(), ssh.InsecureAlgorithms()
	for _, c := range []struct {
		what       string
		names      []string
		sup, insec []string
	}{
		{"key exchange", a.KeyExchanges, supported.KeyExchanges, insecure.KeyExchanges},
		{"cipher", a.Ciphers, supported.Ciphers, insecure.Ciphers},
		{"MAC", a.MACs, supported.MACs, insecure.MACs},
		{"host key algorithm", a.HostKeys, supported.HostKeys, insecure.HostKeys},
	} {
		for _, n := range c.names {
			if !slices.Contains(c.sup, n) && !slices.Contains(c.insec, n) {
				return errorf(KindBadOption, nil, "unknown %s %q; known: %s", c.what, n, strings.Join(append(slices.Clone(c.sup), c.insec...), ","))
			}
		}
	}
	return nil
}

// Prompter asks the person running the script. Every method may return an
// error to cancel the connection; ctx ends with the connection attempt.
type Prompter interface {
	// Password asks for a password; prompt reads like "Password for
	// user@host".
	Password(ctx context.Context, prompt string) (string, error)
	// Passphrase asks for the passphrase of a key file.
	Passphrase(ctx context.Context, prompt string) (string, error)
	// YesNo asks a yes/no question, such as whether to trust a host key.
	YesNo(ctx context.Context, question string) (bool, error)
}

// Challenger is a Prompter that can also answer keyboard-interactive
// questions other than a password (one-time codes and the like).
type Challenger interface {
	Challenge(ctx context.Context, name, instruction string, questions []string, echos []bool) ([]string, error)
}

// availability is implemented by a Prompter that may have nobody to ask
// (a terminal prompter without a terminal): Connect then acts as if there
// were no Prompter, so that failures say so plainly.
type availability interface {
	Available() bool
}

// Addr returns host:port for dialing.
func (o *Options) Addr() string {
	return joinHostPort(o.Host, o.port())
}

func (o *Options) port() int {
	if o.Port == 0 {
		return 22
	}
	return o.Port
}

func joinHostPort(host string, port int) string {
	if len(host) > 0 && host[0] == '[' {
		return host + ":" + strconv.Itoa(port)
	}
	return fmt.Sprintf("%s:%d", bracketIPv6(host), port)
}

func bracketIPv6(host string) string {
	for i := 0; i < len(host); i++ {
		if host[i] == ':' {
			return "[" + host + "]"
		}
	}
	return host
}

// validate checks the options and fills in defaults.
func (o *Options) validate() error {
	if o.Host == "" {
		return errorf(KindBadOption, nil, "no host given")
	}
	if o.Port < 0 || o.Port > 65535 {
		return errorf(KindBadOption, nil, "port %d is out of range 1-65535", o.Port)
	}
	if err := o.Algorithms.validate(); err != nil {
		return err
	}
	if err := checkLen("user name", o.User, MaxHostLen); err != nil {
		return err
	}
	if o.User == "" {
		u, err := user.Current()
		if err != nil {
			return errorf(KindBadOption, err, "no user given and the local user is unknown")
		}
		o.User = u.Username
	}
	if o.KnownHosts == nil {
		if home, err := os.UserHomeDir(); err == nil {
			o.KnownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
		}
	}
	for _, f := range o.IdentityFiles {
		if _, err := os.Stat(expandHome(f)); err != nil {
			return errorf(KindBadOption, nil, "identity file %s cannot be read: %v", f, pathErr(err))
		}
	}
	return nil
}

// pathErr strips the path from an *os.PathError, which the caller names.
func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// expandHome turns a leading ~/ into the home directory.
func expandHome(path string) string {
	if len(path) >= 2 && path[0] == '~' && path[1] == '/' {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, path[2:])
		}
	}
	return path
}
