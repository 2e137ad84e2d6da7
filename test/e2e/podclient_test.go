package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"bbssh/pod"

	"github.com/jackpal/bencode-go"
	"olympos.io/encoding/edn"
)

// rawPod drives the pod binary with the pod protocol directly, as
// babashka does, over stdio or the socket transport, so that a test can
// make the client vanish in exactly the way it wants: close stdin, close
// the socket, or signal the pod. The bencode codec is an independent one
// (jackpal/bencode-go), not the pod's own.
type rawPod struct {
	cmd       *exec.Cmd
	dir       string // the pod's working directory
	stdin     io.WriteCloser
	stdout    io.ReadCloser
	conn      net.Conn  // socket transport only
	w         io.Writer // where requests go
	exited    chan struct{}
	exitedAt  time.Time
	exitState *os.ProcessState

	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int
	waiting map[string]chan map[string]any
}

// startRawPod starts the pod under test in dir with the given transport
// ("stdio" or "socket") and extra environment, and reads its describe.
func startRawPod(t *testing.T, transport, dir string, env ...string) *rawPod {
	t.Helper()
	cmd := exec.Command(podPath)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "BABASHKA_POD=true"), env...)
	if transport == "socket" {
		cmd.Env = append(cmd.Env, "BABASHKA_POD_TRANSPORT=socket")
	}
	cmd.Stderr = os.Stderr
	// Its own process group, so that a terminal's signals go elsewhere.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &rawPod{cmd: cmd, dir: dir, exited: make(chan struct{}), waiting: map[string]chan map[string]any{}}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if p.stdout, err = cmd.StdoutPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the pod: %v", err)
	}
	go func() {
		// Process.Wait, not cmd.Wait: the test closes the pipes itself,
		// when it wants the client to vanish.
		p.exitState, _ = cmd.Process.Wait()
		p.exitedAt = time.Now()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	var r io.Reader = p.stdout
	p.w = p.stdin
	if transport == "socket" {
		portFile := filepath.Join(dir, pod.PortFileName(cmd.Process.Pid))
		var port int
		deadline := time.Now().Add(10 * time.Second)
		for port == 0 && time.Now().Before(deadline) {
			if b, err := os.ReadFile(portFile); err == nil && strings.HasSuffix(string(b), "\n") {
				port, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			} else {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if port == 0 {
			t.Fatalf("the pod wrote no port file %s", portFile)
		}
		if p.conn, err = net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
			t.Fatal(err)
		}
		r, p.w = p.conn, p.conn
	}
	described := p.expect("describe")
	go p.readLoop(bufio.NewReader(r))
	if err := p.send(map[string]any{"op": "describe", "id": "describe"}); err != nil {
		t.Fatal(err)
	}
	select {
	case reply := <-described:
		if reply == nil || reply["namespaces"] == nil {
			t.Fatalf("the pod gave no describe reply: %v", reply)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no describe reply within 10 s")
	}
	return p
}

func (p *rawPod) expect(id string) chan map[string]any {
	ch := make(chan map[string]any, 1)
	p.mu.Lock()
	p.waiting[id] = ch
	p.mu.Unlock()
	return ch
}

func (p *rawPod) send(msg map[string]any) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return bencode.Marshal(p.w, msg)
}

// readLoop delivers each final reply to whoever waits for its id; values
// of streaming calls (status without "done") are dropped.
func (p *rawPod) readLoop(r *bufio.Reader) {
	defer func() {
		p.mu.Lock()
		for id, ch := range p.waiting {
			close(ch)
			delete(p.waiting, id)
		}
		p.mu.Unlock()
	}()
	for {
		v, err := bencode.Decode(r)
		if err != nil {
			return
		}
		msg, _ := v.(map[string]any)
		id, _ := msg["id"].(string)
		if status, ok := msg["status"].([]any); ok && id != "describe" {
			done := false
			for _, s := range status {
				done = done || s == "done"
			}
			if !done {
				continue
			}
		}
		p.mu.Lock()
		ch := p.waiting[id]
		delete(p.waiting, id)
		p.mu.Unlock()
		if ch != nil {
			ch <- msg
		}
	}
}

// start sends an invoke of sym with args (EDN text) and returns the
// channel its final reply arrives on.
func (p *rawPod) start(sym, args string) (chan map[string]any, error) {
	p.mu.Lock()
	p.nextID++
	id := strconv.Itoa(p.nextID)
	p.mu.Unlock()
	ch := p.expect(id)
	return ch, p.send(map[string]any{"op": "invoke", "id": id, "var": sym, "args": args})
}

// invoke calls sym with args (EDN text) and returns the value as EDN.
func (p *rawPod) invoke(t *testing.T, sym, args string) string {
	t.Helper()
	ch, err := p.start(sym, args)
	if err != nil {
		t.Fatalf("%s: %v", sym, err)
	}
	select {
	case reply, ok := <-ch:
		if !ok {
			t.Fatalf("the pod went away during %s", sym)
		}
		if msg, isErr := reply["ex-message"].(string); isErr {
			t.Fatalf("%s: %s %v", sym, msg, reply["ex-data"])
		}
		value, _ := reply["value"].(string)
		return value
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no reply within 30 s", sym)
	}
	return ""
}

// invokeInt is invoke for a var that returns an integer.
func (p *rawPod) invokeInt(t *testing.T, sym, args string) int {
	t.Helper()
	v := p.invoke(t, sym, args)
	var n int
	if err := edn.UnmarshalString(v, &n); err != nil {
		t.Fatalf("%s returned %q: %v", sym, v, err)
	}
	return n
}

// waitExit waits up to d for the pod to exit and returns how long after
// since it took, or a negative duration when it is still running.
func (p *rawPod) waitExit(since time.Time, d time.Duration) time.Duration {
	select {
	case <-p.exited:
		return p.exitedAt.Sub(since)
	case <-time.After(d):
		return -1
	}
}

// edn quotes s as an EDN string.
func ednString(s string) string { return fmt.Sprintf("%q", s) }
