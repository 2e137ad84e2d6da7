package bbssh

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// This file holds the dialers that reach the SSH server through a proxy
// instead of connecting to it directly: an HTTP CONNECT, SOCKS5 or
// SOCKS4/4a proxy (Proxy), or a command whose stdin and stdout carry the
// connection (CommandConn, OpenSSH's ProxyCommand).
//
// The connections they return report the SSH server, not the proxy, as
// their remote address: host key code records RemoteAddr next to the host
// name in known_hosts, and the proxy's address must not end up there. When
// the server's address is not known here (a host name resolved by the
// proxy, or a command) it is "0.0.0.0:0", which knownhosts treats as no
// address.

// Proxy says how to reach the SSH server through a proxy.
type Proxy struct {
	// Type is "http" (HTTP CONNECT), "socks5" or "socks4" (SOCKS4a when
	// the target is a host name rather than an IPv4 address).
	Type string
	Host string
	Port int
	// Username and Password are optional: HTTP Basic auth, or SOCKS5
	// username/password auth (RFC 1929). SOCKS4 sends Username as its
	// user id and has no password.
	Username, Password string
}

// Proxy types.
const (
	ProxyHTTP   = "http"
	ProxySOCKS5 = "socks5"
	ProxySOCKS4 = "socks4"
)

// proxyMaxString bounds the strings a SOCKS message carries (RFC 1928 and
// 1929 give them a one-byte length).
const proxyMaxString = 255

// proxyMaxHeader bounds the HTTP proxy's answer, so that a proxy sending
// headers without end cannot fill the memory before ctx ends.
const proxyMaxHeader = 64 << 10

// Validate checks the settings: a known type, a host, a port in 1-65535,
// and credentials the type can carry.
func (p Proxy) Validate() error {
	switch p.Type {
	case ProxyHTTP, ProxySOCKS5, ProxySOCKS4:
	case "":
		return errorf(KindBadOption, nil, "proxy type is not set (want http, socks5 or socks4)")
	default:
		return errorf(KindBadOption, nil, "unknown proxy type %q (want http, socks5 or socks4)", p.Type)
	}
	host := p.host()
	if host == "" {
		return errorf(KindBadOption, nil, "%s proxy host is not set", p.Type)
	}
	if strings.ContainsFunc(host, proxyBadHostRune) {
		return errorf(KindBadOption, nil, "%s proxy host %q contains a space or control character", p.Type, host)
	}
	if p.Port < 1 || p.Port > 65535 {
		return errorf(KindBadOption, nil, "%s proxy port %d is out of range (1-65535)", p.Type, p.Port)
	}
	switch p.Type {
	case ProxyHTTP:
		if strings.Contains(p.Username, ":") {
			return errorf(KindBadOption, nil, "http proxy username must not contain ':' (Basic auth)")
		}
	case ProxySOCKS5:
		if p.Username == "" && p.Password != "" {
			return errorf(KindBadOption, nil, "socks5 proxy password is set without a username")
		}
		if len(p.Username) > proxyMaxString || len(p.Password) > proxyMaxString {
			return errorf(KindBadOption, nil, "socks5 proxy username and password must be at most %d bytes each", proxyMaxString)
		}
	case ProxySOCKS4:
		if p.Password != "" {
			return errorf(KindBadOption, nil, "socks4 proxy has no password (only a user id, the username)")
		}
		if len(p.Username) > proxyMaxString || strings.ContainsRune(p.Username, 0) {
			return errorf(KindBadOption, nil, "socks4 proxy user id must be at most %d bytes, without NUL", proxyMaxString)
		}
	}
	return nil
}

// host is the proxy host without the brackets an IPv6 address may carry.
func (p Proxy) host() string {
	if len(p.Host) > 1 && p.Host[0] == '[' && p.Host[len(p.Host)-1] == ']' {
		return p.Host[1 : len(p.Host)-1]
	}
	return p.Host
}

// addr is the proxy's host:port.
func (p Proxy) addr() string {
	return net.JoinHostPort(p.host(), strconv.Itoa(p.Port))
}

func proxyBadHostRune(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// DialContext connects to addr (host:port) through the proxy; network must
// be "tcp", "tcp4" or "tcp6". A host name in addr is passed to the proxy
// unresolved, so that the proxy's DNS resolves it, as behind a firewall
// only the proxy can.
//
// ctx bounds the whole exchange, the connection to the proxy and the
// handshake with it: a proxy that accepts and never answers makes
// DialContext return ctx's error, not hang. Once DialContext returns, ctx
// no longer matters to the connection.
func (p Proxy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, errorf(KindBadOption, nil, "%s proxy cannot carry network %q (only tcp)", p.Type, network)
	}
	t, err := parseProxyTarget(addr)
	if err != nil {
		return nil, err
	}
	if p.Type == ProxySOCKS4 && t.ip.Is6() {
		return nil, errorf(KindBadOption, nil, "socks4 proxy cannot reach IPv6 address %s (use socks5 or http)", t.addr)
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr())
	if err != nil {
		return nil, errorf(KindConnect, unwrapNetErr(err), "cannot connect to %s proxy %s", p.Type, p.addr())
	}
	// The handshake has no context of its own: a deadline in the past,
	// set when ctx ends, is what interrupts it.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var pending []byte
	switch p.Type {
	case ProxyHTTP:
		pending, err = p.connectHTTP(conn, t)
	case ProxySOCKS5:
		err = p.connectSOCKS5(conn, t)
	case ProxySOCKS4:
		err = p.connectSOCKS4(conn, t)
	}
	if !stop() {
		conn.Close()
		return nil, errorf(KindConnect, ctx.Err(), "%s proxy %s did not connect to %s in time", p.Type, p.addr(), t.addr)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	remote := net.Addr(proxyUnknownAddr("tcp"))
	if t.ip.IsValid() {
		remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(t.ip, t.port))
	}
	return &proxiedConn{Conn: conn, pending: pending, remote: remote}, nil
}

// proxyTarget is the address a proxy is asked to connect to.
type proxyTarget struct {
	addr string     // host:port, IPv6 in brackets
	host string     // a host name, or the IP address as a string
	ip   netip.Addr // the address when host is an IP literal
	port uint16
}

func parseProxyTarget(addr string) (proxyTarget, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return proxyTarget{}, errorf(KindBadOption, err, "bad address %q for a proxy (want host:port)", addr)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return proxyTarget{}, errorf(KindBadOption, nil, "bad port %q in %q for a proxy", portStr, addr)
	}
	if host == "" {
		return proxyTarget{}, errorf(KindBadOption, nil, "no host in %q for a proxy", addr)
	}
	if strings.ContainsFunc(host, proxyBadHostRune) {
		return proxyTarget{}, errorf(KindBadOption, nil, "host %q contains a space or control character", host)
	}
	t := proxyTarget{host: host, port: uint16(port)}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return proxyTarget{}, errorf(KindBadOption, nil, "a proxy cannot reach %s: zones are local to this host", addr)
		}
		t.ip = ip.Unmap()
	} else if len(host) > proxyMaxString {
		return proxyTarget{}, errorf(KindBadOption, nil, "host name %.20q... is longer than %d bytes", host, proxyMaxString)
	}
	t.addr = net.JoinHostPort(t.host, portStr)
	return t, nil
}

// connectHTTP asks an HTTP proxy to CONNECT to t. It returns the bytes the
// proxy sent after its answer's header, which belong to the tunnel.
func (p Proxy) connectHTTP(conn net.Conn, t proxyTarget) ([]byte, error) {
	var req strings.Builder
	fmt.Fprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", t.addr, t.addr)
	if p.Username != "" || p.Password != "" {
		cred := base64.StdEncoding.EncodeToString([]byte(p.Username + ":" + p.Password))
		fmt.Fprintf(&req, "Proxy-Authorization: Basic %s\r\n", cred)
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return nil, p.failed(err, "did not take the CONNECT request for %s", t.addr)
	}
	// The reader is limited so that a header without end fails; what it
	// buffered past the header is handed to the connection.
	br := bufio.NewReader(io.LimitReader(conn, proxyMaxHeader))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, p.failed(err, "sent no valid answer to CONNECT %s", t.addr)
	}
	// A 2xx answer to CONNECT has no body (RFC 9110 section 9.3.6): the
	// tunnel starts right after the header.
	if resp.StatusCode/100 != 2 {
		return nil, p.failed(nil, "refused CONNECT to %s: %s", t.addr, resp.Status)
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		return append([]byte(nil), b...), nil
	}
	return nil, nil
}

// SOCKS5 messages (RFC 1928, RFC 1929).
const (
	proxySOCKS5Version  = 5
	proxySOCKS5NoAuth   = 0x00
	proxySOCKS5UserPass = 0x02
	proxySOCKS5NoMethod = 0xff
	proxySOCKS5Connect  = 0x01
	proxySOCKS5IPv4     = 0x01
	proxySOCKS5Name     = 0x03
	proxySOCKS5IPv6     = 0x04
)

// proxySOCKS5Replies are the texts of the SOCKS5 reply codes.
var proxySOCKS5Replies = [...]string{
	1: "general failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// connectSOCKS5 asks a SOCKS5 proxy to connect to t. It reads exactly the
// proxy's answer, nothing past it.
func (p Proxy) connectSOCKS5(conn net.Conn, t proxyTarget) error {
	hello := []byte{proxySOCKS5Version, 1, proxySOCKS5NoAuth}
	if p.Username != "" {
		hello = []byte{proxySOCKS5Version, 2, proxySOCKS5NoAuth, proxySOCKS5UserPass}
	}
	if _, err := conn.Write(hello); err != nil {
		return p.failed(err, "did not take the greeting")
	}
	var choice [2]byte
	if _, err := io.ReadFull(conn, choice[:]); err != nil {
		return p.failed(err, "did not answer the greeting")
	}
	if choice[0] != proxySOCKS5Version {
		return p.failed(nil, "answered with version %d, not as a SOCKS5 proxy", choice[0])
	}
	switch choice[1] {
	case proxySOCKS5NoAuth:
	case proxySOCKS5UserPass:
		if p.Username == "" {
			return p.failed(nil, "asks for a username and password, and none is set")
		}
		if err := p.authSOCKS5(conn); err != nil {
			return err
		}
	case proxySOCKS5NoMethod:
		if p.Username == "" {
			return p.failed(nil, "refused to work without authentication (set a username and password)")
		}
		return p.failed(nil, "accepts neither no authentication nor username/password")
	default:
		return p.failed(nil, "chose authentication method %#02x, which was not offered", choice[1])
	}

	req := []byte{proxySOCKS5Version, proxySOCKS5Connect, 0}
	switch {
	case t.ip.Is4():
		ip := t.ip.As4()
		req = append(append(req, proxySOCKS5IPv4), ip[:]...)
	case t.ip.Is6():
		ip := t.ip.As16()
		req = append(append(req, proxySOCKS5IPv6), ip[:]...)
	default:
		req = append(append(req, proxySOCKS5Name, byte(len(t.host))), t.host...)
	}
	req = append(req, byte(t.port>>8), byte(t.port))
	if _, err := conn.Write(req); err != nil {
		return p.failed(err, "did not take the request to connect to %s", t.addr)
	}
	var head [4]byte // VER REP RSV ATYP
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return p.failed(err, "did not answer the request to connect to %s", t.addr)
	}
	if head[0] != proxySOCKS5Version {
		return p.failed(nil, "answered with version %d, not as a SOCKS5 proxy", head[0])
	}
	if rep := head[1]; rep != 0 {
		text := fmt.Sprintf("reply code %#02x", rep)
		if int(rep) < len(proxySOCKS5Replies) {
			text = proxySOCKS5Replies[rep]
		}
		return p.failed(nil, "refused to connect to %s: %s", t.addr, text)
	}
	// The answer ends with the proxy's bound address, of no use here but
	// to be read so that the tunnel starts after it.
	var n int
	switch head[3] {
	case proxySOCKS5IPv4:
		n = 4 + 2
	case proxySOCKS5IPv6:
		n = 16 + 2
	case proxySOCKS5Name:
		var l [1]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return p.failed(err, "sent a truncated answer")
		}
		n = int(l[0]) + 2
	default:
		return p.failed(nil, "answered with unknown address type %#02x", head[3])
	}
	if _, err := io.ReadFull(conn, make([]byte, n)); err != nil {
		return p.failed(err, "sent a truncated answer")
	}
	return nil
}

// authSOCKS5 does the username/password sub-negotiation (RFC 1929).
func (p Proxy) authSOCKS5(conn net.Conn) error {
	msg := append([]byte{1, byte(len(p.Username))}, p.Username...)
	msg = append(append(msg, byte(len(p.Password))), p.Password...)
	if _, err := conn.Write(msg); err != nil {
		return p.failed(err, "did not take the username and password")
	}
	var status [2]byte
	if _, err := io.ReadFull(conn, status[:]); err != nil {
		return p.failed(err, "did not answer the username and password")
	}
	if status[1] != 0 {
		return p.failed(nil, "refused the username and password of user %q", p.Username)
	}
	return nil
}

// proxySOCKS4Replies are the texts of the SOCKS4 reply codes but "granted".
var proxySOCKS4Replies = map[byte]string{
	0x5b: "request rejected or failed",
	0x5c: "request rejected: the proxy cannot reach identd on this host",
	0x5d: "request rejected: identd reports a different user id",
}

// connectSOCKS4 asks a SOCKS4 proxy to connect to t, as SOCKS4a when t is
// a host name. It reads exactly the proxy's answer, nothing past it.
func (p Proxy) connectSOCKS4(conn net.Conn, t proxyTarget) error {
	req := []byte{4, 1, byte(t.port >> 8), byte(t.port)}
	if t.ip.Is4() {
		ip := t.ip.As4()
		req = append(req, ip[:]...)
	} else {
		req = append(req, 0, 0, 0, 1) // SOCKS4a: the host name follows
	}
	req = append(append(req, p.Username...), 0)
	if !t.ip.Is4() {
		req = append(append(req, t.host...), 0)
	}
	if _, err := conn.Write(req); err != nil {
		return p.failed(err, "did not take the request to connect to %s", t.addr)
	}
	var resp [8]byte // VN CD DSTPORT DSTIP
	if _, err := io.ReadFull(conn, resp[:]); err != nil {
		return p.failed(err, "did not answer the request to connect to %s", t.addr)
	}
	if resp[0] != 0 && resp[0] != 4 { // 0 by the protocol; some send 4
		return p.failed(nil, "answered with version %d, not as a SOCKS4 proxy", resp[0])
	}
	if resp[1] != 0x5a {
		text, ok := proxySOCKS4Replies[resp[1]]
		if !ok {
			text = fmt.Sprintf("reply code %#02x", resp[1])
		}
		return p.failed(nil, "refused to connect to %s: %s", t.addr, text)
	}
	return nil
}

// failed is a connect error that names the proxy.
func (p Proxy) failed(cause error, format string, args ...any) error {
	return errorf(KindConnect, cause, "%s proxy %s %s", p.Type, p.addr(), fmt.Sprintf(format, args...))
}

// proxiedConn is a connection through a proxy. It reads first the bytes
// the proxy sent past its answer, and reports the target as its remote
// address.
type proxiedConn struct {
	net.Conn
	pending []byte
	remote  net.Addr
}

func (c *proxiedConn) Read(b []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// RemoteAddr returns the target's address when it is an IP address, and
// "0.0.0.0:0" when the proxy resolved a name.
func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }

// proxyUnknownAddr is the address of a peer this end cannot know: a
// target resolved by a proxy, or the ends of a proxy command. Network is
// the string; String is "0.0.0.0:0", which host key code can split as
// host:port and which knownhosts does not record.
type proxyUnknownAddr string

// Network returns the network name, "tcp" or "proxycommand".
func (a proxyUnknownAddr) Network() string { return string(a) }

func (a proxyUnknownAddr) String() string { return "0.0.0.0:0" }

// Bounds on closing a proxy command: how long it has to end after SIGTERM,
// then after SIGKILL, before Close returns anyway.
const (
	proxyCommandTermWait = 500 * time.Millisecond
	proxyCommandKillWait = time.Second
)

// CommandConn runs command with "sh -c" and returns a connection over its
// stdin and stdout, as OpenSSH's ProxyCommand (for example
// "ssh -W %h:%p jump", with %h and %p already replaced). Its stderr goes
// to stderr, or is discarded when stderr is nil.
//
// The command runs in its own process group, so that Close reaches what
// it started too: Close closes the pipes, sends SIGTERM to the group, then
// SIGKILL, and waits for the command a bounded time. ctx cancels the start
// only; to bound the SSH handshake, close the connection.
//
// Being in its own process group, the command cannot read the terminal
// (it would be stopped): it must not prompt.
func CommandConn(ctx context.Context, command string, stderr io.Writer) (net.Conn, error) {
	if strings.TrimSpace(command) == "" {
		return nil, errorf(KindBadOption, nil, "proxy command is empty")
	}
	if err := ctx.Err(); err != nil {
		return nil, errorf(KindConnect, err, "proxy command not started")
	}
	// The pipes are made here, not with StdinPipe and StdoutPipe, so that
	// Wait does not close them: the command is reaped as soon as it ends,
	// and what it wrote before can still be read.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, errorf(KindConnect, err, "starting proxy command")
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, errorf(KindConnect, err, "starting proxy command")
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Stdin = inR
	cmd.Stdout = outW
	cmd.Stderr = stderr
	cmd.SysProcAttr = groupAttr()
	// A process that left the group could keep stderr open for ever.
	cmd.WaitDelay = proxyCommandKillWait
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		inW.Close()
		return nil, errorf(KindConnect, err, "starting proxy command %q", command)
	}
	c := &commandConn{cmd: cmd, r: outR, w: inW, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// commandConn is a connection over a proxy command's stdin and stdout.
type commandConn struct {
	cmd    *exec.Cmd
	r      *os.File      // the command's stdout
	w      *os.File      // the command's stdin
	exited chan struct{} // closed once the command has been reaped
	once   sync.Once
}

func (c *commandConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *commandConn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Close closes the pipes and ends the command's process group: SIGTERM,
// then SIGKILL. It returns within about proxyCommandTermWait +
// proxyCommandKillWait even when the command does not end. Once the
// command has been reaped its pid may be reused, so the group is no
// longer signalled: what the command left running in the background
// after it ended is left alone.
func (c *commandConn) Close() error {
	c.once.Do(func() {
		c.r.Close()
		c.w.Close()
		// Signal the group even when its leader has already exited: a
		// command such as `cat <&3 & cat >&3` leaves a background member
		// that would keep the connection (and stderr) open for ever. A
		// pid stays reserved while it names a live process group, so the
		// signal cannot reach a stranger while a member is alive.
		signalGroup(c.cmd.Process, false)
		t := time.NewTimer(proxyCommandTermWait)
		select {
		case <-c.exited:
			t.Stop()
		case <-t.C:
		}
		signalGroup(c.cmd.Process, true)
		t = time.NewTimer(proxyCommandKillWait)
		select {
		case <-c.exited:
			t.Stop()
		case <-t.C:
		}
	})
	return nil
}

func (c *commandConn) LocalAddr() net.Addr  { return proxyUnknownAddr("proxycommand") }
func (c *commandConn) RemoteAddr() net.Addr { return proxyUnknownAddr("proxycommand") }

// SetDeadline sets the read and write deadlines on the pipes.
func (c *commandConn) SetDeadline(t time.Time) error {
	return errors.Join(c.r.SetReadDeadline(t), c.w.SetWriteDeadline(t))
}

func (c *commandConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *commandConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }
