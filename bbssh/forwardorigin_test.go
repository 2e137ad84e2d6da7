package bbssh

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func TestForwardLoopbackOnly(t *testing.T) {
	tests := []struct {
		spec ForwardSpec
		want bool
	}{
		{ForwardSpec{Remote: true}, true},
		{ForwardSpec{Remote: true, BindAddress: "localhost"}, true},
		{ForwardSpec{Remote: true, BindAddress: "127.0.0.1"}, true},
		{ForwardSpec{Remote: true, BindAddress: "127.1.2.3"}, true},
		{ForwardSpec{Remote: true, BindAddress: "::1"}, true},
		{ForwardSpec{Remote: true, BindAddress: "[::1]"}, true},
		{ForwardSpec{Remote: true, BindAddress: "*"}, false},
		{ForwardSpec{Remote: true, BindAddress: "0.0.0.0"}, false},
		{ForwardSpec{Remote: true, BindAddress: "192.0.2.7"}, false},
		{ForwardSpec{Remote: true, BindAddress: "example.com"}, false},
		{ForwardSpec{Remote: true, ListenUnix: "/tmp/s"}, false},
		{ForwardSpec{}, false}, // a local forward listens here; the kernel enforces it
	}
	for _, tt := range tests {
		if got := tt.spec.loopbackOnly(); got != tt.want {
			t.Errorf("%+v.loopbackOnly() = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

// gatewayServer is an in-process SSH server that grants every
// tcpip-forward request and sends the client's session on conns, so that
// a test can open forwarded-tcpip channels claiming any originator, as a
// server with GatewayPorts yes would for a connection from another host.
func gatewayServer(t *testing.T, conns chan<- ssh.Conn) int {
	t.Helper()
	config, _ := openServerConfig(t)
	return serveSSHWith(t, config, func(sc *ssh.ServerConn, chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
		go func() {
			for r := range reqs {
				if r.Type != "tcpip-forward" {
					r.Reply(false, nil)
					continue
				}
				var req struct {
					Addr string
					Port uint32
				}
				ssh.Unmarshal(r.Payload, &req)
				port := req.Port
				if port == 0 {
					port = 40000
				}
				r.Reply(true, ssh.Marshal(struct{ Port uint32 }{port}))
			}
		}()
		go func() {
			for ch := range chans {
				ch.Reject(ssh.Prohibited, "no channels here")
			}
		}()
		conns <- sc
		sc.Wait()
	})
}

// TestRemoteForwardRefusesOutsiders checks that a remote forward bound to
// loopback refuses (closes, counts and records) a connection the server
// says came from another host, and carries one from loopback.
func TestRemoteForwardRefusesOutsiders(t *testing.T) {
	conns := make(chan ssh.Conn, 1)
	port := gatewayServer(t, conns)
	s := NewSession(Options{Host: "127.0.0.1", Port: port, User: "someone",
		KnownHosts: []string{filepath.Join(t.TempDir(), "known_hosts")}, HostKeyPolicy: HostKeyPolicy{Accept: "yes"},
		NoAgent: true, NoDefaultIdentities: true, NoConfig: true, ConnectTimeout: 10 * time.Second})
	defer s.Close()
	if err := s.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	server := <-conns
	handled := make(chan string, 4)
	f, err := s.ForwardTo(ForwardSpec{Remote: true, BindAddress: "127.0.0.1"}, func(c net.Conn) {
		handled <- c.RemoteAddr().String()
		c.Write([]byte("hello"))
	})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(origin string) string {
		t.Helper()
		payload := ssh.Marshal(struct {
			Addr       string
			Port       uint32
			OriginAddr string
			OriginPort uint32
		}{"127.0.0.1", uint32(f.Port), origin, 50000})
		ch, reqs, err := server.OpenChannel("forwarded-tcpip", payload)
		if err != nil {
			t.Fatalf("opening a channel from %s: %v", origin, err)
		}
		go ssh.DiscardRequests(reqs)
		defer ch.Close()
		got, _ := io.ReadAll(ch) // ends when the client closes its side
		return string(got)
	}
	for _, origin := range []string{"192.0.2.7", "0.0.0.0", "2001:db8::1"} {
		if got := dial(origin); got != "" {
			t.Errorf("a connection from %s got %q, want it closed unanswered", origin, got)
		}
	}
	if got := dial("127.0.0.1"); got != "hello" {
		t.Errorf("a connection from loopback got %q, want hello", got)
	}
	if from := <-handled; !strings.HasPrefix(from, "127.0.0.1:") {
		t.Errorf("the handler saw a connection from %s", from)
	}
	select {
	case from := <-handled:
		t.Errorf("an outsider's connection from %s reached the handler", from)
	default:
	}
	st := f.Stats()
	if st.Refused != 3 || st.Total != 1 {
		t.Errorf("stats %+v, want 3 refused and 1 carried", st)
	}
	if !strings.Contains(st.LastError, "refused a connection from [2001:db8::1]:50000") {
		t.Errorf("last error %q does not name the refused origin", st.LastError)
	}

	// Bound to every interface, outsiders are the point.
	g, err := s.ForwardTo(ForwardSpec{Remote: true, BindAddress: "0.0.0.0", ListenPort: 40001}, func(c net.Conn) {
		c.Write([]byte("hello"))
	})
	if err != nil {
		t.Fatal(err)
	}
	payload := ssh.Marshal(struct {
		Addr       string
		Port       uint32
		OriginAddr string
		OriginPort uint32
	}{"0.0.0.0", uint32(g.Port), "192.0.2.7", 50000})
	ch, reqs, err := server.OpenChannel("forwarded-tcpip", payload)
	if err != nil {
		t.Fatal(err)
	}
	go ssh.DiscardRequests(reqs)
	if got, _ := io.ReadAll(ch); string(got) != "hello" {
		t.Errorf("a wildcard forward gave an outsider %q, want hello", got)
	}
	ch.Close()
}
