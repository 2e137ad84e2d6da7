// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"io"
	"sync"

	"golang.org/x/crypto/internal/poly1305"
)

// The receive path of a bulk transfer. Upstream reads the connection
// through a 4 KiB buffer, so a 32 KiB data packet takes two or three
// system calls where OpenSSH's client reads up to 256 KiB at once, and
// every packet is decrypted into memory of its own (packet_fresh.go): for
// a data packet, 33 KiB taken from the heap, cleared, used once and left
// to the collector, which together cost as much as the system calls.
//
// Here a connection whose peer sends a large packet gets a bulk read
// buffer, and data packets are decrypted into pooled buffers that the
// channel gives back once their data was read.
const (
	// bulkPacketSize is the packet length from which a connection is
	// taken to carry bulk data.
	bulkPacketSize = 16 << 10
	// bulkReadSize is the read buffer of a connection that carries bulk
	// data.
	bulkReadSize = 256 << 10
)

// The bulk packets a cipher decrypts into come from packetPools; a
// channel's buffer gives a data packet back once its data was read.
// Other packets are left to the collector, as before. A packet given back
// starts after the padding-length byte the cipher cut off, so a pooled
// buffer comes back a byte shorter each time; it serves until it is too
// short for a packet of its class, some 700 packets.
//
// There is a pool for each size of data packet a channel may take
// (maxpacket.go), so that a 32 KiB packet held in a channel's buffer does
// not pin a buffer made for 128 KiB.
const (
	packetPoolCap = channelMaxPacket + 1024
	// packetClasses is the number of pools: buffers of packetPoolCap,
	// then of twice as much data each, up to maxReceivePacket.
	packetClasses = 3
)

var packetPools [packetClasses]sync.Pool

// packetClassCap returns the capacity of the buffers of class i:
// packetPoolCap for class 0.
func packetClassCap(i int) int {
	return channelMaxPacket<<i + 1024
}

// packetClassMin returns the smallest buffer class i takes back.
func packetClassMin(i int) int {
	return channelMaxPacket<<i + 64
}

// newPacket returns an empty buffer to decrypt a packet of length bytes
// into, with room for an AEAD tag after it.
func newPacket(length int) []byte {
	need := length + poly1305.TagSize
	if length >= bulkPacketSize {
		for i := range packetPools {
			c := packetClassCap(i)
			if need > c {
				continue
			}
			if b, ok := packetPools[i].Get().(*[]byte); ok && cap(*b) >= need {
				return (*b)[:0]
			}
			return make([]byte, 0, c)
		}
	}
	return make([]byte, 0, need)
}

// freePacket gives p to the packet pool of its class if it is large
// enough to hold another packet of that class. No one may use p after:
// only the channel buffer that held a data packet's contents calls it,
// once they were read.
func freePacket(p []byte) {
	c := cap(p)
	for i := range packetPools {
		if c >= packetClassMin(i) && c <= packetClassCap(i) {
			p = p[:c]
			packetPools[i].Put(&p)
			return
		}
	}
}

// growReadBuffer gives the connection a bulk read buffer after a packet
// of n bytes, when that is a bulk packet and nothing is buffered (so the
// old buffer can be dropped). Connections that never carry bulk data
// keep the small buffer.
func (t *transport) growReadBuffer(n int) {
	if n >= bulkPacketSize && t.bufReader.Size() < bulkReadSize && t.bufReader.Buffered() == 0 {
		t.bufReader = bufio.NewReaderSize(t.rawReader, bulkReadSize)
	}
}

// peekSealed returns the next n bytes of r without consuming them, in
// place in r's buffer, when r is a bufio.Reader whose buffer holds n
// bytes (the connection's reader, whose bulk buffer holds any packet): a
// cipher then decrypts the packet from there, into the packet's own
// memory, and discards it from r, instead of copying it into a buffer of
// its own first (in a -R profile that copy, runtime.memmove under
// io.ReadFull, was 2.8% of the pod's CPU). br is nil, and nothing read,
// when r is no such reader; the cipher then reads the packet as before.
// A stream that ends within the n bytes fails as io.ReadFull would
// reading the bytes from read on, the first read bytes having been read
// already: with io.EOF if it ends before any of them.
func peekSealed(r io.Reader, n, read int) (b []byte, br *bufio.Reader, err error) {
	br, ok := r.(*bufio.Reader)
	if !ok || n > br.Size() {
		return nil, nil, nil
	}
	b, err = br.Peek(n)
	if err != nil {
		if err == io.EOF && len(b) > read {
			err = io.ErrUnexpectedEOF
		}
		return nil, br, err
	}
	return b, br, nil
}
