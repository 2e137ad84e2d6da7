package bbssh

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// recordingServer is an in-process SSH server whose session channels
// record every request (its type, "?" when it wants a reply, and its
// payload); "exec cat" echoes stdin to stdout, writes "oops"
// to stderr and exits 3; "exec hang" runs until the client closes.
type recordingServer struct {
	mu   sync.Mutex
	reqs []string // "type[?] payload-as-text"
}

func (r *recordingServer) record(req *ssh.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kind := req.Type
	if req.WantReply {
		kind += "?"
	}
	r.reqs = append(r.reqs, kind+" "+describePayload(req))
}

func (r *recordingServer) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

// describePayload renders the requests the test checks.
func describePayload(req *ssh.Request) string {
	switch req.Type {
	case "env":
		var m struct{ Name, Value string }
		ssh.Unmarshal(req.Payload, &m)
		return m.Name + "=" + m.Value
	case "pty-req":
		var m struct {
			Term                      string
			Cols, Rows, Width, Height uint32
			Modes                     string
		}
		ssh.Unmarshal(req.Payload, &m)
		return strings.Join([]string{m.Term, itoa(m.Cols), itoa(m.Rows), itoa(m.Width), itoa(m.Height), string(bytes.ReplaceAll([]byte(m.Modes), []byte{0}, []byte{'.'}))}, " ")
	case "window-change":
		var m struct{ Cols, Rows, Width, Height uint32 }
		ssh.Unmarshal(req.Payload, &m)
		return strings.Join([]string{itoa(m.Cols), itoa(m.Rows), itoa(m.Width), itoa(m.Height)}, " ")
	case "exec", "signal":
		var m struct{ S string }
		ssh.Unmarshal(req.Payload, &m)
		return m.S
	}
	return ""
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func (r *recordingServer) serveChannel(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for req := range reqs {
		r.record(req)
		if req.WantReply {
			req.Reply(true, nil)
		}
		if req.Type != "exec" {
			continue
		}
		cmd := describePayload(req)
		go func() {
			if cmd == "hang" {
				io.Copy(io.Discard, ch)
				return
			}
			io.Copy(ch, ch)
			ch.Stderr().Write([]byte("oops"))
			ch.CloseWrite()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{3}))
			ch.Close()
		}()
	}
}

// start runs the server and returns a connected session to it.
func (r *recordingServer) start(t *testing.T) *Session {
	t.Helper()
	return connectedSession(t, func(_ *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			go r.serveChannel(nc)
		}
	}, nil)
}

func recordingKnownHost(port int, key ssh.PublicKey) string {
	return "[127.0.0.1]:" + strconv.Itoa(port) + " " + string(ssh.MarshalAuthorizedKey(key))
}

// bufCloser is a writer that remembers being closed.
type bufCloser struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (b *bufCloser) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *bufCloser) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *bufCloser) String() (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String(), b.closed
}

func TestExecChannelSendsWhatWasSet(t *testing.T) {
	srv := &recordingServer{}
	s := srv.start(t)
	c, err := s.NewExecChannel()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	out, errOut := &bufCloser{}, &bufCloser{}
	must(c.SetCommand("cat"))
	must(c.SetEnv("B", "2"))
	must(c.SetEnv("A", "1"))
	must(c.SetEnv("B", "3")) // replaces, keeps the place
	must(c.SetPty(true))
	must(c.SetPtyType("xterm", &PtyOptions{Cols: 100, Rows: 30, Width: 800, Height: 600}))
	must(c.SetTerminalModes([]byte{53, 0, 0, 0, 0, 0}))
	// stdin stays open until the window change is sent: the command is
	// running then
	stdinR, stdinW := io.Pipe()
	must(c.SetStdin(stdinR, false))
	must(c.SetStdout(out, false))
	must(c.SetStderr(errOut, true))
	if st := c.State(); st.Connected || st.Closed || st.EOF || st.Exit != -1 {
		t.Fatalf("state before connect: %+v", st)
	}
	must(c.Connect(context.Background()))
	must(c.SetPtySize(120, 40, 0, 0))
	stdinW.Write([]byte("hello"))
	stdinW.Close()
	exit, err := c.Wait(context.Background())
	if err != nil || exit != 3 {
		t.Fatalf("Wait = %d, %v; want 3", exit, err)
	}
	if got, closed := out.String(); got != "hello" || !closed {
		t.Errorf("stdout = %q (closed %v), want \"hello\", closed", got, closed)
	}
	if got, closed := errOut.String(); got != "oops" || closed {
		t.Errorf("stderr = %q (closed %v), want \"oops\", kept open", got, closed)
	}
	if st := c.State(); st.Connected || !st.Closed || !st.EOF || st.Exit != 3 {
		t.Errorf("state after the end: %+v", st)
	}
	// Environment variables ask for no reply, as ssh's do: a refused
	// one is ignored either way, and the answer would cost a round trip.
	want := []string{"env B=3", "env A=1", "pty-req? xterm 100 30 800 600 5.....", "exec? cat", "window-change 120 40 0 0"}
	got := srv.requests()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server saw\n%q\nwant\n%q", got, want)
	}
}

func TestExecChannelRefusals(t *testing.T) {
	srv := &recordingServer{}
	s := srv.start(t)
	connected, _ := s.NewExecChannel()
	connected.SetCommand("cat")
	if err := connected.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer connected.Disconnect()
	fresh, _ := s.NewExecChannel()
	tests := []struct {
		name string
		call func() error
		kind Kind
	}{
		{"modes without a value", func() error { return fresh.SetTerminalModes([]byte{53, 0}) }, KindBadOption},
		{"undefined opcode", func() error { return fresh.SetTerminalModes([]byte{200, 0, 0, 0, 0}) }, KindBadOption},
		{"negative size", func() error { return fresh.SetPtySize(-1, 2, 3, 4) }, KindBadOption},
		{"empty env name", func() error { return fresh.SetEnv("", "x") }, KindBadOption},
		{"no command", func() error { return fresh.Connect(context.Background()) }, KindBadOption},
		{"setter after connect", func() error { return connected.SetCommand("x") }, KindBadOption},
		{"connect twice", func() error { return connected.Connect(context.Background()) }, KindBadOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); KindOf(err) != tt.kind {
				t.Fatalf("error %v (kind %q), want kind %q", err, KindOf(err), tt.kind)
			}
		})
	}
	never, _ := s.NewExecChannel()
	if err := never.Signal("TERM"); KindOf(err) != KindNotConnected {
		t.Errorf("signal before connect: %v", err)
	}
	if _, err := never.Wait(context.Background()); KindOf(err) != KindNotConnected {
		t.Errorf("wait before connect: %v", err)
	}
}

func TestExecChannelDisconnectEndsWait(t *testing.T) {
	srv := &recordingServer{}
	s := srv.start(t)
	c, _ := s.NewExecChannel()
	c.SetCommand("hang")
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.Signal("INT"); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := c.Wait(context.Background())
		waited <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Disconnect()
	select {
	case err := <-waited:
		if KindOf(err) != KindClosed {
			t.Fatalf("Wait after Disconnect: %v, want kind closed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait still blocked 5 s after Disconnect")
	}
	if st := c.State(); !st.Closed || st.Connected || c.Busy() {
		t.Errorf("state after Disconnect: %+v, busy %v", st, c.Busy())
	}
	if got := srv.requests(); len(got) < 2 || got[1] != "signal INT" {
		t.Errorf("server saw %q, want the signal after exec", got)
	}
	// A wait bounded by a context returns when it ends.
	c2, _ := s.NewExecChannel()
	c2.SetCommand("hang")
	c2.Connect(context.Background())
	defer c2.Disconnect()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c2.Wait(ctx); err != context.DeadlineExceeded {
		t.Errorf("bounded wait: %v", err)
	}
}
