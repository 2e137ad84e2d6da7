package e2e

import (
	"bbssh/test/envskip"
	"os"
	"testing"

	"bbssh/test/testbed"
)

// TestDropbear runs dropbear/everyday.clj over both transports against
// dropbear (Debian's dropbear-bin), a second SSH server, started on
// 127.0.0.1 with the test bed's keys and account: the everyday API works
// against it, and what it lacks is a typed error.
func TestDropbear(t *testing.T) {
	if os.Geteuid() != 0 {
		envskip.Skip(t, "the dropbear test bed needs root (it installs the test keys in the test account's ~/.ssh)")
	}
	db, err := testbed.StartDropbear(testbed.DropbearOptions{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Stop()
	for _, transport := range []string{"stdio", "socket"} {
		t.Run(transport, func(t *testing.T) {
			sc := startScript(t, "dropbear/everyday.clj", db, transport)
			out, err := sc.wait()
			if err != nil {
				t.Fatalf("dropbear/everyday.clj over %s failed: %v\n%s\n--- dropbear log tail ---\n%s", transport, err, out, tail(db.Logs(), 30))
			}
			logFigures(t, out)
			t.Logf("%s", tail(out, 3))
		})
	}
}
