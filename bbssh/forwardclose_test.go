package bbssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
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
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	config := &ssh.ServerConfig{NoClientAuth: true}
	config.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, chans, reqs, err := ssh.NewServerConn(c, config)
				if err != nil {
					c.Close()
					return
				}
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
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
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
