// Package tcpserve runs the small TCP servers tests and the benchmark put
// at the far end of forwards and relays: a listener on a free port of
// 127.0.0.1 that lives until the test ends (or the listener is closed) and
// hands each connection to a handler.
package tcpserve

import (
	"io"
	"net"
	"testing"
)

// Serve accepts connections on a free port of 127.0.0.1 until the test
// ends, gives each to handle on a goroutine of its own and closes it when
// handle returns. It returns the port.
func Serve(t testing.TB, handle func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	Accept(ln, handle)
	return ln.Addr().(*net.TCPAddr).Port
}

// Accept accepts connections on ln until it is closed, on a goroutine of
// its own, and gives each to handle on a goroutine of its own, closing it
// when handle returns. Serve uses it; so do servers that are not tests'
// (the benchmark's) or not TCP (a unix socket).
func Accept(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// Echo writes back what c sends until c half-closes, then half-closes
// its own side.
func Echo(c net.Conn) {
	io.Copy(c, c)
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
