package bbssh

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
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
		{"writev after close", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			c.Close()
			return writeBuffersOnce
		}, net.ErrClosed, "writev"},
		{"writev to a reset peer", func(t *testing.T, c, peer *net.TCPConn) func(net.Conn) error {
			peer.SetLinger(0)
			peer.Close()
			time.Sleep(20 * time.Millisecond) // the reset arrives
			return func(c net.Conn) error {
				for i := 0; i < 100; i++ {
					if err := writeBuffersOnce(c); err != nil {
						return err
					}
				}
				return nil
			}
		}, syscall.ECONNRESET, "writev"},
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
				if strings.HasSuffix(tt.name, "to a reset peer") && errors.Is(err, syscall.EPIPE) {
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

// writeBuffersOnce writes a few pieces at once: through WriteBuffers on
// a raw socket, through net.Buffers (writev) on a net.Conn.
func writeBuffersOnce(c net.Conn) error {
	v := net.Buffers{make([]byte, 30<<10), make([]byte, 40<<10)}
	if bw, ok := c.(interface {
		WriteBuffers(*net.Buffers) (int64, error)
	}); ok {
		_, err := bw.WriteBuffers(&v)
		return err
	}
	_, err := v.WriteTo(c)
	return err
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

// TestRawSocketWriteBuffers writes pieces with WriteBuffers: more pieces
// than one writev takes, empty pieces, and more bytes than the socket
// buffers hold (so that it waits for room) while the other side reads
// slowly. All arrive in order and v is consumed.
func TestRawSocketWriteBuffers(t *testing.T) {
	for _, tt := range []struct {
		name  string
		sizes []int
	}{
		{"one piece", []int{1000}},
		{"empty pieces around data", []int{0, 0, 10, 0, 20, 0}},
		{"only empty pieces", []int{0, 0}},
		{"more pieces than one writev takes", repeatSizes(3000, 97)},
		{"more than the socket buffers", repeatSizes(4, 2<<20)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			raw := newRawSocket(c).(*rawSocket)
			var want []byte
			var v net.Buffers
			for i, n := range tt.sizes {
				p := bytes.Repeat([]byte{byte(i)}, n)
				want = append(want, p...)
				v = append(v, p)
			}
			received := make(chan []byte, 1)
			go func() {
				var got []byte
				buf := make([]byte, 5000)
				for len(got) < len(want) {
					n, err := peer.Read(buf)
					if err != nil {
						break
					}
					got = append(got, buf[:n]...)
				}
				received <- got
			}()
			n, err := raw.WriteBuffers(&v)
			if err != nil {
				t.Fatalf("WriteBuffers: %v", err)
			}
			if n != int64(len(want)) {
				t.Errorf("wrote %d bytes, want %d", n, len(want))
			}
			if len(v) != 0 {
				t.Errorf("%d pieces left in v", len(v))
			}
			if got := <-received; !bytes.Equal(got, want) {
				t.Errorf("%d bytes arrived that differ from the %d written", len(got), len(want))
			}
		})
	}
}

func repeatSizes(count, size int) []int {
	sizes := make([]int, count)
	for i := range sizes {
		sizes[i] = size
	}
	return sizes
}

func TestConsume(t *testing.T) {
	for _, tt := range []struct {
		sizes []int
		n     int64
		want  []int
	}{
		{[]int{10, 20}, 0, []int{10, 20}},
		{[]int{10, 20}, 5, []int{5, 20}},
		{[]int{10, 20}, 10, []int{20}},
		{[]int{10, 20}, 25, []int{5}},
		{[]int{10, 20}, 30, nil},
		{[]int{0, 10}, 10, nil},
	} {
		var v net.Buffers
		for _, n := range tt.sizes {
			v = append(v, make([]byte, n))
		}
		consume(&v, tt.n)
		var got []int
		for _, b := range v {
			got = append(got, len(b))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("consume(%v, %d) left %v, want %v", tt.sizes, tt.n, got, tt.want)
		}
	}
}
