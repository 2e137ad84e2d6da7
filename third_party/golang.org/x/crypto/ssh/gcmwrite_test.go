// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"testing"
)

// writeCounter is a writer that counts the Write calls it gets.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestGCMPacketOneWrite checks that an AES-GCM packet, its length
// included, reaches the connection in one Write through the transport's
// bufio.Writer, at every size up to the largest data packet, and that it
// reads back; the cipher's buffer is reused from packet to packet.
func TestGCMPacketOneWrite(t *testing.T) {
	for _, keySize := range []int{16, 32} {
		key := make([]byte, keySize)
		iv := make([]byte, 12)
		iv[11] = 0xfe // the IV's counter carries into the next byte
		writer, err := newGCMCipher(key, bytes.Clone(iv), nil, DirectionAlgorithms{})
		if err != nil {
			t.Fatal(err)
		}
		reader, err := newGCMCipher(key, bytes.Clone(iv), nil, DirectionAlgorithms{})
		if err != nil {
			t.Fatal(err)
		}
		var conn writeCounter
		w := bufio.NewWriter(&conn)
		for seq, size := range []int{1, 15, 16, 100, 4091, 4096, 32768, 32768 + 9, 128 << 10, 64} {
			payload := bytes.Repeat([]byte{byte(seq + 1)}, size)
			conn.writes = 0
			if err := writer.writeCipherPacket(uint32(seq), w, rand.Reader, payload); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if conn.writes != 1 {
				t.Errorf("AES-%d-GCM packet of %d bytes: %d writes, want 1", keySize*8, size, conn.writes)
			}
			got, err := reader.readCipherPacket(uint32(seq), &conn.Buffer)
			if err != nil {
				t.Fatalf("AES-%d-GCM packet of %d bytes: %v", keySize*8, size, err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("AES-%d-GCM packet of %d bytes came back changed", keySize*8, size)
			}
		}
	}
}
