package e2e

import (
	"bbssh/test/envskip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// outsideAddr is the second address of the network namespace
// TestRemoteForwardRefusesOutsiders makes: TEST-NET-1, which exists
// nowhere but there.
const outsideAddr = "192.0.2.1"

// TestRemoteForwardRefusesOutsiders runs outsider_netns.clj, with its own
// sshd, pod and client, in a new network namespace whose loopback
// interface also has outsideAddr, so that a client can reach the
// server's 127.0.0.1 listener from a non-loopback address: the real sshd
// forwards that connection, and the pod must refuse it. It needs root
// (unshare --net) and ip; without them it is skipped.
func TestRemoteForwardRefusesOutsiders(t *testing.T) {
	unshare, err1 := exec.LookPath("unshare")
	ip, err2 := exec.LookPath("ip")
	if os.Geteuid() != 0 || err1 != nil || err2 != nil {
		envskip.Skip(t, "needs root, unshare and ip to make a network namespace")
	}
	if out, err := exec.Command(unshare, "--net", ip, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		envskip.Skipf(t, "cannot make a network namespace here: %v %s", err, out)
	}
	bin := t.TempDir()
	testsshd := filepath.Join(bin, "testsshd")
	build := exec.Command("go", "build", "-o", testsshd, "./test/cmd/testsshd")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building testsshd: %v\n%s", err, out)
	}
	script, err := filepath.Abs("outsider_netns.clj")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// In the namespace: loopback up, the outside address on it, then the
	// test bed's sshd with the script as its command.
	setup := `"$1" link set lo up && "$1" addr add ` + outsideAddr + `/32 dev lo && shift && exec "$@"`
	cmd := exec.CommandContext(ctx, unshare, "--net", "sh", "-c", setup, "sh", ip,
		testsshd, "--", bbPath, script)
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(os.Environ(),
		"BBSSH_POD="+podPath,
		"BBSSH_TEST_TRANSPORT=stdio",
		"BBSSH_E2E_DIR="+filepath.Join(repo, "test", "e2e"),
		"BBSSH_REPO="+repo,
		"BBSSH_OUTSIDE_ADDR="+outsideAddr,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("outsider_netns.clj failed: %v\n%s", err, out)
	}
	t.Logf("%s", tail(string(out), 3))
}
