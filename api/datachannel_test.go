package api

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// chunkedWriterTo is a stream that writes itself out in chunks, as an SSH
// channel's WriteTo does, and can fail after some bytes as a cut
// connection does.
type chunkedWriterTo struct {
	size, chunk, failAfter int // failAfter 0: never fails
	sent                   int
}

func (s *chunkedWriterTo) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for s.sent < s.size {
		if s.failAfter > 0 && s.sent >= s.failAfter {
			return n, errors.New("the SSH connection was lost before the stream ended")
		}
		c := min(s.chunk, s.size-s.sent)
		m, err := w.Write(bytes.Repeat([]byte{'x'}, c))
		n += int64(m)
		s.sent += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (s *chunkedWriterTo) Read(p []byte) (int, error) { panic("read instead of WriteTo") }

// servedPair runs serve on the server end of a loopback TCP connection
// and returns the client end and a channel closed when serve returned.
func servedPair(t *testing.T, serve func(net.Conn)) (net.Conn, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// The client connects first (the listener's backlog completes the
	// handshake), so that a reset from serve cannot fail the dial.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		serve(sc)
	}()
	t.Cleanup(func() { c.Close() })
	return c, done
}

func TestCopyToChannelWritesStreamsOut(t *testing.T) {
	for _, tt := range []struct {
		name      string
		stream    *chunkedWriterTo
		readAll   bool // the client reads to the end; else it closes at once
		wantBytes int  // what the client reads (at most, after a reset)
		wantReset bool // the client's read ends in a reset, not end of stream
	}{
		{"whole stream", &chunkedWriterTo{size: 5 << 20, chunk: 32 << 10}, true, 5 << 20, false},
		{"empty stream", &chunkedWriterTo{size: 0, chunk: 1}, true, 0, false},
		{"cut stream", &chunkedWriterTo{size: 5 << 20, chunk: 32 << 10, failAfter: 1 << 20}, true, 1 << 20, true},
		{"client gone", &chunkedWriterTo{size: 64 << 20, chunk: 1 << 20}, false, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, done := servedPair(t, copyToChannel(tt.stream))
			if !tt.readAll {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				<-done
				if tt.stream.sent != tt.stream.size {
					t.Errorf("the stream was left at %d of %d bytes, want it drained", tt.stream.sent, tt.stream.size)
				}
				return
			}
			n, err := io.Copy(io.Discard, c)
			<-done
			if int(n) != tt.wantBytes && !(tt.wantReset && int(n) < tt.wantBytes) {
				t.Errorf("read %d bytes, want %d", n, tt.wantBytes)
			}
			if reset := errors.Is(err, syscall.ECONNRESET); reset != tt.wantReset {
				t.Errorf("read ended with %v; reset %v, want %v", err, reset, tt.wantReset)
			}
		})
	}
}
