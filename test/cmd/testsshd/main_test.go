package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// portFrom extracts BBSSH_TEST_PORT from printed env lines.
func portFrom(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`BBSSH_TEST_PORT='?(\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no BBSSH_TEST_PORT in %q", text)
	}
	return m[1]
}

// assertStopped checks that nothing listens on port any more.
func assertStopped(t *testing.T, port string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("sshd still listening on %s", port)
	}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		want  int
	}{
		{"command-status", []string{"--", "sh", "-c", `test "$BBSSH_TEST_PORT" -gt 0 && test -f "$BBSSH_TEST_IDENTITY" && exit 7`}, "", 7},
		{"command-ssh", []string{"--", "sh", "-c", `exec ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$BBSSH_TEST_KNOWN_HOSTS" -i "$BBSSH_TEST_IDENTITY" -p "$BBSSH_TEST_PORT" "$BBSSH_TEST_USER@$BBSSH_TEST_HOST" echo hi`}, "", 0},
		{"command-missing", []string{"--", "/nonexistent/cmd"}, "", 127},
		{"no-command-stdin-eof", nil, "", 0},
		{"bad-flag", []string{"-nope"}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envFile := filepath.Join(t.TempDir(), "env.sh")
			var stdout, stderr bytes.Buffer
			args := append([]string{"-env-file", envFile}, tc.args...)
			if got := run(args, strings.NewReader(tc.stdin), &stdout, &stderr); got != tc.want {
				t.Fatalf("status %d, want %d; stderr:\n%s", got, tc.want, stderr.String())
			}
			if tc.want == 2 {
				return
			}
			raw, err := os.ReadFile(envFile)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stderr.String(), "BBSSH_TEST_HOST=127.0.0.1") {
				t.Errorf("env not printed to stderr: %s", stderr.String())
			}
			// The env file must be valid shell.
			out, err := exec.Command("sh", "-c", `. "$1" && echo "$BBSSH_TEST_USER"`, "sh", envFile).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) == "" {
				t.Errorf("sourcing env file: %v: %s", err, out)
			}
			if tc.name == "command-ssh" && strings.TrimSpace(stdout.String()) != "hi" {
				t.Errorf("ssh stdout %q, want hi", stdout.String())
			}
			assertStopped(t, portFrom(t, string(raw)))
		})
	}
}
