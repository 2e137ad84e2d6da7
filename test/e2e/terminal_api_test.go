package e2e

import (
	"bbssh/test/envskip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestTerminalAPI runs terminal_api.clj on a 101x37 pseudo-terminal that
// is the controlling terminal of the client and the pod, over both
// transports: the terminal namespace reports it, raw mode switches what
// stty sees and back, and raw-mode-readline reads what is typed without
// echo, Enter ending the line and Ctrl-C cancelling it without ending the
// script.
func TestTerminalAPI(t *testing.T) {
	for _, transport := range []string{"stdio", "socket"} {
		t.Run(transport, func(t *testing.T) {
			screen := typeOnTerminal(t, "terminal_api.clj", transport, &pty.Winsize{Cols: 101, Rows: 37}, []step{
				{wait: "Password: ", typed: "s3cret\r", raw: true},
				{wait: "Again: ", typed: "ab\x03", raw: true},
				{wait: "RESULT"},
			})
			for _, want := range []string{
				"SIZE true 101 37",
				"MODES-COOKED isig icanon echo",
				"MODES-RAW -isig -icanon -echo",
				"MODES-RESTORED isig icanon echo",
				"READ terc3s",
				"CANCELLED nil",
				"RESULT done isig icanon echo",
			} {
				if !strings.Contains(screen, want) {
					t.Errorf("the terminal does not show %q:\n%s", want, screen)
				}
			}
			if strings.Contains(screen, "s3cret") {
				t.Errorf("what was typed in raw mode was echoed:\n%s", screen)
			}
		})
	}
}

// step waits until the terminal shows wait (and, with raw, until the
// terminal is in raw mode: a person types after the prompt shows, but a
// test would be faster than the script), then types typed.
type step struct {
	wait, typed string
	raw         bool
}

// echoOff reports whether the terminal's line discipline no longer echoes,
// as raw mode leaves it; the master side shows the slave's modes.
func echoOff(tty *os.File) bool {
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	return err == nil && tio.Lflag&unix.ECHO == 0
}

// typeOnTerminal runs script through bb on a new pseudo-terminal of the
// given size (nil: the default), as its controlling terminal, plays the steps, and returns
// everything the terminal showed once the last line waited for is
// complete.
func typeOnTerminal(t *testing.T, script, transport string, size *pty.Winsize, steps []step, extraEnv ...string) string {
	t.Helper()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bbPath, abs)
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(os.Environ(), server.Env()...),
		"BBSSH_POD="+podPath, "BBSSH_TEST_TRANSPORT="+transport,
		"BBSSH_E2E_DIR="+filepath.Join(repo, "test", "e2e"), "BBSSH_REPO="+repo)
	cmd.Env = append(cmd.Env, extraEnv...)
	tty, err := pty.StartWithSize(cmd, size)
	if err != nil {
		envskip.Skipf(t, "no pseudo-terminal here: %v", err)
	}
	defer tty.Close()
	defer cmd.Process.Kill()
	var shown strings.Builder
	buf := make([]byte, 4096)
	readUntil := func(want string) bool {
		for !strings.Contains(shown.String(), want) {
			tty.SetReadDeadline(time.Now().Add(30 * time.Second))
			n, err := tty.Read(buf)
			shown.Write(buf[:n])
			if err != nil {
				return strings.Contains(shown.String(), want)
			}
		}
		return true
	}
	for _, s := range steps {
		if !readUntil(s.wait) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", s.wait, shown.String())
		}
		for deadline := time.Now().Add(20 * time.Second); s.raw && !echoOff(tty); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the terminal never went into raw mode after %q", s.wait)
			}
		}
		if s.typed != "" {
			if _, err := io.WriteString(tty, s.typed); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The rest of the last line.
	last := steps[len(steps)-1].wait
	for range 100 {
		all := shown.String()
		if strings.Contains(all[strings.LastIndex(all, last):], "\n") {
			break
		}
		tty.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := tty.Read(buf)
		shown.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return shown.String()
}
