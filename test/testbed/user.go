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
	"strings"
	"time"
)

const (
	// TestUser is the system account used as the SSH login when running as root.
	TestUser = "bbsshtest"
	// TestPassword is the fixed password of TestUser. It is fixed rather than
	// random because several test binaries (go test ./... runs packages in
	// parallel) share the one system account; a random password per server
	// would let one server's chpasswd break another's password tests.
	TestPassword = "bbssh-test-pw"
)

// account describes the login the test bed authorizes.
type account struct {
	name     string
	password string // empty when password auth cannot work (non-root)
	home     string
	root     bool // whether we run as root (and so may use PAM and passwords)
}

// ensureAccount returns the account to log in as. As root it creates (or
// reuses) TestUser and sets its password; otherwise it falls back to the
// current user without a password.
func ensureAccount(logf func(string, ...any)) (account, error) {
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			return account{}, fmt.Errorf("testbed: current user: %w", err)
		}
		logf("testbed: not root: logging in as %s with keys only", u.Username)
		return account{name: u.Username, home: u.HomeDir}, nil
	}
	u, err := lookupOrCreate(TestUser)
	if err != nil {
		return account{}, err
	}
	if err := retryLocked(func() ([]byte, error) {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader(TestUser + ":" + TestPassword + "\n")
		return cmd.CombinedOutput()
	}); err != nil {
		return account{}, fmt.Errorf("testbed: chpasswd %s: %w", TestUser, err)
	}
	if err := hushLogin(u); err != nil {
		return account{}, err
	}
	return account{name: u.Username, password: TestPassword, home: u.HomeDir, root: true}, nil
}

// hushLogin creates ~/.hushlogin for u. With UsePAM yes, pam_motd prints
// the system motd into interactive PTY logins even with PrintMotd no, which
// would pollute shell-session tests; sshd suppresses all login messages,
// PAM's included, when this file exists.
func hushLogin(u *user.User) error {
	path := filepath.Join(u.HomeDir, ".hushlogin")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		return fmt.Errorf("testbed: create %s: %w", path, err)
	}
	uid, uerr := strconv.Atoi(u.Uid)
	gid, gerr := strconv.Atoi(u.Gid)
	if uerr != nil || gerr != nil {
		return nil // non-numeric ids: leave the file owned by root
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("testbed: chown %s: %w", path, err)
	}
	return nil
}

// lookupOrCreate returns the named user, creating it with a home directory
// and bash as its shell if it does not exist yet. Concurrent creation by
// another process is tolerated: a failed useradd is followed by a lookup.
func lookupOrCreate(name string) (*user.User, error) {
	if u, err := user.Lookup(name); err == nil {
		return u, nil
	}
	err := retryLocked(func() ([]byte, error) {
		if _, err := user.Lookup(name); err == nil {
			return nil, nil // someone else created it meanwhile
		}
		return exec.Command("useradd", "-m", "-s", "/bin/bash", name).CombinedOutput()
	})
	u, lerr := user.Lookup(name)
	if lerr != nil {
		return nil, fmt.Errorf("testbed: create user %s: %w", name, errors.Join(err, lerr))
	}
	return u, nil
}

// retryLocked runs fn, retrying for a bounded time while it fails; shadow
// tools fail transiently when another process holds /etc/passwd or
// /etc/shadow locked.
func retryLocked(fn func() ([]byte, error)) error {
	const attempts = 20
	var err error
	for i := 0; i < attempts; i++ {
		var out []byte
		out, err = fn()
		if err == nil {
			return nil
		}
		err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
