package bbssh

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// gatedEchoServer is an in-process SSH server whose direct-tcpip channels
// are accepted only once gate is closed, and then echo what they get: a
// target that takes its time to connect.
func gatedEchoServer(t *testing.T, gate <-chan struct{}) int {
	t.Helper()
	config, _ := openServerConfig(t)
	return serveSSHWith(t, config, func(_ *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			go func() {
				<-gate
				ch, chReqs, err := nc.Accept()
				if err != nil {
					return
				}
				go ssh.DiscardRequests(chReqs)
				io.Copy(ch, ch)
				ch.CloseWrite()
			}()
		}
	})
}

// TestForwardCloseDuringDial checks that a connection accepted before the
// listener was closed is still carried when its target answers after the
// close (CloseListener lets open connections finish), and that Close ends
// such a connection with a reset.
func TestForwardCloseDuringDial(t *testing.T) {
	for _, active := range []bool{false, true} {
		gate := make(chan struct{})
		port := gatedEchoServer(t, gate)
		s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone",
			KnownHosts: []string{filepath.Join(t.TempDir(), "known_hosts")}, HostKeyPolicy: HostKeyPolicy{Accept: "yes"},
			NoAgent: true, NoDefaultIdentities: true, NoConfig: true, ConnectTimeout: 10 * time.Second})
		if err := s.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		f, err := s.Forward(ForwardSpec{TargetHost: "127.0.0.1", TargetPort: 7})
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.Port)))
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); f.Stats().Active != 1; {
			if time.Now().After(deadline) {
				t.Fatal("the forward never counted the connection")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if active {
			f.Close()
		} else {
			f.CloseListener()
		}
		close(gate) // the target answers only now
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("ping"))
		got := make([]byte, 4)
		_, err = io.ReadFull(c, got)
		switch {
		case !active && (err != nil || string(got) != "ping"):
			t.Errorf("after CloseListener: read %q, %v; want the connection carried (ping)", got, err)
		case active && err == nil:
			t.Errorf("after Close: read %q; want the connection ended", got)
		}
		c.Close()
		s.Close()
	}
}
