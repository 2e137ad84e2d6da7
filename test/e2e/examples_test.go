package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"bbssh/test/tcpserve"
)

// The scripts in examples/ are run as a user would run them, with the
// examples' home directory (~/.ssh/config naming the test sshd as myhost,
// web1, ...) and the pod under test as $BBSSH_POD. Services that would be
// on the remote side (a database, a Docker socket) are started by the
// test on this machine, which is also the "server".

// example is the path of a script in examples/.
func example(name string) string { return filepath.Join(repo, "examples", name) }

// runExampleStatus runs bb with args and returns its combined output and
// exit status (not failing the test on a non-zero status).
func runExampleStatus(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bbPath, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		}
		t.Fatalf("bb %v: %v\n%s", args, err, out)
	}
	return string(out), 0
}

// interactiveExample starts bb with args and a stdin the test holds; it
// returns the process, its stdin, and a reader of its stdout.
func interactiveExample(t *testing.T, env []string, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bbPath, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, stdin, bufio.NewReader(stdout), &stderr
}

// readLineMatching reads stdout lines until one matches re (at most 60 s)
// and returns its submatches.
func readLineMatching(t *testing.T, r *bufio.Reader, re *regexp.Regexp, stderr *bytes.Buffer) []string {
	t.Helper()
	type result struct {
		m   []string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var seen []string
		for {
			line, err := r.ReadString('\n')
			if m := re.FindStringSubmatch(line); m != nil {
				ch <- result{m: m}
				return
			}
			seen = append(seen, line)
			if err != nil {
				ch <- result{err: fmt.Errorf("%v after %q", err, seen)}
				return
			}
		}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			t.Fatalf("no line matching %s: %v\nstderr:\n%s", re, res.err, stderr)
		}
		return res.m
	case <-time.After(60 * time.Second):
		t.Fatalf("no line matching %s within 60 s\nstderr:\n%s", re, stderr)
	}
	return nil
}

func TestExamples(t *testing.T) {
	home := exampleHome(t)
	env := exampleEnv(home, "BBSSH_POD="+podPath)
	ran := 0
	defer func() { t.Logf("%d example runs", ran) }()

	t.Run("db_tunnel", func(t *testing.T) {
		// The "database" greets each client, as a PostgreSQL server would
		// answer its startup message.
		db := tcpserve.Serve(t, func(c net.Conn) { io.WriteString(c, "PG-READY 16.2\n") })
		out, code := runExampleStatus(t, env, example("db_tunnel.clj"), "myhost", fmt.Sprintf("127.0.0.1:%d", db),
			"--", "bash", "-c", "cat < /dev/tcp/127.0.0.1/{port}")
		ran++
		if code != 0 || !strings.Contains(out, "PG-READY 16.2") || !regexp.MustCompile(`tunnel: 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ through myhost`).MatchString(out) {
			t.Fatalf("exit %d, output:\n%s", code, out)
		}
		out, code = runExampleStatus(t, env, example("db_tunnel.clj"), "myhost")
		ran++
		if code != 2 || !strings.Contains(out, "usage: db_tunnel.clj") {
			t.Errorf("without a target: exit %d, output:\n%s", code, out)
		}
	})

	t.Run("expose_dev_server", func(t *testing.T) {
		dev := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "dev server says hi to %s\n", r.URL.Path)
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go dev.Serve(ln)
		defer dev.Close()
		cmd, stdin, stdout, stderr := interactiveExample(t, env, example("expose_dev_server.clj"), "myhost",
			fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
		ran++
		m := readLineMatching(t, stdout, regexp.MustCompile(`^exposed: 127\.0\.0\.1:(\d+) on myhost -> 127\.0\.0\.1:\d+`), stderr)
		// What someone on the server sees at the exposed port.
		for i := range 3 {
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%s/page%d", m[1], i))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("dev server says hi to /page%d\n", i); string(body) != want {
				t.Fatalf("GET through the remote forward: %q, want %q", body, want)
			}
		}
		stdin.Close()
		done := readLineMatching(t, stdout, regexp.MustCompile(`^done: (\d+) connections`), stderr)
		if done[1] != "3" {
			t.Errorf("the script counted %s connections, want 3", done[1])
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, stderr)
		}
	})

	t.Run("docker_socket", func(t *testing.T) {
		// The server's "Docker daemon": a unix socket answering each
		// request line, as dockerd answers GET /_ping with OK.
		// In a directory the sshd's user (not root) can reach.
		dir, err := os.MkdirTemp("", "bbssh-docker-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		dockerSock := filepath.Join(dir, "docker.sock")
		ln, err := net.Listen("unix", dockerSock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		os.Chmod(dockerSock, 0o666)
		os.Chmod(dir, 0o755)
		tcpserve.Accept(ln, func(c net.Conn) {
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "docker answers %s", line)
		})
		cmd, stdin, stdout, stderr := interactiveExample(t, env, example("docker_socket.clj"), "myhost", dockerSock)
		ran++
		m := readLineMatching(t, stdout, regexp.MustCompile(`^DOCKER_HOST=unix://(\S+)`), stderr)
		c, err := net.Dial("unix", m[1])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /_ping\n")
		answer, _ := io.ReadAll(c)
		c.Close()
		if string(answer) != "docker answers GET /_ping\n" {
			t.Fatalf("through the forwarded socket: %q", answer)
		}
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("exit: %v\n%s", err, stderr)
		}
		if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
			t.Errorf("the local socket %s is still there: %v", m[1], err)
		}
		// With a command, DOCKER_HOST points at the forwarded socket.
		out, code := runExampleStatus(t, env, example("docker_socket.clj"), "myhost", dockerSock, "--",
			"bash", "-c", `test -S "${DOCKER_HOST#unix://}" && echo "socket ready at $DOCKER_HOST"`)
		ran++
		if code != 0 || !regexp.MustCompile(`socket ready at unix:///\S+/docker.sock`).MatchString(out) {
			t.Errorf("command mode: exit %d:\n%s", code, out)
		}
	})

	t.Run("parallel_exec", func(t *testing.T) {
		hosts := []string{"127.0.0.1", "localhost", "web1", "web2", "web3"}
		out, code := runExampleStatus(t, env, append([]string{example("parallel_exec.clj"), "echo $((6*7)) from $(whoami)"}, hosts...)...)
		ran++
		if code != 0 || !strings.Contains(out, "5 of 5 hosts succeeded") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, h := range hosts {
			if !strings.Contains(out, fmt.Sprintf("%s: 42 from %s\n%s: exit 0", h, server.User, h)) {
				t.Errorf("no result for %s:\n%s", h, out)
			}
		}
		out, code = runExampleStatus(t, env, example("parallel_exec.clj"), "test -d /nonexistent-dir", "web1", "closed-port")
		ran++
		if code != 1 || !strings.Contains(out, "web1: exit 1") || !strings.Contains(out, "closed-port: FAILED: bbssh: cannot connect to 127.0.0.1:1: connect: connection refused") ||
			!strings.Contains(out, "0 of 2 hosts succeeded") {
			t.Errorf("failures: exit %d:\n%s", code, out)
		}
	})

	t.Run("copy_tree", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "site")
		files := map[string]int{"index.html": 1200, "css/main.css": 300, "img/logo.png": 3 << 20, "empty.txt": 0,
			"docs/a b/notes with spaces.md": 5000, "docs/deep/er/still.txt": 77}
		for name, size := range files {
			p := filepath.Join(src, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			data := make([]byte, size)
			rand.Read(data)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		remote := fmt.Sprintf("copy-tree-%d", time.Now().UnixNano())
		defer os.RemoveAll(filepath.Join(server.Home, remote))
		out, code := runExampleStatus(t, env, example("copy_tree.clj"), "myhost", src, remote)
		ran++
		if code != 0 || !strings.Contains(out, fmt.Sprintf("copied %d files", len(files))) || !strings.Contains(out, "all SHA-256 sums match") {
			t.Fatalf("upload: exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "logo.png") || !strings.Contains(out, "3.0 MiB / 3.0 MiB") {
			t.Errorf("no progress line for the large file:\n%s", out)
		}
		for name := range files {
			want, _ := os.ReadFile(filepath.Join(src, name))
			got, err := os.ReadFile(filepath.Join(server.Home, remote, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("remote %s: %v (%d bytes, want %d)", name, err, len(got), len(want))
			}
		}
		back := t.TempDir()
		out, code = runExampleStatus(t, env, example("copy_tree.clj"), "--from", "myhost", remote, back)
		ran++
		if code != 0 || !strings.Contains(out, "all SHA-256 sums match") {
			t.Fatalf("download: exit %d:\n%s", code, out)
		}
		for name := range files {
			want, _ := os.ReadFile(filepath.Join(src, name))
			got, err := os.ReadFile(filepath.Join(back, remote, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("downloaded %s: %v", name, err)
			}
		}
	})

	t.Run("quickstart", func(t *testing.T) {
		out, code := runExampleStatus(t, append(os.Environ(), append(server.Env(), "BBSSH_POD="+podPath)...), example("quickstart.clj"))
		ran++
		if code != 0 || !strings.Contains(out, "echoed back: ping through -L and -R") || !strings.Contains(out, "done") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
}
