// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"io"
	"net"
)

// Channel data written out without a copy. Reading a channel copies each
// packet's data into the caller's buffer, and a caller that forwards the
// data, as io.Copy does, then writes that buffer out: every received byte
// is copied once more than needed, and from memory another goroutine
// decrypted it into, no longer in this one's cache. A channel's WriteTo,
// which io.Copy prefers to Read, hands the packets as they arrived to the
// writer instead, all that are waiting at once (one writev to a socket,
// through net.Buffers or the writer's own WriteBuffers), and gives their buffers back to the packet pool
// (bulk.go) once they were written.

// writeToBatch bounds the data one step of WriteTo takes from the
// channel and writes at once: as much as a bulk read of the connection
// brings in.
const writeToBatch = bulkReadSize

// buffersWriter is a writer that takes several buffers in one call, as a
// socket's writev does, and consumes what it wrote from v. (net.Buffers
// writes with writev only to the net package's own connections.)
type buffersWriter interface {
	WriteBuffers(v *net.Buffers) (int64, error)
}

// take removes the data waiting in the buffer, at least one piece and
// then as long as the total stays within max bytes, and appends the
// pieces to bufs and the packets they are part of (nil for data that is
// part of none) to packets; n is the total. It waits while the buffer is
// empty and returns io.EOF once it is closed and empty.
func (b *buffer) take(bufs net.Buffers, packets [][]byte, max int) (_ net.Buffers, _ [][]byte, n int, err error) {
	b.Cond.L.Lock()
	defer b.Cond.L.Unlock()
	for {
		if len(b.head.buf) > 0 {
			if n > 0 && n+len(b.head.buf) > max {
				return bufs, packets, n, nil
			}
			n += len(b.head.buf)
			bufs = append(bufs, b.head.buf)
			packets = append(packets, b.head.packet)
			b.head.buf, b.head.packet = nil, nil
			continue
		}
		if b.head != b.tail {
			b.head = b.head.next
			continue
		}
		if n > 0 {
			return bufs, packets, n, nil
		}
		if b.closed {
			return bufs, packets, 0, io.EOF
		}
		b.Cond.Wait()
	}
}

// WriteTo writes the channel's data to w until the channel's data ends,
// when it returns a nil error, or a write fails, when it returns the
// write's error. As with Read, the data ends when the peer ends its
// stream and also when the channel or the connection is closed. Data
// already read through Read is not written again. Like Read, it gives
// the window back for the data it takes before writing it. A writer with
// a WriteBuffers method gets all the pieces of a step in one call.
func (ch *channel) WriteTo(w io.Writer) (written int64, err error) {
	if !ch.decided {
		return 0, errUndecided
	}
	var bufs net.Buffers
	var packets [][]byte
	for {
		var n int
		bufs, packets, n, err = ch.pending.take(bufs[:0], packets[:0], writeToBatch)
		if err == io.EOF {
			return written, nil
		}
		// A window adjustment fails when the channel or the connection
		// is closed; the end of the channel's data follows, which
		// WriteTo goes on to, so that its error is always the writer's.
		ch.adjustWindow(uint32(n))
		out := bufs // both writes consume their argument
		var m int64
		var writeErr error
		if bw, ok := w.(buffersWriter); ok {
			m, writeErr = bw.WriteBuffers(&out)
		} else {
			m, writeErr = out.WriteTo(w)
		}
		written += m
		for i, p := range packets {
			if p != nil {
				freePacket(p)
			}
			packets[i] = nil
		}
		clear(bufs)
		if writeErr != nil {
			return written, writeErr
		}
	}
}

// WriteTo writes the connection's data to w, through the channel's
// WriteTo when it has one, until the peer ends its stream.
func (t *chanConn) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := t.Channel.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, struct{ io.Reader }{t.Channel})
}
