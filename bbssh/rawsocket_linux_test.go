package bbssh

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns both ends of a TCP connection on loopback.
func tcpPair(t *testing.T) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestRawSocketCarriesStreamsWhole(t *testing.T) {
	c, s := tcpPair(t)
	raw := newRawSocket(c)
	if _, ok := raw.(*rawSocket); !ok {
		t.Fatalf("newRawSocket of a TCP connection returned %T", raw)
	}
	// More than the socket buffers hold, so that writes wait for room
	// (EAGAIN) while the other side reads slowly, in small pieces.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	for _, dir := range []struct {
		name string
		w    io.Writer
		r    io.Reader
	}{{"raw writes", raw, s}, {"raw reads", s, raw}} {
		t.Run(dir.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				_, err := dir.w.Write(want)
				errc <- err
			}()
			got := make([]byte, 0, len(want))
			buf := make([]byte, 3000)
			for len(got) < len(want) {
				n, err := dir.r.Read(buf)
				if err != nil {
					t.Fatalf("read after %d bytes: %v", len(got), err)
				}
				got = append(got, buf[:n]...)
			}
			if err := <-errc; err != nil {
				t.Fatalf("write: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("the stream arrived changed")
			}
		})
	}
}

// TestRawSocketErrors checks that the raw socket reports each failure as
// the net.Conn under it does: same operation, same error underneath.
func TestRawSocketErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		// provoke sets up the failure on the pair and returns the
		// operation to run on the connection under test.
		provoke func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error
		is      error
		op      string // "" for an error that is not a *net.OpError
	}{
		{"end of stream", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			peer.CloseWrite()
			return readOnce
		}, io.EOF, ""},
		{"reset by the peer", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			peer.SetLinger(0)
			peer.Close()
			return readOnce
		}, syscall.ECONNRESET, "read"},
		{"read deadline", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			return readOnce
		}, os.ErrDeadlineExceeded, "read"},
		{"read after close", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			c.Close()
			return readOnce
		}, net.ErrClosed, "read"},
		{"closed while reading", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			time.AfterFunc(20*time.Millisecond, func() { c.Close() })
			return readOnce
		}, net.ErrClosed, "read"},
		{"write after close", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			c.Close()
			return func(c net.Conn) error { _, err := c.Write([]byte("x")); return err }
		}, net.ErrClosed, "write"},
		{"write to a reset peer", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(20 * time.Millisecond) // the reset arrives
			return func(c net.Conn) error {
				// The first write may still be taken; a later one fails.
				for i := 0; i < 100; i++ {
					if _, err := c.Write(make([]byte, 64<<10)); err != nil {
						return err
					}
				}
				return nil
			}
		}, syscall.ECONNRESET, "write"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, useRaw := range []bool{false, true} {
				c, peer := tcpPair(t)
				op := tt.provoke(t, c, peer)
				conn := net.Conn(c)
				if useRaw {
					conn = newRawSocket(c)
				}
				err := op(conn)
				if tt.name == "write to a reset peer" && errors.Is(err, syscall.EPIPE) {
					err = syscall.ECONNRESET // either, as the kernel sees it
				}
				if !errors.Is(err, tt.is) {
					t.Errorf("raw %v: %v, want %v", useRaw, err, tt.is)
				}
				var opErr *net.OpError
				if got := errors.As(err, &opErr); got != (tt.op != "") {
					t.Errorf("raw %v: %T %v: *net.OpError %v, want %v", useRaw, err, err, got, tt.op != "")
				} else if got && opErr.Op != tt.op {
					t.Errorf("raw %v: operation %q, want %q", useRaw, opErr.Op, tt.op)
				}
			}
		})
	}
}

func readOnce(c net.Conn) error {
	_, err := c.Read(make([]byte, 10))
	return err
}

func TestNewRawSocketLeavesOtherConnections(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := newRawSocket(a); got != a {
		t.Errorf("newRawSocket of a pipe returned %T, want the pipe itself", got)
	}
}
