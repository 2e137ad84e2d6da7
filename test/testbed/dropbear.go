package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// DefaultDropbear is the dropbear binary StartDropbear runs unless
// DropbearOptions.Dropbear is set (Debian package dropbear-bin).
const DefaultDropbear = "/usr/sbin/dropbear"

// DropbearOptions configures StartDropbear. Zero values mean sensible
// defaults.
type DropbearOptions struct {
	// Dir holds the keys and log, as Options.Dir.
	Dir string
	// Args are extra dropbear flags, such as "-j" (no local forwarding).
	Args []string
	// Logf receives progress messages, as Options.Logf.
	Logf func(format string, args ...any)
	// Dropbear is the absolute path of the dropbear binary. Default:
	// DefaultDropbear.
	Dropbear string
}

// StartDropbear runs dropbear, a second SSH server, on 127.0.0.1 with the
// test bed's keys, account and password, until Stop. Dropbear has no
// config file: its host keys are the test bed's own, converted to its
// format with dropbearconvert (so known_hosts and the fingerprints are as
// for sshd), and it reads the authorized keys from the login's
// ~/.ssh/authorized_keys, to which StartDropbear adds the test keys (and
// from which Stop removes them). Its sftp subsystem runs the sftp-server
// compiled into it (/usr/lib/sftp-server, OpenSSH's, on Debian). It
// needs root, since only then is the login the test bed's own account.
// Keyboard-interactive login is not offered by dropbear.
func StartDropbear(opts DropbearOptions) (*Server, error) {
	bin := opts.Dropbear
	if bin == "" {
		bin = DefaultDropbear
	}
	s := &Server{Host: "127.0.0.1", sshd: bin, logf: opts.Logf}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("testbed: dropbear not found (install it with `apt-get install dropbear-bin`): %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("testbed: dropbear needs root: it reads the login's ~/.ssh/authorized_keys, which the test bed changes only for its own account")
	}
	if err := s.prepare(Options{Dir: opts.Dir, Logf: opts.Logf}); err != nil {
		s.cleanupDir()
		return nil, err
	}
	var keys []string
	for _, k := range s.keys.hostKeys {
		out := k + ".dropbear"
		if b, err := exec.Command("dropbearconvert", "openssh", "dropbear", k, out).CombinedOutput(); err != nil {
			s.cleanupDir()
			return nil, fmt.Errorf("testbed: dropbearconvert %s: %w: %s", k, err, bytes.TrimSpace(b))
		}
		keys = append(keys, out)
	}
	remove, err := addAuthorizedKeys(s.acct.name, s.Home, s.keys.authorized)
	if err != nil {
		s.cleanupDir()
		return nil, err
	}
	s.cleanups = append(s.cleanups, remove)
	s.ConfigFile = ""
	s.LogFile = filepath.Join(s.Dir, "dropbear.log")
	s.argv = func() []string {
		argv := []string{bin, "-F", "-E", "-m", "-P", filepath.Join(s.Dir, "dropbear.pid"), "-p", "127.0.0.1:" + strconv.Itoa(s.Port)}
		for _, k := range keys {
			argv = append(argv, "-r", k)
		}
		return append(argv, opts.Args...)
	}
	for i := 0; i < portAttempts; i++ {
		if s.Port, err = freePort(); err != nil {
			break
		}
		if err = s.run(""); !errors.Is(err, errBind) {
			break
		}
		s.logf("testbed: port %d taken, retrying: %v", s.Port, err)
	}
	if err == nil {
		err = writeFile(s.KnownHosts, s.keys.knownHosts(s.Host, s.Port), 0o644)
	}
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.logf("testbed: dropbear on 127.0.0.1:%d", s.Port)
	return s, nil
}

// addAuthorizedKeys appends keys to ~login/.ssh/authorized_keys, creating
// it with the ownership and modes dropbear insists on, and returns a
// function that takes them out again. Test beds in other processes share
// the file: a lock file next to it orders the changes.
func addAuthorizedKeys(login, home string, keys []byte) (func(), error) {
	u, err := user.Lookup(login)
	if err != nil {
		return nil, fmt.Errorf("testbed: look up %s: %w", login, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("testbed: create %s: %w", dir, err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, fmt.Errorf("testbed: chown %s: %w", dir, err)
	}
	file := filepath.Join(dir, "authorized_keys")
	change := func(edit func([]byte) []byte) error {
		lock, err := os.OpenFile(filepath.Join(dir, ".bbssh-testbed.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("testbed: lock %s: %w", file, err)
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			return fmt.Errorf("testbed: lock %s: %w", file, err)
		}
		old, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("testbed: read %s: %w", file, err)
		}
		tmp := file + ".tmp"
		if err := writeFile(tmp, edit(old), 0o600); err != nil {
			return err
		}
		if err := os.Chown(tmp, uid, gid); err != nil {
			return fmt.Errorf("testbed: chown %s: %w", tmp, err)
		}
		if err := os.Rename(tmp, file); err != nil {
			return fmt.Errorf("testbed: replace %s: %w", file, err)
		}
		return nil
	}
	if err := change(func(old []byte) []byte {
		if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
			old = append(old, '\n')
		}
		return append(old, keys...)
	}); err != nil {
		return nil, err
	}
	return func() {
		_ = change(func(old []byte) []byte { return bytes.Replace(old, keys, nil, 1) })
	}, nil
}
