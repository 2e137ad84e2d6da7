package testbed

import (
	"bbssh/test/envskip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDropbear starts dropbear with the test bed's keys: OpenSSH's client
// logs in with the generated known_hosts and key, the banner is
// dropbear's, and Stop takes the test keys out of the account's
// authorized_keys again.
func TestDropbear(t *testing.T) {
	if os.Geteuid() != 0 {
		envskip.Skip(t, "the dropbear test bed needs root")
	}
	if _, err := os.Stat(DefaultDropbear); err != nil {
		t.Fatalf("%s missing: install it with `apt-get install dropbear-bin` (%v)", DefaultDropbear, err)
	}
	s, err := StartDropbear(DropbearOptions{Logf: t.Logf})
	if err != nil {
		t.Fatalf("StartDropbear: %v", err)
	}
	authorized := filepath.Join(s.Home, ".ssh", "authorized_keys")
	ours, err := os.ReadFile(filepath.Join(s.Dir, "authorized_keys", s.User))
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(t, nil, "ssh", sshArgs(s, keyOpts(s.ClientKey), "echo", "hi", "$SSH_CONNECTION")...)
	if err != nil || !strings.HasPrefix(out, "hi 127.0.0.1") {
		t.Fatalf("ssh echo hi: err=%v output=%q\n%s", err, out, s.Logs())
	}
	if got, _ := os.ReadFile(authorized); !strings.Contains(string(got), string(ours)) {
		t.Errorf("%s lacks the test keys while dropbear runs", authorized)
	}
	if !strings.Contains(s.Logs(), "Pubkey auth succeeded") {
		t.Errorf("the login did not go through dropbear:\n%s", s.Logs())
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got, _ := os.ReadFile(authorized); strings.Contains(string(got), string(ours)) {
		t.Errorf("Stop left the test keys in %s", authorized)
	}
}
