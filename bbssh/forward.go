package bbssh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ForwardSpec describes one forward, local (ssh -L) or remote (ssh -R),
// fixed or dynamic (ssh -D). For a local forward the listening side is on
// this machine and the target is dialled by the server; for a remote
// forward it is the other way round. A dynamic forward is a SOCKS proxy:
// each client names its own target.
type ForwardSpec struct {
	// Remote is true for a remote forward.
	Remote bool
	// Dynamic is true for a SOCKS forward (ssh -D, or ssh -R with only a
	// port); the target fields are then unused.
	Dynamic bool
	// BindAddress is the listening address; "" means loopback, and "*"
	// means every interface ("0.0.0.0" every IPv4 one, "::" every IPv6
	// one). For a remote forward the server decides, under its
	// GatewayPorts setting.
	BindAddress string
	// ListenPort is the port to listen on; 0 picks a free one.
	ListenPort int
	// ListenUnix, when set, is a unix socket path to listen on instead.
	ListenUnix string
	// TargetHost and TargetPort are where connections go; TargetHost ""
	// means 127.0.0.1 for a remote forward.
	TargetHost string
	TargetPort int
	// TargetUnix, when set, is a unix socket path to connect to instead.
	TargetUnix string
	// ConnectTimeout bounds opening the target; 0 means no limit.
	ConnectTimeout time.Duration
}

func (f ForwardSpec) listenAddr() (network, addr string) {
	if f.ListenUnix != "" {
		return "unix", f.ListenUnix
	}
	bind := f.BindAddress
	switch {
	case bind == "":
		bind = "127.0.0.1"
	case bind == "*" && f.Remote:
		// x/crypto/ssh sends an IP; sshd reads 0.0.0.0 as "every
		// interface" just as it reads "*".
		bind = "0.0.0.0"
	case bind == "*":
		bind = "" // every interface, IPv4 and IPv6
	}
	return "tcp", net.JoinHostPort(bind, strconv.Itoa(f.ListenPort))
}

func (f ForwardSpec) targetAddr() (network, addr string) {
	if f.TargetUnix != "" {
		return "unix", f.TargetUnix
	}
	host := f.TargetHost
	if host == "" {
		host = "127.0.0.1"
	}
	return "tcp", net.JoinHostPort(host, strconv.Itoa(f.TargetPort))
}

func (f ForwardSpec) validateListen() error {
	if f.ListenUnix == "" && (f.ListenPort < 0 || f.ListenPort > 65535) {
		return errorf(KindBadOption, nil, "listen port %d is out of range 0-65535", f.ListenPort)
	}
	return nil
}

// validateLengths refuses host names and paths too long for one request
// (see MaxHostLen).
func (f ForwardSpec) validateLengths() error {
	for _, c := range []struct {
		what, s string
		max     int
	}{{"bind address", f.BindAddress, MaxHostLen}, {"target host", f.TargetHost, MaxHostLen},
		{"listening socket path", f.ListenUnix, MaxPathLen}, {"target socket path", f.TargetUnix, MaxPathLen}} {
		if err := checkLen(c.what, c.s, c.max); err != nil {
			return err
		}
	}
	return nil
}

func (f ForwardSpec) validate() error {
	if err := f.validateListen(); err != nil {
		return err
	}
	if err := f.validateLengths(); err != nil {
		return err
	}
	if !f.Dynamic && f.TargetUnix == "" {
		if f.TargetPort < 1 || f.TargetPort > 65535 {
			return errorf(KindBadOption, nil, "target port %d is out of range 1-65535", f.TargetPort)
		}
		if !f.Remote && f.TargetHost == "" {
			return errorf(KindBadOption, nil, "a local forward needs a remote host or a remote unix socket")
		}
	}
	return nil
}

// ForwardStats are a forward's running figures.
type ForwardStats struct {
	Active, Total     int64
	BytesIn, BytesOut int64 // in: from target to client; out: client to target
	Refused           int64 // connections refused for where they came from
	LastError         string
}

// Forward is a running forward: a listener and the connections it carries.
type Forward struct {
	Spec ForwardSpec
	// Port is the port actually bound (the one picked when ListenPort
	// was 0); 0 for a unix socket.
	Port int

	session *Session
	ln      net.Listener
	dial    func(ctx context.Context, network, addr string) (net.Conn, error)
	handler func(net.Conn) // when set, takes each connection instead of dial
	done    chan struct{}  // closed by the first close
	cut     func() bool    // whether the SSH connection failed

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	stats  ForwardStats
	closed bool
	// closedActive is set when Close ended the open connections too.
	closedActive bool
	lost         string // why the forward died without being closed, if it did
	wg           sync.WaitGroup
}

// Forward starts a forward on the session: it binds the listener before
// returning, so a bind failure is reported here, then serves connections
// until Close or until the connection ends.
func (s *Session) Forward(spec ForwardSpec) (*Forward, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	return s.startForward(spec, nil)
}

// ForwardTo starts a forward whose connections are given to handler
// instead of being connected to a target: the spec's target fields are
// ignored. handler runs on its own goroutine for each connection, which is
// closed when handler returns. It serves, for example, a remote forward
// whose connections a script answers itself.
func (s *Session) ForwardTo(spec ForwardSpec, handler func(net.Conn)) (*Forward, error) {
	if handler == nil {
		return nil, errorf(KindBadOption, nil, "a forward to a handler needs a handler")
	}
	spec.Dynamic, spec.TargetHost, spec.TargetPort, spec.TargetUnix = false, "", 0, ""
	if err := spec.validateListen(); err != nil {
		return nil, err
	}
	return s.startForward(spec, handler)
}

func (s *Session) startForward(spec ForwardSpec, handler func(net.Conn)) (*Forward, error) {
	client, err := s.Client()
	if err != nil {
		return nil, err
	}
	if err := s.refuseOnChangedKey("port forwarding"); err != nil {
		return nil, err
	}
	f := &Forward{Spec: spec, session: s, handler: handler, done: make(chan struct{}), conns: map[net.Conn]struct{}{}, cut: s.connectionCut()}
	network, addr := spec.listenAddr()
	if spec.Remote {
		f.ln, err = client.Listen(network, addr)
		if err != nil {
			return nil, errorf(KindForward, err, "the server refused to listen on %s for a remote forward (%s)", addr, listenRefusalHint(network, spec.ListenPort))
		}
		var d net.Dialer
		f.dial = d.DialContext
	} else {
		if network == "unix" {
			f.ln, err = listenUnix(addr)
		} else {
			f.ln, err = net.Listen(network, addr)
		}
		if err != nil {
			if errors.Is(err, syscall.EACCES) && network == "tcp" && spec.ListenPort > 0 && spec.ListenPort < 1024 {
				return nil, errorf(KindForward, unwrapNetErr(err), "cannot listen on %s for a local forward: port %d is privileged and the pod is not running as root", addr, spec.ListenPort)
			}
			return nil, errorf(KindForward, unwrapNetErr(err), "cannot listen on %s for a local forward", addr)
		}
		f.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if _, bounded := ctx.Deadline(); !bounded {
				// DialContext costs a goroutine and a hand-off per
				// connection; without a timeout it buys nothing.
				return client.Dial(network, addr)
			}
			return client.DialContext(ctx, network, addr)
		}
	}
	if tcp, ok := f.ln.Addr().(*net.TCPAddr); ok {
		f.Port = tcp.Port
	}
	if !s.track(f) {
		return nil, errorf(KindNotConnected, nil, "session ended while starting a forward")
	}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *Forward) serve() {
	defer f.wg.Done()
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			f.mu.Lock()
			closed := f.closed
			if !closed {
				f.stats.LastError = err.Error()
			}
			f.mu.Unlock()
			if !closed {
				// The listener died under us (connection lost).
				f.connectionLost("the listener stopped: " + err.Error())
				f.Close()
			}
			return
		}
		if f.refuseOrigin(conn) {
			continue
		}
		if !f.add(conn, true) {
			conn.Close()
			return
		}
		f.wg.Add(1)
		go f.handle(conn)
	}
}

// add tracks c so that Close can end it; an accepted client connection
// also counts in the figures. It reports false once the forward is closed.
func (f *Forward) add(c net.Conn, accepted bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	// A new connection is refused once the forward stopped listening; the
	// target of one already accepted only once its connections were
	// closed too (Close), not when they may finish (CloseListener): its
	// dial may well end after the listener did.
	if accepted && f.closed || f.closedActive {
		return false
	}
	f.conns[c] = struct{}{}
	if accepted {
		f.stats.Active++
		f.stats.Total++
	}
	return true
}

// remove forgets c, added with the same accepted flag.
func (f *Forward) remove(c net.Conn, accepted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.conns[c]; ok {
		delete(f.conns, c)
		if accepted {
			f.stats.Active--
		}
	}
}

func (f *Forward) fail(err error) {
	f.mu.Lock()
	f.stats.LastError = err.Error()
	f.mu.Unlock()
}

// handle connects one accepted connection to the target and proxies both
// ways until both directions are done.
func (f *Forward) handle(client net.Conn) {
	defer f.wg.Done()
	defer f.remove(client, true)
	defer client.Close()
	ctx := context.Background()
	if f.Spec.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.Spec.ConnectTimeout)
		defer cancel()
	}
	if f.handler != nil {
		f.handler(&countingConn{Conn: client, f: f})
		return
	}
	var target net.Conn
	var err error
	if f.Spec.Dynamic {
		target, err = f.dialSocks(ctx, client)
		if err != nil {
			f.fail(err)
			return
		}
	} else {
		network, addr := f.Spec.targetAddr()
		target, err = f.dial(ctx, network, addr)
		if err != nil {
			f.fail(fmt.Errorf("connecting to %s: %w", addr, openRefusal(err, addr, network == "unix")))
			return
		}
	}
	defer target.Close()
	if !f.add(target, false) {
		return
	}
	defer f.remove(target, false)
	// The SSH side is the target of a local or dynamic forward and the
	// accepted connection of a remote one. What it delivers is cut short,
	// not finished, when the connection under it failed.
	// The local side is read with raw system calls (rawsocket_linux.go).
	fromClient, fromTarget := io.Reader(client), io.Reader(target)
	if f.Spec.Remote {
		fromClient, fromTarget = cutReader{client, f.cut}, localReader(target)
	} else {
		fromClient, fromTarget = localReader(client), cutReader{target, f.cut}
	}
	// One direction on a new goroutine, the other on this one: a
	// goroutine fewer per connection.
	back := make(chan struct{})
	go func() {
		defer close(back)
		n, _ := copyHalf(client, fromTarget)
		f.count(n, 0)
	}()
	n, _ := copyHalf(target, fromClient)
	f.count(0, n)
	<-back
}

// localReader reads a forward's local connection: a TCP connection with
// raw system calls, anything else as it is.
func localReader(c net.Conn) io.Reader {
	if tcp, ok := c.(*net.TCPConn); ok {
		return newRawSocket(tcp)
	}
	return c
}

// socksHandshakeTimeout bounds a SOCKS client's negotiation, so that a
// silent client cannot hold a connection slot for ever.
const socksHandshakeTimeout = 30 * time.Second

// dialSocks reads the SOCKS request of client, connects to the target it
// names and answers it. Bytes the client sent after its request are
// passed on to the target.
func (f *Forward) dialSocks(ctx context.Context, client net.Conn) (net.Conn, error) {
	client.SetDeadline(time.Now().Add(socksHandshakeTimeout))
	r := bufio.NewReaderSize(client, 512)
	req, err := readSocksRequest(r, client)
	if err != nil {
		return nil, err
	}
	target, err := f.dial(ctx, "tcp", req.addr)
	if rerr := req.reply(client, err); err == nil && rerr != nil {
		target.Close()
		return nil, rerr
	}
	if err != nil {
		return nil, fmt.Errorf("socks: connecting to %s: %w", req.addr, err)
	}
	client.SetDeadline(time.Time{})
	if n := r.Buffered(); n > 0 {
		early, _ := r.Peek(n)
		if _, err := target.Write(early); err != nil {
			target.Close()
			return nil, fmt.Errorf("socks: passing early bytes to %s: %w", req.addr, err)
		}
		f.count(0, int64(n))
	}
	return target, nil
}

func (f *Forward) count(in, out int64) {
	f.mu.Lock()
	f.stats.BytesIn += in
	f.stats.BytesOut += out
	f.mu.Unlock()
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, bulkBufSize); return &b }}

// Buffer sizes of the proxy loop: an idle connection waits with a small
// buffer, a busy one moves data with a large pooled one, so that a
// thousand idle forwarded connections cost little memory while one bulk
// transfer still moves big chunks per system call.
const (
	idleBufSize = 2 << 10
	bulkBufSize = 256 << 10
	// bulkReadMin is the read size that keeps the loop in bulk mode. (The
	// loop reads the local side; the SSH side writes itself out,
	// copyAdaptive.)
	bulkReadMin = 16 << 10
)

// copyHalf copies src to dst, then half-closes dst so that the other side
// sees end of file while the reverse direction may still flow. When the
// copy failed (src cut short, a read or write error), dst is aborted
// instead, so that its peer sees an error and never takes a truncated
// stream for a whole one.
func copyHalf(dst net.Conn, src io.Reader) (int64, error) {
	n, err := copyAdaptive(dst, src)
	if err != nil {
		abort(dst)
		return n, err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
	return n, err
}

// copyAdaptive copies until src ends, waiting with a small buffer and
// switching to a pooled large one while reads come back big. The SSH
// side's stream (a cutReader) needs no buffer: its channel writes its
// packets to dst itself.
func copyAdaptive(dst io.Writer, src io.Reader) (int64, error) {
	if cr, ok := src.(cutReader); ok {
		return cr.WriteTo(dst)
	}
	var total int64
	small := make([]byte, idleBufSize)
	write := func(p []byte) error {
		w, err := dst.Write(p)
		total += int64(w)
		if err == nil && w != len(p) {
			err = io.ErrShortWrite
		}
		return err
	}
	for {
		n, err := src.Read(small)
		if n > 0 {
			if werr := write(small[:n]); werr != nil {
				return total, werr
			}
		}
		if err != nil {
			if err == io.EOF {
				return total, nil
			}
			return total, err
		}
		if n < len(small) {
			continue
		}
		// A full small read: more is probably waiting. Move it in bulk.
		bufp := copyBufs.Get().(*[]byte)
		for {
			n, err = src.Read(*bufp)
			if n > 0 {
				if werr := write((*bufp)[:n]); werr != nil {
					copyBufs.Put(bufp)
					return total, werr
				}
			}
			if err != nil || n < bulkReadMin {
				break
			}
		}
		copyBufs.Put(bufp)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// countingConn counts the bytes a handler moves in the forward's figures.
type countingConn struct {
	net.Conn
	f *Forward
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err == io.EOF && c.f.cut() {
		err = errStreamCut
	}
	c.f.count(0, int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.f.count(int64(n), 0)
	return n, err
}

// CloseWrite half-closes the connection when it can, else closes it.
func (c *countingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// connectionLost records why the forward is ending although nobody
// closed it; the session calls it when its connection dies.
func (f *Forward) connectionLost(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && f.lost == "" {
		f.lost = reason
		f.stats.LastError = reason
	}
}

// Lost returns why the forward died without being closed ("" if it did
// not): the session's connection was lost, or its listener failed.
func (f *Forward) Lost() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lost
}

// Handled reports whether the forward hands its connections to a
// handler (ForwardTo) rather than connecting them to a target.
func (f *Forward) Handled() bool { return f.handler != nil }

// Done returns a channel closed when the forward stops listening.
func (f *Forward) Done() <-chan struct{} { return f.done }

// Stats returns the forward's figures.
func (f *Forward) Stats() ForwardStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Closed reports whether the forward has stopped.
func (f *Forward) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Close stops listening and closes every connection of the forward,
// resetting TCP ones so that their peers see the stream was cut. It
// removes the unix socket file it listened on. It is idempotent.
func (f *Forward) Close() error {
	return f.close(true)
}

// CloseListener stops accepting but lets open connections finish.
func (f *Forward) CloseListener() error {
	return f.close(false)
}

func (f *Forward) close(active bool) error {
	f.mu.Lock()
	already := f.closed
	f.closed = true
	var conns []net.Conn
	if active {
		f.closedActive = true
		for c := range f.conns {
			conns = append(conns, c)
		}
	}
	f.mu.Unlock()
	if !already {
		close(f.done)
		err := f.ln.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			f.fail(err)
		}
		if f.Spec.ListenUnix != "" && !f.Spec.Remote {
			os.Remove(f.Spec.ListenUnix)
		}
		f.session.untrack(f)
	}
	// A connection ended here, mid-stream, is reset: its peer must not
	// take what it got for the whole stream.
	for _, c := range conns {
		abort(c)
	}
	return nil
}
