package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// pamService is the PAM configuration Debian's sshd uses.
const pamService = "/etc/pam.d/sshd"

// probeTimeout bounds the whole PAM probe (connect, auth, one command).
const probeTimeout = 15 * time.Second

// wantPAM decides the initial UsePAM value: whatever ExtraConfig says, else
// yes when running as root with Debian's PAM config for sshd present.
func wantPAM(acct account, extra string) bool {
	if v, ok := configValue(extra, "usepam"); ok {
		return v == "yes"
	}
	if !acct.root {
		return false
	}
	_, err := os.Stat(pamService)
	return err == nil
}

// shouldProbePAM reports whether Start should verify PAM with a real login;
// it does not when ExtraConfig takes charge of the relevant settings, since
// then a failure would say nothing about PAM.
func shouldProbePAM(usePAM bool, acct account, extra string) bool {
	if !usePAM || acct.password == "" {
		return false
	}
	for _, kw := range []string{"usepam", "kbdinteractiveauthentication", "authenticationmethods", "allowusers", "denyusers"} {
		if _, ok := configValue(extra, kw); ok {
			return false
		}
	}
	return true
}

// probeKbdInteractive logs in as user via keyboard-interactive (answered
// with password, which PAM's pam_unix checks) and runs "true". Running a
// command matters: PAM's session stack (e.g. pam_loginuid in some
// containers) can fail after authentication succeeded.
func probeKbdInteractive(port int, user, password string, hostKeys []ssh.PublicKey) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conn, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return fmt.Errorf("testbed: pam probe: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(probeTimeout))
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: []ssh.AuthMethod{ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			})},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			for _, k := range hostKeys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil
				}
			}
			return errors.New("unknown host key")
		},
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		return fmt.Errorf("testbed: pam probe: keyboard-interactive login: %w", err)
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("testbed: pam probe: session: %w", err)
	}
	defer sess.Close()
	if err := sess.Run("true"); err != nil {
		return fmt.Errorf("testbed: pam probe: run: %w", err)
	}
	return nil
}
