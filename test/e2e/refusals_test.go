package e2e

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"bbssh/test/testbed"
)

// TestRefusals runs refusals/refused.clj against OpenSSH sshds that say no,
// one per row, each with its own config: every refusal is a typed ex-info
// (or, for a forwarded connection, the forward's :last-error) naming what
// the server refused, and the session keeps doing what the server allows.
// One bb run covers every server: BBSSH_R_<CASE>_PORT, _IDENTITY and
// _KNOWN_HOSTS say where each is.
func TestRefusals(t *testing.T) {
	// the ports PermitOpen and PermitListen allow
	open, listen := freePort(t), freePort(t)
	cases := []struct{ name, config string }{
		{"NO_TCP", "AllowTcpForwarding no\n"},
		{"LOCAL_ONLY", "AllowTcpForwarding local\n"},
		{"REMOTE_ONLY", "AllowTcpForwarding remote\n"},
		{"PERMIT_OPEN", fmt.Sprintf("PermitOpen 127.0.0.1:%d\n", open)},
		{"PERMIT_LISTEN", fmt.Sprintf("PermitListen 127.0.0.1:%d\n", listen)},
		{"DISABLE_FORWARDING", "DisableForwarding yes\n"},
		{"NO_STREAMLOCAL", "AllowStreamLocalForwarding no\n"},
		{"NO_TTY", "PermitTTY no\n"},
		{"FORCE_COMMAND", "ForceCommand echo forced-by-the-server\n"},
		{"MAX_AUTH_TRIES", "MaxAuthTries 1\n"},
		// the server closes the connection while the login waits for a
		// password prompt's answer
		{"LOGIN_GRACE", "LoginGraceTime 2\n"},
	}
	env := []string{fmt.Sprintf("BBSSH_R_OPEN_PORT=%d", open), fmt.Sprintf("BBSSH_R_LISTEN_PORT=%d", listen)}
	servers := make([]*testbed.Server, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() { servers[i], errs[i] = testbed.Start(testbed.Options{ExtraConfig: c.config, Logf: t.Logf}) })
	}
	wg.Wait()
	for _, srv := range servers {
		if srv != nil {
			defer srv.Stop()
		}
	}
	var names []string
	for i, c := range cases {
		srv := servers[i]
		if errs[i] != nil {
			t.Fatalf("%s: %v", c.name, errs[i])
		}
		env = append(env,
			fmt.Sprintf("BBSSH_R_%s_PORT=%d", c.name, srv.Port),
			fmt.Sprintf("BBSSH_R_%s_IDENTITY=%s", c.name, srv.ClientKey),
			fmt.Sprintf("BBSSH_R_%s_KNOWN_HOSTS=%s", c.name, srv.KnownHosts))
		names = append(names, c.name)
	}
	env = append(env, "BBSSH_R_CASES="+strings.Join(names, ","))
	if os.Geteuid() != 0 {
		env = append(env, "BBSSH_R_NO_PASSWORD=true")
	}
	sc := startScript(t, "refusals/refused.clj", server, "stdio", env...)
	out, err := sc.wait()
	if err != nil {
		t.Fatalf("refusals/refused.clj failed: %v\n%s", err, out)
	}
	t.Logf("%s", tail(out, 30))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
