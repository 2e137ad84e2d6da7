package delayrelay

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"bbssh/test/tcpserve"
)

// echoServer echoes every connection until the client half-closes and
// returns its address.
func echoServer(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", tcpserve.Serve(t, tcpserve.Echo))
}

func TestRelay(t *testing.T) {
	tests := []struct {
		name string
		rtt  time.Duration
		size int
	}{
		{"no delay", 0, 8 << 20},
		{"40 ms", 40 * time.Millisecond, 8 << 20},
		{"one byte, 100 ms", 100 * time.Millisecond, 1},
	}
	target := echoServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Start(target, tt.rtt)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			c, err := net.Dial("tcp", r.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := make([]byte, tt.size)
			rand.Read(want)
			start := time.Now()
			go func() {
				c.Write(want)
				c.(*net.TCPConn).CloseWrite()
			}()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatal(err)
			}
			// The relay's own latency is its function: the echo cannot
			// come back sooner than one round trip.
			if took := time.Since(start); took < tt.rtt {
				t.Errorf("echo came back after %v, before the round trip of %v", took, tt.rtt)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echoed %d bytes that differ from the %d sent", len(got), len(want))
			}
		})
	}
}

// TestRelayClose ends open connections and the relay's goroutines.
func TestRelayClose(t *testing.T) {
	target := echoServer(t)
	r, err := Start(target, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	r.Close() // waits for the relay's goroutines
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(b); err == nil {
		t.Fatalf("read %d bytes after Close, want the connection closed", n)
	}
}

// TestChunkPools checks the size classes of the relay's chunk buffers: a
// chunk has its length and room for at most twice as much, from 4 KiB,
// and a buffer given back serves the next chunk of its class.
func TestChunkPools(t *testing.T) {
	var pools chunkPools
	for _, tt := range []struct {
		n, wantCap int
	}{
		{1, 4 << 10},
		{4 << 10, 4 << 10},
		{4<<10 + 1, 8 << 10},
		{100 << 10, 128 << 10},
		{128<<10 + 1, chunkSize},
		{chunkSize, chunkSize},
	} {
		b := pools.get(tt.n)
		if len(b) != tt.n || cap(b) != tt.wantCap {
			t.Errorf("get(%d): len %d cap %d, want len %d cap %d", tt.n, len(b), cap(b), tt.n, tt.wantCap)
		}
		pools.put(b)
		if again := pools.get(tt.n); len(again) != tt.n || cap(again) != tt.wantCap {
			t.Errorf("get(%d) after put: len %d cap %d", tt.n, len(again), cap(again))
		}
	}
}
