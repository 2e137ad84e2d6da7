// Package e2e runs the Clojure end-to-end scripts in this directory
// through real babashka (bb on the PATH, else ../shared/tools/bb/bb, see
// package bbssh/test/bb), which loads the pod with babashka's own client,
// against a real OpenSSH sshd on 127.0.0.1 started by the test
// bed, over both pod transports.
package e2e

import (
	"bbssh/test/envskip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"bbssh/test/bb"
	"bbssh/test/testbed"
)

var (
	server  *testbed.Server
	podPath string
	repo    string
	bbPath  string // the babashka that runs the scripts
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repo, err = filepath.Abs("../.."); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if bbPath, err = bb.Find(repo); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Every script's environment starts from this process's: one start-up
	// cache for the JVM bb, whatever HOME a test gives its script.
	for _, kv := range bb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	if err := bb.Warm(bbPath); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin, err := os.MkdirTemp("", "bbssh-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	podPath = filepath.Join(bin, "bbssh")
	build := exec.Command("go", "build", "-o", podPath, ".")
	build.Dir = repo
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the pod: %v\n%s", err, out)
		return 1
	}
	if server, err = testbed.Start(testbed.Options{}); err != nil {
		fmt.Fprintf(os.Stderr, "starting sshd: %v\n", err)
		return 1
	}
	defer server.Stop()
	return m.Run()
}

// scripts lists the end-to-end scripts, *_test.clj in this directory.
func scripts(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*_test.clj")
	if err != nil || len(files) == 0 {
		t.Fatalf("no end-to-end scripts found: %v", err)
	}
	sort.Strings(files)
	return files
}

// runScript runs one script through bb in a fresh working directory and
// returns its combined output. The pod's port file must be gone when the
// script has ended.
func runScript(t *testing.T, script, transport string, extraEnv ...string) string {
	t.Helper()
	work := t.TempDir()
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: a loaded 2-core machine runs load_test in about 5 min.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bbPath, abs)
	cmd.Dir = work
	// A new session has no controlling terminal, so the pod never
	// prompts: the tests behave the same from a terminal and in CI.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// A stray grandchild holding the output pipe must not hang the
	// suite once the script itself has ended.
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(append(os.Environ(), server.Env()...),
		"BBSSH_POD="+podPath,
		"BBSSH_TEST_TRANSPORT="+transport,
		"BBSSH_E2E_DIR="+filepath.Join(repo, "test", "e2e"),
		"BBSSH_REPO="+repo,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s over %s failed: %v\n%s\n--- sshd log tail ---\n%s", script, transport, err, out, tail(server.Logs(), 30))
	}
	left, _ := filepath.Glob(filepath.Join(work, ".babashka-pod-*.port*"))
	if len(left) > 0 {
		t.Errorf("%s over %s left port files behind: %v", script, transport, left)
	}
	return string(out)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestScripts runs every script over both transports. Each script is a
// clojure.test suite that exits non-zero on any failure.
func TestScripts(t *testing.T) {
	for _, transport := range []string{"stdio", "socket"} {
		for _, script := range scripts(t) {
			t.Run(transport+"/"+strings.TrimSuffix(script, ".clj"), func(t *testing.T) {
				out := runScript(t, script, transport)
				logFigures(t, out)
				t.Logf("%s", tail(out, 5))
			})
		}
	}
}

// TestPrivilegedPortAsNonRoot runs unprivileged.clj with the pod running
// as a user other than root (dropped with setpriv when the tests run as
// root), asking for a local forward on a privileged port.
func TestPrivilegedPortAsNonRoot(t *testing.T) {
	start := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		fmt.Sscan(strings.TrimSpace(string(b)), &start)
	}
	if start == 0 {
		envskip.Skip(t, "net.ipv4.ip_unprivileged_port_start is 0: this machine has no privileged ports")
	}
	pod := podPath
	if os.Geteuid() == 0 {
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			t.Fatalf("running as root and setpriv (util-linux) is missing: %v", err)
		}
		dir := t.TempDir()
		for _, d := range []string{dir, filepath.Dir(podPath)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		pod = filepath.Join(dir, "bbssh-as-nobody")
		wrapper := fmt.Sprintf("#!/bin/sh\nexec %s --reuid=65534 --regid=65534 --clear-groups -- %s \"$@\"\n", setpriv, podPath)
		if err := os.WriteFile(pod, []byte(wrapper), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := runScript(t, "unprivileged.clj", "stdio", "BBSSH_POD="+pod, fmt.Sprintf("BBSSH_PRIVILEGED_PORT=%d", start-1))
	t.Logf("%s", tail(out, 5))
}

// TestTerminalPrompts runs terminal_prompt.clj on a pseudo-terminal that
// is the controlling terminal of the client and the pod, and types at the
// pod's prompts as a person would; and once with no terminal at all.
func TestTerminalPrompts(t *testing.T) {
	tests := []struct {
		name   string
		prompt string // what the pod shows ("" when no terminal)
		typed  string
		result string // a piece of the RESULT line
	}{
		{name: "answer", prompt: "Password for bbsshtest@127.0.0.1", typed: server.Password + "\r", result: "connected ok"},
		{name: "cancel", prompt: "Password for bbsshtest@127.0.0.1", typed: "bbs\x03", result: ":bbssh/auth-failed"},
		{name: "hostkey", prompt: "Are you sure you want to continue connecting? (yes/no/[fingerprint])", typed: "yes\r", result: "connected ok"},
		{name: "none", result: "no terminal or :user-info to ask for a password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The known_hosts the hostkey case starts empty and
			// the pod writes to; the test's, since the script may
			// be killed once it has printed its RESULT.
			knownHosts := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(knownHosts, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			env := []string{"BBSSH_PROMPT_CASE=" + tt.name, "BBSSH_PROMPT_KNOWN_HOSTS=" + knownHosts}
			if tt.prompt == "" {
				out := runScript(t, "terminal_prompt.clj", "stdio", env...)
				if !strings.Contains(out, "RESULT") || !strings.Contains(out, tt.result) {
					t.Fatalf("want a RESULT with %q, got:\n%s", tt.result, out)
				}
				return
			}
			out := runOnTerminal(t, "terminal_prompt.clj", tt.prompt, tt.typed, env...)
			if !strings.Contains(out, tt.result) {
				t.Fatalf("want %q after typing, got:\n%s", tt.result, out)
			}
			if tt.name == "answer" && strings.Contains(out, server.Password) {
				t.Errorf("the password was echoed:\n%s", out)
			}
			if tt.name == "cancel" && !strings.Contains(out, "cancelled") {
				t.Errorf("the error does not say the prompt was cancelled:\n%s", out)
			}
		})
	}
}

// runOnTerminal runs a script through bb with a new pseudo-terminal as
// its controlling terminal, waits for prompt, types typed, and returns
// everything shown after the prompt once the script has printed RESULT.
func runOnTerminal(t *testing.T, script, prompt, typed string, extraEnv ...string) string {
	t.Helper()
	shown := typeOnTerminal(t, script, "stdio", nil, []step{{wait: prompt, typed: typed}, {wait: "RESULT"}}, extraEnv...)
	return shown[strings.Index(shown, prompt)+len(prompt):]
}
