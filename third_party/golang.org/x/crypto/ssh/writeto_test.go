// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
)

func TestBufferTake(t *testing.T) {
	for _, tt := range []struct {
		name   string
		pieces []int // sizes written, in order
		read   int   // bytes read through Read first
		max    int
		want   []int // sizes of the pieces taken
		rest   int   // bytes left for Read after the take
	}{
		{"one piece", []int{100}, 0, 1000, []int{100}, 0},
		{"all within max", []int{100, 200, 300}, 0, 600, []int{100, 200, 300}, 0},
		{"stops before max", []int{100, 200, 300}, 0, 500, []int{100, 200}, 300},
		{"first piece larger than max", []int{700, 10}, 0, 500, []int{700}, 10},
		{"after a partial read", []int{100, 200}, 30, 1000, []int{70, 200}, 0},
		{"after whole pieces were read", []int{100, 200, 300}, 100, 1000, []int{200, 300}, 0},
		{"empty pieces skipped", []int{0, 100, 0, 50}, 0, 1000, []int{100, 50}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuffer()
			var want []byte
			for i, n := range tt.pieces {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				want = append(want, p...)
				b.write(p)
			}
			if tt.read > 0 {
				got := make([]byte, tt.read)
				if _, err := io.ReadFull(b, got); err != nil {
					t.Fatalf("reading first: %v", err)
				}
				want = want[tt.read:]
			}
			bufs, packets, n, err := b.take(nil, nil, tt.max)
			if err != nil {
				t.Fatalf("take: %v", err)
			}
			var sizes []int
			var got []byte
			for _, p := range bufs {
				sizes = append(sizes, len(p))
				got = append(got, p...)
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("took pieces of %v bytes, want %v", sizes, tt.want)
			}
			if len(packets) != len(bufs) {
				t.Errorf("%d packets for %d pieces", len(packets), len(bufs))
			}
			if n != len(got) {
				t.Errorf("took %d bytes, reported %d", len(got), n)
			}
			b.eof()
			rest, err := io.ReadAll(b)
			if err != nil {
				t.Fatalf("reading the rest: %v", err)
			}
			if len(rest) != tt.rest {
				t.Errorf("%d bytes left, want %d", len(rest), tt.rest)
			}
			if got = append(got, rest...); !bytes.Equal(got, want) {
				t.Error("the data taken and read is not the data written")
			}
			if _, _, _, err := b.take(nil, nil, tt.max); err != io.EOF {
				t.Errorf("take on a closed, empty buffer: %v, want io.EOF", err)
			}
		})
	}
}

// bulkChannelPair connects a client and a server over TCP on loopback
// with the cipher and returns the client's end of a channel the client
// opened (which takes packets of up to 128 KiB), the server's end and the
// server's side of the TCP connection.
func bulkChannelPair(t *testing.T, cipher string) (client, server Channel, serverConn net.Conn) {
	t.Helper()
	c1, c2, err := netPipe()
	if err != nil {
		t.Fatalf("netPipe: %v", err)
	}
	t.Cleanup(func() { c1.Close(); c2.Close() })
	serverConf := &ServerConfig{NoClientAuth: true, Config: Config{Ciphers: []string{cipher}}}
	serverConf.AddHostKey(testSigners["ecdsa"])
	accepted := make(chan Channel, 1)
	go func() {
		defer close(accepted)
		_, chans, reqs, err := NewServerConn(c1, serverConf)
		if err != nil {
			t.Errorf("NewServerConn: %v", err)
			return
		}
		go DiscardRequests(reqs)
		nc, ok := <-chans
		if !ok {
			return
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
			return
		}
		go DiscardRequests(creqs)
		accepted <- ch
	}()
	conn, chans, reqs, err := NewClientConn(c2, "addr", &ClientConfig{
		User:            "user",
		Config:          Config{Ciphers: []string{cipher}, ReceiveWindow: &ReceiveWindow{MaxPacket: maxReceivePacket}},
		HostKeyCallback: InsecureIgnoreHostKey(),
	})
	if err != nil {
		t.Fatalf("NewClientConn: %v", err)
	}
	c := NewClient(conn, chans, reqs)
	t.Cleanup(func() { c.Close() })
	ch, creqs, err := c.OpenChannel("bulk", nil)
	if err != nil {
		t.Fatalf("OpenChannel: %v", err)
	}
	go DiscardRequests(creqs)
	sch := <-accepted
	if sch == nil {
		t.Fatal("no channel accepted")
	}
	return ch, sch, c1
}

// sendStream writes data on ch in pieces of varied sizes and ends the
// stream.
func sendStream(ch Channel, data []byte) <-chan error {
	errc := make(chan error, 1)
	go func() {
		var err error
		for rest := data; len(rest) > 0 && err == nil; {
			n := min(len(rest), 100<<10+len(rest)%7919)
			_, err = ch.Write(rest[:n])
			rest = rest[n:]
		}
		if err == nil {
			err = ch.CloseWrite()
		}
		errc <- err
	}()
	return errc
}

// recordingBuffersWriter takes all pieces of a step in one call and
// counts the calls.
type recordingBuffersWriter struct {
	bytes.Buffer
	calls int
}

func (w *recordingBuffersWriter) WriteBuffers(v *net.Buffers) (int64, error) {
	w.calls++
	var n int64
	for _, b := range *v {
		w.Write(b)
		n += int64(len(b))
	}
	*v = (*v)[len(*v):]
	return n, nil
}

// copyInto runs io.Copy from ch into a socket (dst "socket": net.Buffers
// write with writev), a plain writer (one write per piece) or a writer
// with WriteBuffers, and returns what arrived and what io.Copy returned.
func copyInto(t *testing.T, dst string, ch Channel) ([]byte, int64, error) {
	t.Helper()
	switch dst {
	case "writer":
		var buf bytes.Buffer
		n, err := io.Copy(struct{ io.Writer }{&buf}, ch)
		return buf.Bytes(), n, err
	case "buffers writer":
		var w recordingBuffersWriter
		n, err := io.Copy(&w, ch)
		if w.calls == 0 {
			t.Error("WriteBuffers was never called")
		}
		return w.Bytes(), n, err
	}
	a, b, err := netPipe()
	if err != nil {
		t.Fatalf("netPipe: %v", err)
	}
	defer b.Close()
	received := make(chan []byte, 1)
	go func() {
		all, _ := io.ReadAll(b)
		received <- all
	}()
	n, err := io.Copy(a, ch)
	a.Close()
	return <-received, n, err
}

// TestChannelWriteTo streams more than a window through io.Copy, which
// takes the channel's WriteTo, into a socket and into a plain writer,
// with ciphers whose packets are pooled and one whose are not, also after
// part of the stream was read through Read: the stream arrives whole and
// the copy ends without an error at its end.
func TestChannelWriteTo(t *testing.T) {
	for _, cipher := range []string{CipherAES128GCM, CipherChaCha20Poly1305, CipherAES128CTR} {
		for _, dst := range []string{"socket", "writer", "buffers writer"} {
			for _, readFirst := range []int{0, 1000} {
				t.Run(fmt.Sprintf("%s/%s/read %d first", cipher, dst, readFirst), func(t *testing.T) {
					ch, sch, _ := bulkChannelPair(t, cipher)
					if _, ok := ch.(io.WriterTo); !ok {
						t.Fatal("the channel has no WriteTo")
					}
					want := pattern(5<<20 + 1024)
					errc := sendStream(sch, want)
					got := make([]byte, readFirst)
					if _, err := io.ReadFull(ch, got); err != nil {
						t.Fatalf("reading first: %v", err)
					}
					rest, n, err := copyInto(t, dst, ch)
					if err != nil {
						t.Fatalf("io.Copy: %v", err)
					}
					if n != int64(len(want)-readFirst) {
						t.Errorf("copied %d bytes, want %d", n, len(want)-readFirst)
					}
					if err := <-errc; err != nil {
						t.Fatalf("sending: %v", err)
					}
					if got = append(got, rest...); !bytes.Equal(got, want) {
						t.Errorf("%d bytes arrived that differ from the %d sent", len(got), len(want))
					}
				})
			}
		}
	}
}

// failingWriter takes limit bytes, then fails.
type failingWriter struct {
	limit, took int
}

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(p []byte) (int, error) {
	n := min(len(p), w.limit-w.took)
	w.took += n
	if n < len(p) {
		return n, errWriterFull
	}
	return n, nil
}

// TestChannelWriteToWriteError checks that WriteTo stops at a failing
// write and returns its error with the bytes that were written.
func TestChannelWriteToWriteError(t *testing.T) {
	ch, sch, _ := bulkChannelPair(t, CipherAES128GCM)
	want := pattern(3 << 20)
	sendStream(sch, want)
	w := &failingWriter{limit: 1<<20 + 5}
	n, err := ch.(io.WriterTo).WriteTo(w)
	if !errors.Is(err, errWriterFull) {
		t.Errorf("WriteTo returned %v, want the writer's error", err)
	}
	if n != int64(w.limit) {
		t.Errorf("WriteTo reported %d bytes written, the writer took %d", n, w.limit)
	}
}

// countingWriter counts what it takes and says when it took limit bytes.
type countingWriter struct {
	n, limit int64
	reached  chan struct{}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.n < w.limit && w.n+int64(len(p)) >= w.limit {
		close(w.reached)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// TestChannelWriteToConnectionLost checks that WriteTo ends without an
// error when the connection is lost under a stream, as Read ends with
// io.EOF, rather than with the failed window adjustment's error, which
// would look like the writer's.
func TestChannelWriteToConnectionLost(t *testing.T) {
	ch, sch, serverConn := bulkChannelPair(t, CipherAES128GCM)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if _, err := sch.Write(buf); err != nil {
				return
			}
		}
	}()
	w := &countingWriter{limit: 4 << 20, reached: make(chan struct{})}
	go func() {
		<-w.reached
		serverConn.(*net.TCPConn).SetLinger(0)
		serverConn.Close()
	}()
	n, err := ch.(io.WriterTo).WriteTo(w)
	if err != nil {
		t.Errorf("WriteTo returned %v after the connection was lost, want nil", err)
	}
	if n < w.limit || n != w.n {
		t.Errorf("WriteTo reported %d bytes, the writer took %d (at least %d)", n, w.n, w.limit)
	}
}

// TestChanConnWriteTo copies a forwarded connection's stream with
// io.Copy, through the channel's WriteTo and, for a channel without one,
// through Read.
func TestChanConnWriteTo(t *testing.T) {
	for _, hide := range []bool{false, true} {
		t.Run(fmt.Sprintf("channel WriteTo hidden %v", hide), func(t *testing.T) {
			ch, sch, _ := bulkChannelPair(t, CipherAES128GCM)
			conn := &chanConn{Channel: ch}
			if hide {
				conn.Channel = struct{ Channel }{ch}
			}
			want := pattern(3<<20 + 8)
			errc := sendStream(sch, want)
			var got bytes.Buffer
			if _, err := io.Copy(&got, conn); err != nil {
				t.Fatalf("io.Copy: %v", err)
			}
			if err := <-errc; err != nil {
				t.Fatalf("sending: %v", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%d bytes arrived that differ from the %d sent", got.Len(), len(want))
			}
		})
	}
}
