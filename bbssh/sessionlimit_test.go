package bbssh

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// limitedServer is an in-process SSH server that allows at most max
// session channels open at once on a connection, refusing more as OpenSSH
// does beyond MaxSessions ("connect failed", "open failed"). Its commands
// are "echo WORD" (prints WORD after a short pause) and "hang" (runs
// until the client closes). direct-tcpip channels are not counted: they
// are accepted and echo what they get.
type limitedServer struct {
	max int

	mu      sync.Mutex
	open    int
	peak    int
	refused int
}

func (l *limitedServer) serve(_ *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			l.mu.Lock()
			if l.open >= l.max {
				l.refused++
				l.mu.Unlock()
				nc.Reject(ssh.ConnectionFailed, "open failed")
				continue
			}
			l.open++
			l.peak = max(l.peak, l.open)
			l.mu.Unlock()
			go func() {
				l.session(nc)
				l.mu.Lock()
				l.open--
				l.mu.Unlock()
			}()
		case "direct-tcpip":
			go func() {
				ch, reqs, err := nc.Accept()
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				io.Copy(ch, ch)
				ch.Close()
			}()
		default:
			nc.Reject(ssh.UnknownChannelType, "no")
		}
	}
}

// session runs one session channel until it is closed from both sides.
func (l *limitedServer) session(nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	for req := range reqs {
		if req.WantReply {
			req.Reply(req.Type == "exec", nil)
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
			time.Sleep(20 * time.Millisecond)
			fmt.Fprintf(ch, "%s\n", strings.TrimPrefix(cmd, "echo "))
			ch.CloseWrite()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
			ch.Close()
		}()
	}
}

func (l *limitedServer) figures() (peak, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak, l.refused
}

// start runs the server and returns a session to it, connected with
// change applied to its options.
func (l *limitedServer) start(t *testing.T, change func(*Options)) *Session {
	t.Helper()
	return connectedSession(t, l.serve, change)
}

// TestSessionsBeyondTheServerLimitWait runs more commands at once than the
// server allows sessions: every one runs, with its own output, and never
// more than the limit at once.
func TestSessionsBeyondTheServerLimitWait(t *testing.T) {
	for _, tt := range []struct {
		limit, commands int
	}{
		{limit: 1, commands: 8},
		{limit: 3, commands: 30},
		{limit: 10, commands: 50},
	} {
		t.Run(fmt.Sprintf("%d-of-%d", tt.commands, tt.limit), func(t *testing.T) {
			srv := &limitedServer{max: tt.limit}
			s := srv.start(t, nil)
			var wg sync.WaitGroup
			errs := make([]error, tt.commands)
			for i := range tt.commands {
				wg.Add(1)
				go func() {
					defer wg.Done()
					word := fmt.Sprintf("w%d", i)
					p, err := s.Exec(context.Background(), ExecOptions{Command: "echo " + word, Stdout: Capture, Stderr: Capture})
					if err != nil {
						errs[i] = err
						return
					}
					r, err := p.Wait(context.Background())
					if err == nil && (r.ExitCode != 0 || string(r.Stdout) != word+"\n") {
						err = fmt.Errorf("exit %d, output %q", r.ExitCode, r.Stdout)
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("command %d: %v", i, err)
				}
			}
			peak, refused := srv.figures()
			if peak > tt.limit {
				t.Errorf("the server saw %d sessions at once, over its limit %d", peak, tt.limit)
			}
			t.Logf("%d commands, limit %d: %d opens refused along the way", tt.commands, tt.limit, refused)
		})
	}
}

// TestSessionLimitRefusals covers the opens that must not wait, or must
// stop waiting: a refusal with no other channel open is the server's
// answer, not a limit; a wait that outlasts ChannelWait names MaxSessions;
// the connection's end ends the wait; forwarded connections never wait.
func TestSessionLimitRefusals(t *testing.T) {
	t.Run("no other channel open", func(t *testing.T) {
		s := (&limitedServer{max: 0}).start(t, nil)
		start := time.Now()
		_, err := s.Exec(context.Background(), ExecOptions{Command: "echo x"})
		if err == nil || KindOf(err) != KindExec || !strings.Contains(err.Error(), "open failed") {
			t.Fatalf("want the server's refusal as exec-failed, got %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("a refusal with nothing else open waited %v", time.Since(start))
		}
	})
	t.Run("wait gives up", func(t *testing.T) {
		s := (&limitedServer{max: 1}).start(t, func(o *Options) { o.ChannelWait = 300 * time.Millisecond })
		p, err := s.Exec(context.Background(), ExecOptions{Command: "hang", Stdin: true})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		_, err = s.Exec(context.Background(), ExecOptions{Command: "echo x"})
		if err == nil || KindOf(err) != KindExec || !strings.Contains(err.Error(), "MaxSessions") || !strings.Contains(err.Error(), "1 were open") {
			t.Fatalf("want exec-failed naming MaxSessions, got %v", err)
		}
		// The next one, after the wait was learned, gives up the same way.
		_, err = s.Exec(context.Background(), ExecOptions{Command: "echo y"})
		if err == nil || !strings.Contains(err.Error(), "MaxSessions") {
			t.Fatalf("want the second open to name MaxSessions too, got %v", err)
		}
	})
	t.Run("closing one lets a waiter in", func(t *testing.T) {
		s := (&limitedServer{max: 1}).start(t, nil)
		p, err := s.Exec(context.Background(), ExecOptions{Command: "hang", Stdin: true})
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(200*time.Millisecond, func() { p.Close() })
		q, err := s.Exec(context.Background(), ExecOptions{Command: "echo after", Stdout: Capture})
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := q.Wait(context.Background()); string(r.Stdout) != "after\n" {
			t.Fatalf("got %q", r.Stdout)
		}
	})
	t.Run("disconnect ends the wait", func(t *testing.T) {
		s := (&limitedServer{max: 1}).start(t, nil)
		if _, err := s.Exec(context.Background(), ExecOptions{Command: "hang", Stdin: true}); err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(200*time.Millisecond, func() { s.Disconnect() })
		_, err := s.Exec(context.Background(), ExecOptions{Command: "echo x"})
		if err == nil || KindOf(err) != KindNotConnected {
			t.Fatalf("want not-connected once the connection ended, got %v", err)
		}
	})
	t.Run("forwarded connections do not wait", func(t *testing.T) {
		s := (&limitedServer{max: 1}).start(t, nil)
		if _, err := s.Exec(context.Background(), ExecOptions{Command: "hang", Stdin: true}); err != nil {
			t.Fatal(err)
		}
		waiting := make(chan error, 1)
		go func() {
			_, err := s.Exec(context.Background(), ExecOptions{Command: "echo x"})
			waiting <- err
		}()
		client, err := s.Client()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := client.DialContext(ctx, "tcp", "127.0.0.1:9")
		if err != nil {
			t.Fatalf("a forwarded connection was held back: %v", err)
		}
		conn.Write([]byte("hi"))
		buf := make([]byte, 2)
		if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hi" {
			t.Fatalf("echo through the forward: %q %v", buf, err)
		}
		conn.Close()
		select {
		case err := <-waiting:
			t.Fatalf("the open beyond the limit did not wait: %v", err)
		default:
		}
		s.Disconnect()
		<-waiting
	})
}

func TestDropbearChannelBug(t *testing.T) {
	for _, tt := range []struct {
		version string
		want    bool
	}{
		{"SSH-2.0-dropbear_2022.83", true},
		{"SSH-2.0-dropbear_2022.82", true},
		{"SSH-2.0-dropbear_2024.85", true},
		{"SSH-2.0-dropbear_2024.86", false},
		{"SSH-2.0-dropbear_2025.88", false},
		{"SSH-2.0-dropbear_2020.81", false},
		{"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3", false},
		{"SSH-2.0-dropbear", false},
	} {
		if got := dropbearChannelBug(tt.version); got != tt.want {
			t.Errorf("dropbearChannelBug(%q) = %v, want %v", tt.version, got, tt.want)
		}
	}
}
