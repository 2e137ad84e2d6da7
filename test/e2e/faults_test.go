package e2e

import (
	"bbssh/test/envskip"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bbssh/test/testbed"
)

// TestSshdCut takes the server away while a script has a -L and a -R
// transfer, a streaming command and scp uploads and downloads in flight
// (faults/sshd_cut.clj): killed, the kernel closes the connection; frozen,
// it stays open and only the session's keepalives can tell. The script
// checks that everything pending ends within seconds and that a restarted
// sshd can be used again. Each case has an sshd of its own, so that the
// other tests keep theirs.
func TestSshdCut(t *testing.T) {
	for _, mode := range []string{"kill", "freeze"} {
		t.Run(mode, func(t *testing.T) {
			own, err := testbed.Start(testbed.Options{Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer own.Stop()
			dir := t.TempDir()
			sc := startScript(t, "faults/sshd_cut.clj", own, "stdio",
				"BBSSH_FAULT_MODE="+mode, "BBSSH_FAULT_DIR="+dir)
			if !sc.awaitFile(filepath.Join(dir, "ready"), 90*time.Second) {
				t.Fatalf("the script never said it was ready:\n%s", sc.finish())
			}
			cut := time.Now()
			if mode == "kill" {
				err = own.Kill()
			} else {
				err = own.Freeze()
			}
			if err != nil {
				t.Fatal(err)
			}
			writeSignal(t, filepath.Join(dir, "cut"), strconv.FormatInt(cut.UnixMilli(), 10))
			if !sc.awaitFile(filepath.Join(dir, "checked"), 60*time.Second) {
				t.Fatalf("the script did not finish its checks:\n%s", sc.finish())
			}
			if mode == "freeze" {
				if err := own.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			if err := own.Restart(); err != nil {
				t.Fatal(err)
			}
			writeSignal(t, filepath.Join(dir, "restarted"), "")
			out, err := sc.wait()
			if err != nil {
				t.Fatalf("faults/sshd_cut.clj (%s) failed: %v\n%s\n--- sshd log tail ---\n%s", mode, err, out, tail(own.Logs(), 30))
			}
			logFigures(t, out)
		})
	}
}

// TestCallbackNeverReturns runs faults/callbacks.clj, whose user-info
// never answers, against an sshd of its own with a short LoginGraceTime.
// What ends the wait is in the pod, the same for both transports (whose
// callbacks auth_test.clj covers), so stdio is enough.
func TestCallbackNeverReturns(t *testing.T) {
	const grace = 3
	own, err := testbed.Start(testbed.Options{Logf: t.Logf, ExtraConfig: fmt.Sprintf("LoginGraceTime %d\n", grace)})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	if own.Password == "" {
		envskip.Skip(t, "password login needs the tests to run as root")
	}
	sc := startScript(t, "faults/callbacks.clj", own, "stdio", fmt.Sprintf("BBSSH_LOGIN_GRACE=%d", grace))
	out, err := sc.wait()
	if err != nil {
		t.Fatalf("faults/callbacks.clj failed: %v\n%s\n--- sshd log tail ---\n%s", err, out, tail(own.Logs(), 30))
	}
	logFigures(t, out)
}

// script is a test script running in the background.
type script struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

// startScript starts a script through bb against srv, as runScript does,
// without waiting for it.
func startScript(t *testing.T, name string, srv *testbed.Server, transport string, extraEnv ...string) *script {
	t.Helper()
	abs, err := filepath.Abs(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, bbPath, abs)
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(append(os.Environ(), srv.Env()...),
		"BBSSH_POD="+podPath,
		"BBSSH_TEST_TRANSPORT="+transport,
		"BBSSH_E2E_DIR="+filepath.Join(repo, "test", "e2e"),
		"BBSSH_REPO="+repo,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	sc := &script{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = sc.out, sc.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { sc.err = cmd.Wait(); cancel(); close(sc.done) }()
	t.Cleanup(func() {
		select {
		case <-sc.done:
		default:
			cmd.Process.Kill()
			<-sc.done
		}
	})
	return sc
}

// awaitFile waits until path exists, the script ends or d passes.
func (sc *script) awaitFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		select {
		case <-sc.done:
			_, err := os.Stat(path)
			return err == nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// wait waits for the script to end and returns its output.
func (sc *script) wait() (string, error) {
	<-sc.done
	return sc.out.String(), sc.err
}

// finish kills the script if it is still running and returns its output.
func (sc *script) finish() string {
	select {
	case <-sc.done:
	default:
		sc.cmd.Process.Kill()
		<-sc.done
	}
	return sc.out.String()
}

// writeSignal writes a file for a script to find, whole.
func writeSignal(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// logFigures logs the FIGURE lines of a script's output.
func logFigures(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FIGURE ") {
			t.Log(strings.TrimPrefix(line, "FIGURE "))
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
