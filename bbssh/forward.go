package bbssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// ForwardSpec describes one forward, local (ssh -L) or remote (ssh -R).
// For a local forward the listening side is on this machine and the
// target is dialled by the server; for a remote forward it is the other
// way round.
type ForwardSpec struct {
	// Remote is true for a remote forward.
	Remote bool
	// BindAddress is the listening address; "" means 127.0.0.1, and
	// "*" or "0.0.0.0" mean every interface.
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
	switch bind {
	case "":
		bind = "127.0.0.1"
	case "*":
		bind = "0.0.0.0"
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

func (f ForwardSpec) validate() error {
	if f.ListenUnix == "" && (f.ListenPort < 0 || f.ListenPort > 65535) {
		return errorf(KindBadOption, nil, "listen port %d is out of range 0-65535", f.ListenPort)
	}
	if f.TargetUnix == "" {
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

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	stats  ForwardStats
	closed bool
	wg     sync.WaitGroup
}

// Forward starts a forward on the session: it binds the listener before
// returning, so a bind failure is reported here, then serves connections
// until Close or until the connection ends.
func (s *Session) Forward(spec ForwardSpec) (*Forward, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	client, err := s.Client()
	if err != nil {
		return nil, err
	}
	f := &Forward{Spec: spec, session: s, conns: map[net.Conn]struct{}{}}
	network, addr := spec.listenAddr()
	if spec.Remote {
		f.ln, err = client.Listen(network, addr)
		if err != nil {
			return nil, errorf(KindForward, err, "the server refused to listen on %s for a remote forward", addr)
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
			return nil, errorf(KindForward, unwrapNetErr(err), "cannot listen on %s for a local forward", addr)
		}
		f.dial = client.DialContext
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

// listenUnix listens on a unix socket readable and writable by the owner
// only, replacing a stale socket file.
func listenUnix(path string) (net.Listener, error) {
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
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
				f.Close()
			}
			return
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
	if f.closed {
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
	network, addr := f.Spec.targetAddr()
	target, err := f.dial(ctx, network, addr)
	if err != nil {
		f.fail(fmt.Errorf("connecting to %s: %w", addr, err))
		return
	}
	defer target.Close()
	if !f.add(target, false) {
		return
	}
	defer f.remove(target, false)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		n, _ := copyHalf(target, client)
		f.count(0, n)
	}()
	go func() {
		defer wg.Done()
		n, _ := copyHalf(client, target)
		f.count(n, 0)
	}()
	wg.Wait()
}

func (f *Forward) count(in, out int64) {
	f.mu.Lock()
	f.stats.BytesIn += in
	f.stats.BytesOut += out
	f.mu.Unlock()
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyHalf copies src to dst, then half-closes dst so that the other side
// sees end of file while the reverse direction may still flow.
func copyHalf(dst, src net.Conn) (int64, error) {
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(dst, src, *buf)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		dst.Close()
	}
	return n, err
}

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

// Close stops listening and closes every connection of the forward. It
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
		for c := range f.conns {
			conns = append(conns, c)
		}
	}
	f.mu.Unlock()
	if !already {
		err := f.ln.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			f.fail(err)
		}
		if f.Spec.ListenUnix != "" && !f.Spec.Remote {
			os.Remove(f.Spec.ListenUnix)
		}
		f.session.untrack(f)
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}
