package api

import (
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"

	"bbssh/bbssh"
	"bbssh/pod"
)

// A remote forward handled in bb: the server listens, and each connection
// it gets is handed to the script as a handle whose bytes it reads and
// writes with the conn-* vars, as node ssh2's forwardIn does. The
// serve-remote call streams one event per connection to the client's
// handler until the forward stops.

// forwardedConn is one connection of a handled forward, held by the
// script through a handle.
type forwardedConn struct {
	net.Conn
	readMu    sync.Mutex // one read at a time keeps the bytes in order
	closeOnce sync.Once
	closed    chan struct{}
	spliced   chan struct{} // closed when a data channel stops carrying the bytes
}

// Close closes the connection and lets the forward's handler return.
func (c *forwardedConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		err = c.Conn.Close()
		close(c.closed)
	})
	return err
}

// handledKeys are the keys of serve-remote's map.
var handledKeys = map[string]bool{"bind-address": true, "remote-port": true, "remote-unix-socket": true}

func (a *API) registerHandledForward(ns *pod.Namespace) {
	ns.Add(&pod.Var{Name: "serve-remote", MinArgs: 2, MaxArgs: 2,
		Doc: "Starts a remote forward whose connections the client handles: sends {:event :bound :port p}, " +
			"then {:event :connection :conn handle :origin-address a :origin-port p} for each connection, until the forward stops. " +
			"E.g. (babashka.pods/invoke \"pod.epiccastle.bbssh\" 'pod.epiccastle.bbssh.pod.forward/serve-remote [s {:remote-port 0}] {:handlers {:success prn}})",
		Arglists: []string{"[session opts]"},
		Stream: func(c *pod.Call) error {
			s, m, err := a.sessionAndMap(c, 1)
			if err != nil {
				return err
			}
			for _, k := range m.Keys() {
				if !handledKeys[k] {
					return badOption("unknown option :%s of a remote forward with a :handler (it takes :bind-address, :remote-port or :remote-unix-socket)", k)
				}
			}
			spec, err := parseListen(bbssh.RemoteForward, m)
			if err != nil {
				asBadOption(&err)
				return err
			}
			var f *bbssh.Forward
			started := make(chan struct{})
			f, err = s.ForwardTo(spec, func(conn net.Conn) {
				<-started
				fc := &forwardedConn{Conn: conn, closed: make(chan struct{})}
				h := a.reg.Put("conn", fc)
				a.own(s, h)
				event := map[any]any{kw("event"): kw("connection"), kw("conn"): h}
				if f.Port != 0 {
					event[kw("remote-port")] = f.Port
				} else {
					event[kw("remote-unix-socket")] = f.Spec.ListenUnix
				}
				if host, port, err := net.SplitHostPort(conn.RemoteAddr().String()); err == nil {
					event[kw("origin-address")] = host
					if p, err := strconv.Atoi(port); err == nil {
						event[kw("origin-port")] = p
					}
				}
				if err := c.Send(event); err != nil {
					a.reg.Release(h)
					fc.Close()
					return
				}
				// The script owns the connection now; the forward counts it
				// as active until the script closes it.
				select {
				case <-fc.closed:
				case <-c.Ctx.Done():
					fc.Close()
				}
			})
			if err != nil {
				return engineError(err)
			}
			close(started)
			a.addForward(s, f)
			if err := c.Send(map[any]any{kw("event"): kw("bound"), kw("port"): f.Port}); err != nil {
				f.Close()
				return err
			}
			select {
			case <-f.Done():
			case <-c.Ctx.Done():
				f.Close()
			}
			return nil
		}})
	ns.Add(&pod.Var{Name: "conn-channel", MinArgs: 1, MaxArgs: 1,
		Doc:      "Offers a forwarded connection on a loopback data channel: returns {:port :token}; the socket then carries the connection's bytes both ways, half-closes included. E.g. (conn-channel c) ;; => {:port 40123 :token \"9f...\"}",
		Arglists: []string{"[conn]"},
		Fn: func(c *pod.Call) (any, error) {
			fc, err := a.forwardedConn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			fc.spliced = make(chan struct{})
			serve := spliceChannel(fc.Conn)
			return offerDataChannel(func(conn net.Conn) {
				defer close(fc.spliced)
				serve(conn)
			}, func() { close(fc.spliced); fc.Close() })
		}})
	ns.Add(&pod.Var{Name: "conn-read", MinArgs: 2, MaxArgs: 2,
		Doc:      "Reads up to n bytes (at most 1 MiB) from a forwarded connection; blocks until some arrive. Returns base64, or nil at end of stream. E.g. (conn-read c 65536)",
		Arglists: []string{"[conn n]"},
		Fn: func(c *pod.Call) (any, error) {
			fc, err := a.forwardedConn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			n, err := c.Args.Int(1)
			if err != nil {
				return nil, err
			}
			if n < 1 {
				return nil, badOption("n must be at least 1, got %d", n)
			}
			buf := make([]byte, min(n, maxRead))
			fc.readMu.Lock()
			defer fc.readMu.Unlock()
			for {
				k, err := fc.Read(buf)
				if k > 0 {
					return base64.StdEncoding.EncodeToString(buf[:k]), nil
				}
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				if err != nil {
					return nil, connError("reading", err)
				}
			}
		}})
	ns.Add(&pod.Var{Name: "conn-write", MinArgs: 2, MaxArgs: 2,
		Doc:      "Writes base64-encoded bytes to a forwarded connection. E.g. (conn-write c \"aGkK\")",
		Arglists: []string{"[conn base64]"},
		Fn: func(c *pod.Call) (any, error) {
			fc, err := a.forwardedConn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			data, err := bytesArg(c, 1)
			if err != nil {
				return nil, err
			}
			if _, err := fc.Write(data); err != nil {
				return nil, connError("writing", err)
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "conn-close-write", MinArgs: 1, MaxArgs: 1,
		Doc:      "Half-closes a forwarded connection: the peer reads end of file, and reading goes on. E.g. (conn-close-write c)",
		Arglists: []string{"[conn]"},
		Fn: func(c *pod.Call) (any, error) {
			fc, err := a.forwardedConn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			if cw, ok := fc.Conn.(interface{ CloseWrite() error }); ok {
				if err := cw.CloseWrite(); err != nil && !errors.Is(err, net.ErrClosed) {
					return nil, connError("half-closing", err)
				}
			}
			return nil, nil
		}})
	ns.Add(&pod.Var{Name: "conn-close", MinArgs: 1, MaxArgs: 1,
		Doc:      "Closes a forwarded connection and frees its handle. E.g. (conn-close c)",
		Arglists: []string{"[conn]"},
		Fn: func(c *pod.Call) (any, error) {
			fc, err := a.forwardedConn(c.Args.Get(0))
			if err != nil {
				return nil, err
			}
			a.reg.Release(c.Args.Get(0))
			awaitChannel(fc.spliced) // what the script wrote goes first
			fc.Close()
			return nil, nil
		}})
}

func (a *API) forwardedConn(v any) (*forwardedConn, error) {
	obj, err := a.reg.Get("conn", v)
	if err != nil {
		return nil, err
	}
	return obj.(*forwardedConn), nil
}

func connError(doing string, err error) error {
	if errors.Is(err, net.ErrClosed) {
		return pod.Errorf(ErrorNS+"/closed", "%s a forwarded connection: it is closed", doing)
	}
	return pod.Errorf(ErrorNS+"/forward-failed", "%s a forwarded connection: %v", doing, err)
}
