package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// DefaultSSHD is the sshd binary Start runs unless Options.SSHD is set.
const DefaultSSHD = "/usr/sbin/sshd"

// privsepDir is sshd's privilege separation directory, normally created by
// systemd's tmpfiles; sshd refuses to start without it.
const privsepDir = "/run/sshd"

// portAttempts bounds how often Start picks a new port when sshd loses the
// race for a port found free.
const portAttempts = 5

// Options configures Start. Zero values mean sensible defaults.
type Options struct {
	// Dir holds the config, keys and log. Default: a new temporary directory,
	// removed by Stop. Start makes it mode 0755 so sshd can read the
	// authorized_keys file in it with the test user's privileges.
	Dir string
	// ExtraConfig is sshd_config text. Keywords it sets before its first
	// Match line replace the test bed's default for that keyword; from its
	// first Match line on it is appended at the end. ListenAddress, Port,
	// PidFile and HostKey are managed by the test bed and rejected.
	ExtraConfig string
	// Logf receives progress and diagnostic messages (e.g. t.Logf). Default:
	// discard.
	Logf func(format string, args ...any)
	// SSHD is the absolute path of the sshd binary. Default: DefaultSSHD.
	SSHD string
}

// Server is a running sshd on 127.0.0.1. The exported fields are set by
// Start and are read-only afterwards; the methods are safe for concurrent use.
type Server struct {
	Host     string // "127.0.0.1"
	Port     int
	Dir      string // directory holding config, keys and log
	User     string // login name: TestUser as root, else the current user
	Password string // User's password (TestPassword); empty when not root
	Home     string // User's home directory

	ClientKey           string // unencrypted ed25519 private key (OpenSSH format, 0600), authorized for User
	ClientKeyEncrypted  string // ed25519 private key encrypted with ClientKeyPassphrase, authorized
	ClientKeyPassphrase string // random per server
	ClientRSAKey        string // RSA-3072 private key in PEM format, authorized

	KnownHosts          string            // known_hosts with every host key as "[127.0.0.1]:PORT type base64"
	HostKeyFingerprints map[string]string // host key type ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa") -> "SHA256:..."
	ConfigFile          string            // the generated sshd_config
	LogFile             string            // sshd's stderr (-e), appended across restarts

	// PAM reports whether sshd runs with UsePAM yes. KbdInteractive reports
	// whether keyboard-interactive login with Password works; it needs PAM,
	// and Start verifies it with a real login, falling back to UsePAM no
	// (password auth only) if PAM login fails.
	PAM            bool
	KbdInteractive bool

	sshd       string
	argv       func() []string // the server command when it is not sshd (dropbear.go)
	cleanups   []func()        // run by Stop, last first
	logf       func(string, ...any)
	keys       *keySet
	acct       account
	createdDir bool

	mu      sync.Mutex
	proc    *process // nil while stopped
	removed bool     // Dir was deleted by Stop; Restart is impossible
	logs    string   // log contents saved before Dir was deleted
}

// Start prepares keys, user and config and runs sshd until Stop. It fails
// with a hint to install openssh-server when sshd is missing, and with the
// sshd log when sshd does not come up.
func Start(opts Options) (*Server, error) {
	s := &Server{Host: "127.0.0.1", sshd: opts.SSHD, logf: opts.Logf}
	if s.sshd == "" {
		s.sshd = DefaultSSHD
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if _, err := os.Stat(s.sshd); err != nil {
		return nil, fmt.Errorf("testbed: sshd not found (install it with `apt-get install openssh-server`): %w", err)
	}
	if _, err := overriddenKeywords(opts.ExtraConfig); err != nil {
		return nil, err
	}
	if err := s.prepare(opts); err != nil {
		s.cleanupDir()
		return nil, err
	}
	if err := s.boot(opts.ExtraConfig); err != nil {
		s.cleanupDir()
		return nil, err
	}
	return s, nil
}

// prepare creates the directory, account, keys and authorized_keys.
func (s *Server) prepare(opts Options) error {
	s.Dir = opts.Dir
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "bbssh-sshd-")
		if err != nil {
			return fmt.Errorf("testbed: temp dir: %w", err)
		}
		s.Dir, s.createdDir = d, true
	} else if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("testbed: create dir: %w", err)
	}
	abs, err := filepath.Abs(s.Dir)
	if err != nil {
		return fmt.Errorf("testbed: dir: %w", err)
	}
	s.Dir = abs
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return fmt.Errorf("testbed: chmod dir: %w", err)
	}
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		if os.Geteuid() == 0 {
			return fmt.Errorf("testbed: create %s: %w", privsepDir, err)
		}
		s.logf("testbed: cannot create %s (not root): %v", privsepDir, err)
	}
	acct, err := ensureAccount(s.logf)
	if err != nil {
		return err
	}
	s.acct = acct
	s.User, s.Password, s.Home = acct.name, acct.password, acct.home

	if s.keys, err = generateKeys(s.Dir); err != nil {
		return err
	}
	s.ClientKey, s.ClientKeyEncrypted, s.ClientRSAKey = s.keys.clientKey, s.keys.clientEnc, s.keys.clientRSA
	s.ClientKeyPassphrase = s.keys.passphrase
	s.HostKeyFingerprints = s.keys.fingerprints()

	akDir := filepath.Join(s.Dir, "authorized_keys")
	if err := os.MkdirAll(akDir, 0o755); err != nil {
		return fmt.Errorf("testbed: authorized_keys dir: %w", err)
	}
	if err := writeFile(filepath.Join(akDir, s.User), s.keys.authorized, 0o644); err != nil {
		return err
	}
	s.ConfigFile = filepath.Join(s.Dir, "sshd_config")
	s.LogFile = filepath.Join(s.Dir, "sshd.log")
	s.KnownHosts = filepath.Join(s.Dir, "known_hosts")
	return nil
}

// boot picks a port, starts sshd, writes known_hosts and verifies PAM,
// restarting without PAM when the probe fails.
func (s *Server) boot(extra string) error {
	s.PAM = wantPAM(s.acct, extra)
	var err error
	for i := 0; i < portAttempts; i++ {
		if s.Port, err = freePort(); err != nil {
			return err
		}
		if err = s.run(extra); !errors.Is(err, errBind) {
			break
		}
		s.logf("testbed: port %d taken, retrying: %v", s.Port, err)
	}
	if err != nil {
		return err
	}
	if err := writeFile(s.KnownHosts, s.keys.knownHosts(s.Host, s.Port), 0o644); err != nil {
		s.stopProc()
		return err
	}
	s.KbdInteractive = s.PAM
	if v, ok := configValue(extra, "kbdinteractiveauthentication"); ok && v == "no" {
		s.KbdInteractive = false
	}
	if !shouldProbePAM(s.PAM, s.acct, extra) {
		return nil
	}
	perr := probeKbdInteractive(s.Port, s.User, s.Password, s.keys.hostPubs)
	if perr == nil {
		s.logf("testbed: sshd on 127.0.0.1:%d with PAM (keyboard-interactive works)", s.Port)
		return nil
	}
	s.logf("testbed: PAM login failed, falling back to UsePAM no: %v", perr)
	s.stopProc()
	s.PAM, s.KbdInteractive = false, false
	return s.run(extra)
}

// run writes the config for the current port and PAM choice and starts sshd
// (or starts the other server, which has no config file).
func (s *Server) run(extra string) error {
	if s.argv != nil {
		return s.start()
	}
	cfg, err := renderConfig(configParams{
		port:           s.Port,
		pidFile:        filepath.Join(s.Dir, "sshd.pid"),
		hostKeys:       s.keys.hostKeys,
		authorizedKeys: filepath.Join(s.Dir, "authorized_keys", "%u"),
		usePAM:         s.PAM,
		extra:          extra,
	})
	if err != nil {
		return err
	}
	if err := writeFile(s.ConfigFile, []byte(cfg), 0o644); err != nil {
		return err
	}
	return s.start()
}

// start launches the server on s.Port.
func (s *Server) start() error {
	p, err := s.launch()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// launch starts the server on s.Port.
func (s *Server) launch() (*process, error) {
	if s.argv != nil {
		return launchArgv(s.argv(), s.LogFile, s.Port)
	}
	return launch(s.sshd, s.ConfigFile, s.LogFile, s.Port)
}

// Stop terminates sshd and all its connections (SIGTERM, then SIGKILL after
// a bounded wait) and, if Start created Dir, removes it after saving the log
// for Logs. It never touches the user account. Calling it again is a no-op.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.stopLocked()
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	s.cleanups = nil
	if s.createdDir && !s.removed {
		s.logs = readFrom(s.LogFile, 0)
		if rerr := os.RemoveAll(s.Dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("testbed: remove %s: %w", s.Dir, rerr))
		}
		s.removed = true
	}
	return err
}

// Restart stops sshd (dropping its connections) and starts it again on the
// same port with the same config and keys, so known_hosts stays valid. It
// fails if Stop already removed Dir.
func (s *Server) Restart() error {
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		return errors.New("testbed: restart after Stop removed the server directory")
	}
	err := s.stopLocked()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	for i := 0; i < portAttempts; i++ {
		if p, lerr := s.launch(); lerr == nil {
			s.mu.Lock()
			s.proc = p
			s.mu.Unlock()
			return nil
		} else if err = lerr; !errors.Is(lerr, errBind) {
			break
		}
	}
	return fmt.Errorf("testbed: restart on port %d: %w", s.Port, err)
}

// Logs returns sshd's log so far, for test diagnostics.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return s.logs
	}
	return readFrom(s.LogFile, 0)
}

// stopProc stops sshd, taking the lock.
func (s *Server) stopProc() {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.stopLocked()
}

// stopLocked stops the current sshd, if any; s.mu must be held.
func (s *Server) stopLocked() error {
	if s.proc == nil {
		return nil
	}
	err := s.proc.stop()
	s.proc = nil
	return err
}

// cleanupDir removes Dir after a failed Start if Start created it.
func (s *Server) cleanupDir() {
	if s.createdDir {
		_ = os.RemoveAll(s.Dir)
	}
}

// writeFile writes data to path with perm, wrapping errors.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("testbed: write %s: %w", path, err)
	}
	// WriteFile keeps the mode of an existing file; enforce perm.
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("testbed: chmod %s: %w", path, err)
	}
	return nil
}
