package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"bbssh/test/tcpserve"

	"bbssh/test/testbed"
)

// TestClientGoesAway makes the pod's client vanish while the pod holds a
// session with a -L and a -R forward, each carrying an open connection (and
// a -L on a unix socket and a -D), a
// session through a ProxyCommand (with a background process of its own),
// a running command and a call waiting for it: stdin closed, the client
// killed (stdin and stdout closed), the socket closed, SIGTERM. Each time
// the pod must exit by itself within 1 s, with its listeners closed, the
// forwarded connections ended, its port file removed, the server's
// session processes gone and nothing it started, here or on the server,
// left running. Everything started carries a marker in its environment
// (the remote command through AcceptEnv BBSSH_*), so that leftovers can be
// found. The pod runs against an sshd of its own so that the server's
// processes can be counted.
func TestClientGoesAway(t *testing.T) {
	own, err := testbed.Start(testbed.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Stop()
	echo := echoServer(t)
	cases := []struct {
		name, transport string
		vanish          func(p *rawPod)
		frozen          bool // the server stops answering first
	}{
		{"stdin-closed", "stdio", func(p *rawPod) { p.stdin.Close() }, false},
		{"stdin-closed-server-frozen", "stdio", func(p *rawPod) { p.stdin.Close() }, true},
		{"client-killed", "stdio", func(p *rawPod) { p.stdout.Close(); p.stdin.Close() }, false},
		{"socket-closed", "socket", func(p *rawPod) { p.conn.Close() }, false},
		{"sigterm", "stdio", func(p *rawPod) { p.cmd.Process.Signal(syscall.SIGTERM) }, false},
		{"sigterm", "socket", func(p *rawPod) { p.cmd.Process.Signal(syscall.SIGTERM) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.transport+"/"+tc.name, func(t *testing.T) {
			mark := randomMark(t)
			dir := t.TempDir()
			p := startRawPod(t, tc.transport, dir, "BBSSH_FAULT_MARK="+mark)
			t.Cleanup(func() {
				for _, pid := range markedProcesses(mark) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			w := openWorkload(t, p, own, echo, dir, mark)
			if n := len(markedProcesses(mark)); n < 4 {
				t.Fatalf("expected the pod, the remote command and the ProxyCommand's processes, found %v", describePids(markedProcesses(mark)))
			}
			if len(own.Processes()) == 0 {
				t.Fatal("sshd has no session processes before the client goes")
			}

			t.Logf("before: %v", describePids(markedProcesses(mark)))
			if tc.frozen {
				if err := own.Freeze(); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := own.Restart(); err != nil {
						t.Fatal(err)
					}
				}()
			}
			gone := time.Now()
			tc.vanish(p)
			took := p.waitExit(gone, 5*time.Second)
			if took < 0 {
				t.Fatalf("the pod still runs 5 s after its client went away")
			}
			t.Logf("FIGURE %s/%s: the pod exited %.3f s after the client went away (%v)", tc.transport, tc.name, took.Seconds(), p.exitState)
			if took > time.Second {
				t.Errorf("the pod took %v to exit, want at most 1 s", took)
			}
			if ws, ok := p.exitState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Errorf("the pod was killed by %v instead of exiting by itself (it did not clean up)", ws.Signal())
			}
			if left, _ := filepath.Glob(filepath.Join(dir, ".babashka-pod-*")); len(left) > 0 {
				t.Errorf("port files left behind: %v", left)
			}
			if tc.frozen {
				// The server's side can only go once it runs again.
				if err := own.Kill(); err != nil {
					t.Fatal(err)
				}
			}
			w.check(t, own, mark)
		})
	}
}

// workload is what a case holds open when its client goes away.
type workload struct {
	lport, rport, dport int
	unixSock            string // a -L listening on a unix socket
	lconn, rconn        net.Conn
	wait                chan map[string]any // the pending exec/wait
}

// openWorkload opens, through p: a session with a -L and a -R forward to
// echo, one live connection through each, a -L on a unix socket, a -D, a command reading its stdin
// (it ends when its session does) with a call waiting for it, and a
// second session, with a -R forward too, through a ProxyCommand.
func openWorkload(t *testing.T, p *rawPod, srv *testbed.Server, echo int, dir, mark string) *workload {
	t.Helper()
	opts := fmt.Sprintf(`{:port %d :username %q :identity %q :known-hosts %q :no-agent true :identities-only true :config-file false}`,
		srv.Port, srv.User, srv.ClientKey, srv.KnownHosts)
	s := p.invoke(t, "pod.epiccastle.bbssh.pod.session/new", fmt.Sprintf("[%q %s]", srv.Host, opts))
	p.invoke(t, "pod.epiccastle.bbssh.pod.session/connect", "["+s+"]")
	w := &workload{}
	w.lport = p.invokeInt(t, "pod.epiccastle.bbssh.pod.forward/forward-local",
		fmt.Sprintf(`[%s {:local-port 0 :remote-host "127.0.0.1" :remote-port %d}]`, s, echo))
	w.rport = p.invokeInt(t, "pod.epiccastle.bbssh.pod.forward/forward-remote",
		fmt.Sprintf(`[%s {:remote-port 0 :local-port %d}]`, s, echo))
	w.unixSock = filepath.Join(dir, "forward.sock")
	p.invokeInt(t, "pod.epiccastle.bbssh.pod.forward/forward-local",
		fmt.Sprintf(`[%s {:local-unix-socket %q :remote-host "127.0.0.1" :remote-port %d}]`, s, w.unixSock, echo))
	w.dport = p.invokeInt(t, "pod.epiccastle.bbssh.pod.forward/forward-dynamic", fmt.Sprintf(`[%s {:local-port 0}]`, s))
	w.lconn = echoedConn(t, w.lport)
	w.rconn = echoedConn(t, w.rport)
	proc := p.invoke(t, "pod.epiccastle.bbssh.pod.exec/start", fmt.Sprintf(`[%s "cat" {:in-stream true :out :discard :err :discard :env {"BBSSH_FAULT_MARK" %q}}]`, s, mark))
	var err error
	if w.wait, err = p.start("pod.epiccastle.bbssh.pod.exec/wait", "["+proc+"]"); err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(dir, "ssh_config")
	config := fmt.Sprintf("Host via-command\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n"+
		"  IdentitiesOnly yes\n  UserKnownHostsFile %s\n"+
		"  ProxyCommand bash -c 'sleep 600 & exec 3<>/dev/tcp/%%h/%%p; cat <&3 & cat >&3'\n",
		srv.Port, srv.User, srv.ClientKey, srv.KnownHosts)
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := p.invoke(t, "pod.epiccastle.bbssh.pod.session/new", fmt.Sprintf(`["via-command" {:config-file %q :no-agent true}]`, cfg))
	p.invoke(t, "pod.epiccastle.bbssh.pod.session/connect", "["+s2+"]")
	// A remote forward whose cancel request a frozen server never answers.
	p.invokeInt(t, "pod.epiccastle.bbssh.pod.forward/forward-remote", fmt.Sprintf(`[%s {:remote-port 0 :local-port %d}]`, s2, echo))
	return w
}

// check verifies that nothing of the workload survived the pod.
func (w *workload) check(t *testing.T, srv *testbed.Server, mark string) {
	t.Helper()
	select {
	case reply, ok := <-w.wait:
		if ok && reply["ex-message"] == nil {
			t.Errorf("the pending exec/wait got a result instead of an error: %v", reply)
		}
	default:
		// No reply at all is fine: the client is gone.
	}
	for name, port := range map[string]int{"-L": w.lport, "-D": w.dport} {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
			c.Close()
			t.Errorf("the %s listener on port %d still accepts", name, port)
		}
	}
	if _, err := os.Lstat(w.unixSock); err == nil {
		t.Errorf("the -L unix socket %s is still there", w.unixSock)
	}
	for name, c := range map[string]net.Conn{"-L": w.lconn, "-R": w.rconn} {
		// The -L connection ends with the pod; the -R one when sshd
		// notices the session is gone.
		if err := awaitClosed(c, 5*time.Second); err != nil {
			t.Errorf("the %s forwarded connection: %v", name, err)
		}
	}
	if !eventually(5*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(w.rport)), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	}) {
		t.Errorf("sshd still listens on the -R port %d", w.rport)
	}
	if !eventually(5*time.Second, func() bool { return len(srv.Processes()) == 0 }) {
		t.Errorf("sshd still runs processes for the pod's sessions: %v", srv.Processes())
	}
	if !eventually(2*time.Second, func() bool { return len(markedProcesses(mark)) == 0 }) {
		t.Errorf("processes started by the pod outlive it: %v", describePids(markedProcesses(mark)))
	}
}

// echoServer echoes every connection on 127.0.0.1 until the test ends;
// it returns the port.
func echoServer(t *testing.T) int { return tcpserve.Serve(t, tcpserve.Echo) }

// echoedConn connects to port and checks that a message comes back.
func echoedConn(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	msg := []byte("still here\n")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("no echo through port %d: %q %v", port, got, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// awaitClosed waits up to d for the peer to close c (end of file or a
// reset).
func awaitClosed(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	for {
		_, err := c.Read(buf)
		var ne net.Error
		switch {
		case err == nil:
			continue
		case errors.As(err, &ne) && ne.Timeout():
			return fmt.Errorf("still open after %v", d)
		default:
			return nil
		}
	}
}

// eventually polls cond every 50 ms for up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func randomMark(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// markedProcesses returns the pids of live processes whose environment
// holds BBSSH_FAULT_MARK=mark: the pod and everything it started.
func markedProcesses(mark string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	needle := []byte("BBSSH_FAULT_MARK=" + mark + "\x00")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, needle) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && bytes.HasPrefix(bytes.TrimSpace(stat[i+1:]), []byte("Z")) {
				continue // a zombie waiting for its parent: already gone
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// describePids names each pid with its command line.
func describePids(pids []int) []string {
	var out []string
	for _, pid := range pids {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
	}
	return out
}
