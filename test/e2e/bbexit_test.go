package e2e

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bbssh/test/testbed"
)

// TestBabashkaGoesAway is TestClientGoesAway with babashka itself as the
// client: a script (bb_goes_away.clj) holds a session with a -L forward
// and a running command when bb is killed with SIGKILL, or when the
// script simply ends and babashka unloads the pod. Over both transports
// the pod must be gone within 5 s with its listener closed, its port file
// removed and nothing it started left running, here or on the server.
func TestBabashkaGoesAway(t *testing.T) {
	own, err := testbed.Start(testbed.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	echo := echoServer(t)
	for _, transport := range []string{"stdio", "socket"} {
		for _, end := range []string{"killed", "return"} {
			t.Run(transport+"/"+end, func(t *testing.T) {
				mark := randomMark(t)
				dir := t.TempDir()
				script, err := filepath.Abs("bb_goes_away.clj")
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, bbPath, script)
				cmd.Dir = dir
				cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
				bbEnd := map[string]string{"killed": "wait", "return": "return"}[end]
				cmd.Env = append(append(os.Environ(), own.Env()...),
					"BBSSH_POD="+podPath, "BBSSH_TEST_TRANSPORT="+transport,
					"BBSSH_E2E_DIR="+filepath.Join(repo, "test", "e2e"),
					"BBSSH_ECHO_PORT="+strconv.Itoa(echo), "BBSSH_BB_END="+bbEnd,
					"BBSSH_FAULT_MARK="+mark)
				cmd.Stderr = os.Stderr
				in, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				exited := make(chan struct{})
				go func() { cmd.Wait(); close(exited) }()
				t.Cleanup(func() {
					cmd.Process.Kill()
					for _, pid := range markedProcesses(mark) {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				})
				line, err := bufio.NewReader(out).ReadString('\n')
				port, convErr := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "READY "))
				if err != nil || convErr != nil {
					t.Fatalf("no READY line from the script: %q %v", line, err)
				}
				conn := echoedConn(t, port)
				if n := len(markedProcesses(mark)); n < 2 {
					t.Fatalf("expected bb, the pod and the remote command, found %v", describePids(markedProcesses(mark)))
				}
				gone := time.Now()
				if end == "killed" {
					// bb's wrapper has exec'd java: this is babashka itself.
					if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
						t.Fatal(err)
					}
				} else if _, err := in.Write([]byte("go\n")); err != nil {
					t.Fatal(err)
				}
				select {
				case <-exited:
				case <-time.After(30 * time.Second):
					t.Fatal("bb did not end")
				}
				if !eventually(5*time.Second, func() bool { return len(markedProcesses(mark)) == 0 }) {
					t.Fatalf("5 s after bb ended, still running: %v", describePids(markedProcesses(mark)))
				}
				t.Logf("FIGURE %s/%s: everything gone %.3f s after bb %s", transport, end, time.Since(gone).Seconds(),
					map[string]string{"killed": "was killed", "return": "ended its script"}[end])
				if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
					c.Close()
					t.Errorf("the -L listener on port %d still accepts", port)
				}
				if err := awaitClosed(conn, 5*time.Second); err != nil {
					t.Errorf("the forwarded connection: %v", err)
				}
				if left, _ := filepath.Glob(filepath.Join(dir, ".babashka-pod-*")); len(left) > 0 {
					t.Errorf("port files left behind: %v", left)
				}
				if !eventually(5*time.Second, func() bool { return len(own.Processes()) == 0 }) {
					t.Errorf("sshd still runs processes for the pod's session: %v", own.Processes())
				}
			})
		}
	}
}
