package bbssh

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pdServe runs handle for each connection to a new listener on 127.0.0.1
// and returns its address. Cleanup closes the listener and the
// connections and waits for the handlers.
func pdServe(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]bool{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			wg.Add(1)
			mu.Unlock()
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// pdDialTarget is how the test proxies connect: "echo.test", a name only
// they know, stands for 127.0.0.1, so that a test passing it proves the
// name reached the proxy unresolved.
func pdDialTarget(addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == "echo.test" {
		host = "127.0.0.1"
	}
	return net.DialTimeout("tcp", net.JoinHostPort(host, port), 2*time.Second)
}

// pdSplice copies between a proxy's client (read through r, which may
// hold bytes already received) and target until either side ends.
func pdSplice(client net.Conn, r io.Reader, target net.Conn) {
	defer target.Close()
	go func() {
		io.Copy(target, r)
		target.Close()
	}()
	io.Copy(client, target)
}

// pdRecorder keeps what a test proxy was asked for.
type pdRecorder struct {
	mu  sync.Mutex
	got string
}

func (r *pdRecorder) set(s string) { r.mu.Lock(); r.got = s; r.mu.Unlock() }
func (r *pdRecorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.got
	r.got = ""
	return s
}

// pdHTTPProxy is an HTTP CONNECT proxy.
type pdHTTPProxy struct {
	user, pass string // required Basic credentials, when user is set
	forbid     bool   // answer 403
	oneWrite   bool   // answer 200 and pdBanner in one write, without a target
	seen       pdRecorder
}

const pdBanner = "SSH-2.0-pd-test\r\n"

func (h *pdHTTPProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	h.seen.set(req.Method + " " + req.RequestURI + " host=" + req.Host)
	if h.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(h.user+":"+h.pass))
		if req.Header.Get("Proxy-Authorization") != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"pd\"\r\nContent-Length: 0\r\n\r\n")
			return
		}
	}
	if h.forbid {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if h.oneWrite {
		io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"+pdBanner)
		io.Copy(io.Discard, br)
		return
	}
	target, err := pdDialTarget(req.RequestURI)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	pdSplice(c, br, target)
}

// pdSOCKS5Proxy is a SOCKS5 proxy (RFC 1928), with username/password
// auth (RFC 1929) required when user is set.
type pdSOCKS5Proxy struct {
	user, pass string
	reply      byte // a refusal code to answer with, when not 0
	seen       pdRecorder
}

func (s *pdSOCKS5Proxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	var hello [2]byte
	if _, err := io.ReadFull(br, hello[:]); err != nil || hello[0] != 5 {
		return
	}
	methods := make([]byte, hello[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	method := byte(0)
	if s.user != "" {
		method = 2
	}
	if !bytes.Contains(methods, []byte{method}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, method})
	if method == 2 {
		readString := func() string {
			n, _ := br.ReadByte()
			b := make([]byte, n)
			io.ReadFull(br, b)
			return string(b)
		}
		if v, _ := br.ReadByte(); v != 1 {
			return
		}
		user, pass := readString(), readString()
		if user != s.user || pass != s.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	var head [4]byte
	if _, err := io.ReadFull(br, head[:]); err != nil || head[1] != 1 {
		return
	}
	var host string
	switch head[3] {
	case 1, 4:
		ip := make([]byte, 4)
		if head[3] == 4 {
			ip = make([]byte, 16)
		}
		io.ReadFull(br, ip)
		host = net.IP(ip).String()
	case 3:
		n, _ := br.ReadByte()
		name := make([]byte, n)
		io.ReadFull(br, name)
		host = string(name)
	default:
		return
	}
	var port [2]byte
	if _, err := io.ReadFull(br, port[:]); err != nil {
		return
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(port[0])<<8|int(port[1])))
	s.seen.set(addr)
	if s.reply != 0 {
		c.Write([]byte{5, s.reply, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	target, err := pdDialTarget(addr)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	// A bound address given as a name, which the client must skip.
	c.Write([]byte{5, 0, 0, 3, 4, 'b', 'n', 'd', 'x', 0, 22})
	pdSplice(c, br, target)
}

// pdSOCKS4Proxy is a SOCKS4/4a proxy.
type pdSOCKS4Proxy struct {
	reject bool
	seen   pdRecorder // "user@host:port"
}

func (s *pdSOCKS4Proxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	var head [8]byte
	if _, err := io.ReadFull(br, head[:]); err != nil || head[0] != 4 || head[1] != 1 {
		return
	}
	user, err := br.ReadString(0)
	if err != nil {
		return
	}
	host := net.IP(head[4:8]).String()
	if head[4] == 0 && head[5] == 0 && head[6] == 0 && head[7] != 0 {
		if host, err = br.ReadString(0); err != nil {
			return
		}
		host = strings.TrimSuffix(host, "\x00")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(head[2])<<8|int(head[3])))
	s.seen.set(strings.TrimSuffix(user, "\x00") + "@" + addr)
	if s.reject {
		c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
		return
	}
	target, err := pdDialTarget(addr)
	if err != nil {
		c.Write([]byte{0, 0x5b, 0, 0, 0, 0, 0, 0})
		return
	}
	c.Write([]byte{0, 0x5a, 0, 0, 0, 0, 0, 0})
	pdSplice(c, br, target)
}

// pdEcho writes a line through c and checks that it comes back.
func pdEcho(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	const msg = "ping through the proxy\n"
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func pdHostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

// pdClosedPort returns an address on 127.0.0.1 where nothing listens.
func pdClosedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProxyValidate(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name    string
		p       Proxy
		wantErr string // "" when valid
	}{
		{"http", Proxy{Type: "http", Host: "proxy.example", Port: 3128}, ""},
		{"http with auth", Proxy{Type: "http", Host: "proxy.example", Port: 3128, Username: "u", Password: "p"}, ""},
		{"socks5 ipv6 in brackets", Proxy{Type: "socks5", Host: "[::1]", Port: 1080}, ""},
		{"socks5 with auth", Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "u", Password: "p"}, ""},
		{"socks4 with user id", Proxy{Type: "socks4", Host: "127.0.0.1", Port: 1080, Username: "u"}, ""},
		{"no type", Proxy{Host: "h", Port: 1}, "proxy type is not set"},
		{"unknown type", Proxy{Type: "https", Host: "h", Port: 1}, `unknown proxy type "https"`},
		{"upper case type", Proxy{Type: "SOCKS5", Host: "h", Port: 1}, "unknown proxy type"},
		{"no host", Proxy{Type: "http", Port: 3128}, "host is not set"},
		{"empty brackets", Proxy{Type: "http", Host: "[]", Port: 3128}, "host is not set"},
		{"host with space", Proxy{Type: "http", Host: "a b", Port: 3128}, "space or control"},
		{"port 0", Proxy{Type: "http", Host: "h"}, "port 0 is out of range"},
		{"port too big", Proxy{Type: "socks5", Host: "h", Port: 65536}, "port 65536 is out of range"},
		{"negative port", Proxy{Type: "socks4", Host: "h", Port: -1}, "out of range"},
		{"http user with colon", Proxy{Type: "http", Host: "h", Port: 1, Username: "a:b"}, "must not contain ':'"},
		{"socks5 password alone", Proxy{Type: "socks5", Host: "h", Port: 1, Password: "p"}, "without a username"},
		{"socks5 long user", Proxy{Type: "socks5", Host: "h", Port: 1, Username: long}, "at most 255"},
		{"socks5 long password", Proxy{Type: "socks5", Host: "h", Port: 1, Username: "u", Password: long}, "at most 255"},
		{"socks4 password", Proxy{Type: "socks4", Host: "h", Port: 1, Username: "u", Password: "p"}, "no password"},
		{"socks4 user with NUL", Proxy{Type: "socks4", Host: "h", Port: 1, Username: "a\x00b"}, "without NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if KindOf(err) != KindBadOption {
				t.Errorf("kind = %q, want %q", KindOf(err), KindBadOption)
			}
		})
	}
}

func TestProxyDialContext(t *testing.T) {
	echo := pdServe(t, func(c net.Conn) { io.Copy(c, c) })
	_, echoPort := pdHostPort(t, echo)
	byName := net.JoinHostPort("echo.test", strconv.Itoa(echoPort))

	httpOpen := &pdHTTPProxy{}
	httpAuth := &pdHTTPProxy{user: "alice", pass: "s3cret"}
	httpForbid := &pdHTTPProxy{forbid: true}
	s5Open := &pdSOCKS5Proxy{}
	s5Auth := &pdSOCKS5Proxy{user: "alice", pass: "s3cret"}
	s5Refuse := &pdSOCKS5Proxy{reply: 5}
	s4 := &pdSOCKS4Proxy{}
	s4Reject := &pdSOCKS4Proxy{reject: true}
	servers := map[any]string{}
	for _, s := range []interface{ handle(net.Conn) }{httpOpen, httpAuth, httpForbid, s5Open, s5Auth, s5Refuse, s4, s4Reject} {
		servers[s] = pdServe(t, s.handle)
	}
	seen := func(s any) string {
		switch s := s.(type) {
		case *pdHTTPProxy:
			return s.seen.take()
		case *pdSOCKS5Proxy:
			return s.seen.take()
		case *pdSOCKS4Proxy:
			return s.seen.take()
		}
		return ""
	}
	closed := pdClosedPort(t)

	tests := []struct {
		name       string
		server     any    // a test proxy, or nil for closed
		typ        string // proxy type
		user, pass string
		target     string
		wantSeen   string // what the proxy was asked for, when it answered
		wantRemote string // the conn's RemoteAddr
		wantErr    string // "" for success
		wantKind   Kind
	}{
		{name: "http ip", server: httpOpen, typ: "http", target: echo,
			wantSeen: "CONNECT " + echo + " host=" + echo, wantRemote: echo},
		{name: "http name resolved by the proxy", server: httpOpen, typ: "http", target: byName,
			wantSeen: "CONNECT " + byName + " host=" + byName, wantRemote: "0.0.0.0:0"},
		{name: "http basic auth 200", server: httpAuth, typ: "http", user: "alice", pass: "s3cret", target: byName,
			wantSeen: "CONNECT " + byName + " host=" + byName, wantRemote: "0.0.0.0:0"},
		{name: "http no credentials 407", server: httpAuth, typ: "http", target: byName,
			wantErr: "refused CONNECT to " + byName + ": 407 Proxy Authentication Required", wantKind: KindConnect},
		{name: "http bad password 407", server: httpAuth, typ: "http", user: "alice", pass: "wrong", target: byName,
			wantErr: "407 Proxy Authentication Required", wantKind: KindConnect},
		{name: "http 403", server: httpForbid, typ: "http", target: echo,
			wantErr: "403 Forbidden", wantKind: KindConnect},
		{name: "socks5 no auth", server: s5Open, typ: "socks5", target: echo,
			wantSeen: echo, wantRemote: echo},
		{name: "socks5 no auth proxy, credentials offered", server: s5Open, typ: "socks5", user: "alice", pass: "x", target: byName,
			wantSeen: byName, wantRemote: "0.0.0.0:0"},
		{name: "socks5 username/password", server: s5Auth, typ: "socks5", user: "alice", pass: "s3cret", target: byName,
			wantSeen: byName, wantRemote: "0.0.0.0:0"},
		{name: "socks5 bad password", server: s5Auth, typ: "socks5", user: "alice", pass: "wrong", target: byName,
			wantErr: `refused the username and password of user "alice"`, wantKind: KindConnect},
		{name: "socks5 auth required, none set", server: s5Auth, typ: "socks5", target: byName,
			wantErr: "refused to work without authentication", wantKind: KindConnect},
		{name: "socks5 connection refused", server: s5Refuse, typ: "socks5", target: byName,
			wantErr: "refused to connect to " + byName + ": connection refused", wantKind: KindConnect},
		{name: "socks4a name", server: s4, typ: "socks4", user: "alice", target: byName,
			wantSeen: "alice@" + byName, wantRemote: "0.0.0.0:0"},
		{name: "socks4 ipv4", server: s4, typ: "socks4", target: echo,
			wantSeen: "@" + echo, wantRemote: echo},
		{name: "socks4 rejected", server: s4Reject, typ: "socks4", target: byName,
			wantErr: "refused to connect to " + byName + ": request rejected or failed", wantKind: KindConnect},
		{name: "proxy not listening", typ: "http", target: echo,
			wantErr: "cannot connect to http proxy " + closed, wantKind: KindConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := closed
			if tt.server != nil {
				addr = servers[tt.server]
			}
			host, port := pdHostPort(t, addr)
			p := Proxy{Type: tt.typ, Host: host, Port: port, Username: tt.user, Password: tt.pass}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := p.DialContext(ctx, "tcp", tt.target)
			if tt.wantErr != "" {
				if err == nil {
					c.Close()
					t.Fatalf("DialContext succeeded, want an error containing %q", tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), addr) {
					t.Errorf("error %q does not contain %q and the proxy address %s", err, tt.wantErr, addr)
				}
				if KindOf(err) != tt.wantKind {
					t.Errorf("kind = %q, want %q", KindOf(err), tt.wantKind)
				}
				if tt.pass != "" && strings.Contains(err.Error(), tt.pass) {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DialContext: %v", err)
			}
			defer c.Close()
			pdEcho(t, c)
			if got := seen(tt.server); got != tt.wantSeen {
				t.Errorf("proxy was asked for %q, want %q", got, tt.wantSeen)
			}
			if got := c.RemoteAddr().String(); got != tt.wantRemote {
				t.Errorf("RemoteAddr = %q, want %q", got, tt.wantRemote)
			}
		})
	}
}

// TestProxyDialHTTPKeepsEarlyBytes has the proxy send its 200 and the
// server's first bytes in one write: none may be lost.
func TestProxyDialHTTPKeepsEarlyBytes(t *testing.T) {
	h := &pdHTTPProxy{oneWrite: true}
	host, port := pdHostPort(t, pdServe(t, h.handle))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Proxy{Type: "http", Host: host, Port: port}.DialContext(ctx, "tcp", "ssh.test:22")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(pdBanner))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v (got %q)", err, got)
	}
	if string(got) != pdBanner {
		t.Fatalf("read %q, want %q", got, pdBanner)
	}
}

// TestProxyDialSilent checks that ctx bounds the handshake with a proxy
// that accepts and never answers.
func TestProxyDialSilent(t *testing.T) {
	host, port := pdHostPort(t, pdServe(t, func(c net.Conn) { io.Copy(io.Discard, c) }))
	tests := []struct {
		typ     string
		cancel  bool // cancel ctx instead of letting it time out
		wantErr error
	}{
		{"http", false, context.DeadlineExceeded},
		{"socks5", false, context.DeadlineExceeded},
		{"socks4", false, context.DeadlineExceeded},
		{"socks5", true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.wantErr.Error(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if tt.cancel {
				time.AfterFunc(100*time.Millisecond, cancel)
			}
			start := time.Now()
			c, err := Proxy{Type: tt.typ, Host: host, Port: port}.DialContext(ctx, "tcp", "ssh.test:22")
			elapsed := time.Since(start)
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded through a silent proxy")
			}
			if elapsed > 2*time.Second {
				t.Errorf("DialContext took %v, want about 300ms", elapsed)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v is not %v", err, tt.wantErr)
			}
			if KindOf(err) != KindConnect || !strings.Contains(err.Error(), net.JoinHostPort(host, strconv.Itoa(port))) {
				t.Errorf("error %q (kind %q) should be %q and name the proxy", err, KindOf(err), KindConnect)
			}
		})
	}
}

func TestProxyDialBadTarget(t *testing.T) {
	tests := []struct {
		name    string
		p       Proxy
		network string
		addr    string
		wantErr string
	}{
		{"bad proxy", Proxy{Type: "ftp", Host: "127.0.0.1", Port: 1}, "tcp", "h:22", "unknown proxy type"},
		{"udp", Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1}, "udp", "h:22", `network "udp"`},
		{"no port", Proxy{Type: "http", Host: "127.0.0.1", Port: 1}, "tcp", "nohost", "want host:port"},
		{"port 0", Proxy{Type: "http", Host: "127.0.0.1", Port: 1}, "tcp", "h:0", "bad port"},
		{"port name", Proxy{Type: "http", Host: "127.0.0.1", Port: 1}, "tcp", "h:ssh", "bad port"},
		{"no host", Proxy{Type: "http", Host: "127.0.0.1", Port: 1}, "tcp", ":22", "no host"},
		{"header injection", Proxy{Type: "http", Host: "127.0.0.1", Port: 1}, "tcp", "h\r\nX-Injected-Header:22", "control character"},
		{"long name", Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1}, "tcp", strings.Repeat("a", 256) + ":22", "longer than 255"},
		{"zone", Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1}, "tcp", "[fe80::1%lo]:22", "zones"},
		{"socks4 ipv6", Proxy{Type: "socks4", Host: "127.0.0.1", Port: 1}, "tcp", "[::1]:22", "socks4 proxy cannot reach IPv6 address [::1]:22"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.p.DialContext(context.Background(), tt.network, tt.addr)
			if err == nil {
				c.Close()
				t.Fatal("DialContext succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || KindOf(err) != KindBadOption {
				t.Errorf("error %q (kind %q), want %q containing %q", err, KindOf(err), KindBadOption, tt.wantErr)
			}
		})
	}
}

// pdReadResult is the outcome of a Read in another goroutine.
type pdReadResult struct {
	data []byte
	err  error
}

// pdReadAll reads c to its end in a goroutine.
func pdReadAll(c net.Conn) <-chan pdReadResult {
	ch := make(chan pdReadResult, 1)
	go func() {
		b, err := io.ReadAll(c)
		ch <- pdReadResult{b, err}
	}()
	return ch
}

func pdWait(t *testing.T, ch <-chan pdReadResult) pdReadResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("read did not return")
		return pdReadResult{}
	}
}

func TestProxyCommandConnEcho(t *testing.T) {
	c, err := CommandConn(context.Background(), "cat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "hello"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello", got, err)
	}
	for _, a := range []net.Addr{c.LocalAddr(), c.RemoteAddr()} {
		if a.Network() != "proxycommand" {
			t.Errorf("Network() = %q, want proxycommand", a.Network())
		}
		if _, _, err := net.SplitHostPort(a.String()); err != nil {
			t.Errorf("address %q is not host:port, which known_hosts checks need: %v", a, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := c.Read(got); err == nil {
		t.Error("Read after Close succeeded")
	}
	if _, err := c.Write(got); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestProxyCommandConnExit checks that a command that ends gives its
// output, then EOF.
func TestProxyCommandConnExit(t *testing.T) {
	tests := []struct {
		command string
		want    string
	}{
		{"exit 3", ""},
		{"true", ""},
		{`printf 'SSH-2.0-x\r\n'; exit 1`, "SSH-2.0-x\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			c, err := CommandConn(context.Background(), tt.command, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := pdWait(t, pdReadAll(c))
			if r.err != nil || string(r.data) != tt.want {
				t.Fatalf("read %q, %v; want %q then EOF", r.data, r.err, tt.want)
			}
		})
	}
}

// pdSyncBuffer is a bytes.Buffer safe for the exec copying goroutine.
type pdSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *pdSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *pdSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestProxyCommandConnStderr(t *testing.T) {
	var stderr pdSyncBuffer
	c, err := CommandConn(context.Background(), "echo oops >&2; cat", &stderr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "x")
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := stderr.String(); got != "oops\n" {
		t.Errorf("stderr = %q, want %q", got, "oops\n")
	}
}

// TestProxyCommandConnClose checks that Close ends a command that does
// not end by itself, promptly, and that a Read blocked meanwhile returns.
func TestProxyCommandConnClose(t *testing.T) {
	tests := []string{
		"sleep 100",
		"trap '' TERM; sleep 100", // needs SIGKILL
		"sleep 100 & sleep 100",
	}
	for _, command := range tests {
		t.Run(command, func(t *testing.T) {
			c, err := CommandConn(context.Background(), command, nil)
			if err != nil {
				t.Fatal(err)
			}
			pid := c.(*commandConn).cmd.Process.Pid
			read := pdReadAll(c)
			time.Sleep(50 * time.Millisecond) // let the shell set its trap
			start := time.Now()
			c.Close()
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("Close took %v", elapsed)
			}
			if r := pdWait(t, read); r.err == nil {
				t.Error("a Read blocked during Close returned no error")
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the command (pid %d) is still there after Close: kill 0 = %v", pid, err)
			}
		})
	}
}

func TestProxyCommandConnBadStart(t *testing.T) {
	if _, err := CommandConn(context.Background(), "  ", nil); KindOf(err) != KindBadOption {
		t.Errorf("empty command: %v (kind %q), want %q", err, KindOf(err), KindBadOption)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := CommandConn(ctx, "cat", nil)
	if err == nil {
		c.Close()
		t.Fatal("CommandConn started with a cancelled ctx")
	}
	if !errors.Is(err, context.Canceled) || KindOf(err) != KindConnect {
		t.Errorf("cancelled ctx: %v (kind %q)", err, KindOf(err))
	}
}

// TestProxyCommandConnCloseKillsLeftovers checks that Close ends a
// background member of the command's group even after the command itself
// has exited: it would otherwise hold the connection open for ever.
func TestProxyCommandConnCloseKillsLeftovers(t *testing.T) {
	conn, err := CommandConn(context.Background(), "sleep 100 </dev/null >/dev/null 2>&1 & echo $!; exit 0", nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the background pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("pid %q: %v", line, err)
	}
	time.Sleep(100 * time.Millisecond) // let the leader exit and be reaped
	conn.Close()
	// Gone, or a zombie waiting for init to reap it.
	alive := func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		return len(fields) > 0 && fields[0] != "Z"
	}
	deadline := time.Now().Add(3 * time.Second)
	for alive() {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background process %d survived Close", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
