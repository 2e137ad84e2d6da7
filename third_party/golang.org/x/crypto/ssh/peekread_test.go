// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"testing/iotest"
)

// sealedStream returns n packets of size bytes each, as cipher algo writes
// them with sequence numbers from 0, and a function that returns a fresh
// reading cipher.
func sealedStream(tb testing.TB, algo string, n, size int) ([]byte, func() packetCipher) {
	tb.Helper()
	mode := cipherModes[algo]
	key := make([]byte, mode.keySize)
	iv := make([]byte, mode.ivSize)
	newCipher := func() packetCipher {
		c, err := mode.create(key, bytes.Clone(iv), make([]byte, 32), DirectionAlgorithms{Cipher: algo, MAC: "hmac-sha2-256"})
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	w := newCipher()
	var stream bytes.Buffer
	for seq := 0; seq < n; seq++ {
		payload := bytes.Repeat([]byte{byte(seq)}, size)
		if err := w.writeCipherPacket(uint32(seq), &stream, rand.Reader, payload); err != nil {
			tb.Fatal(err)
		}
	}
	return stream.Bytes(), newCipher
}

// BenchmarkReadBulkPackets reads 32 KiB data packets through the bulk
// read buffer, as a connection receiving at full speed does.
func BenchmarkReadBulkPackets(b *testing.B) {
	for _, algo := range []string{CipherAES128GCM, CipherChaCha20Poly1305, CipherAES128CTR} {
		b.Run(algo, func(b *testing.B) {
			const n, size = 64, 32 << 10
			stream, newCipher := sealedStream(b, algo, n, size)
			r := bufio.NewReaderSize(nil, bulkReadSize)
			b.SetBytes(n * size)
			b.ReportAllocs()
			c := newCipher()
			for b.Loop() {
				if g, ok := c.(*gcmCipher); ok {
					clear(g.iv) // back to the stream's first IV
				} else if _, ok := c.(*chacha20Poly1305Cipher); !ok {
					// A stream cipher's keystream goes on from
					// where the last round left it.
					c = newCipher()
				}
				r.Reset(bytes.NewReader(stream))
				for seq := 0; seq < n; seq++ {
					p, err := c.readCipherPacket(uint32(seq), r)
					if err != nil {
						b.Fatal(err)
					}
					freePacket(p)
				}
			}
		})
	}
}

// TestReadPacketInPlace reads AEAD packets of sizes around the read
// buffers' through buffers of several sizes, and through readers that are
// not bufio.Readers: every packet reads back as written. Through a buffer
// that holds the packets, the cipher decrypts them in place and never
// grows a buffer of its own; a packet larger than the buffer is read as
// before.
func TestReadPacketInPlace(t *testing.T) {
	sizes := []int{1, 100, 4000, 4096, 32 << 10, 100 << 10, 128 << 10, 7}
	readers := []struct {
		name    string
		wrap    func(io.Reader) io.Reader
		inPlace int // the largest packet read in place
	}{
		{"bulk buffer", func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, bulkReadSize) }, maxPacket},
		{"4 KiB buffer", func(r io.Reader) io.Reader { return bufio.NewReaderSize(r, 4096) }, 4096 - 4 - 16},
		{"bulk buffer, one byte a read", func(r io.Reader) io.Reader { return bufio.NewReaderSize(iotest.OneByteReader(r), bulkReadSize) }, maxPacket},
		{"not a bufio.Reader", func(r io.Reader) io.Reader { return iotest.HalfReader(r) }, 0},
	}
	for _, algo := range []string{CipherAES128GCM, CipherAES256GCM, CipherChaCha20Poly1305} {
		for _, rd := range readers {
			t.Run(algo+"/"+rd.name, func(t *testing.T) {
				mode := cipherModes[algo]
				key := make([]byte, mode.keySize)
				iv := make([]byte, mode.ivSize)
				w, err := mode.create(key, bytes.Clone(iv), nil, DirectionAlgorithms{})
				if err != nil {
					t.Fatal(err)
				}
				var stream bytes.Buffer
				for seq, size := range sizes {
					payload := bytes.Repeat([]byte{byte(seq + 1)}, size)
					if err := w.writeCipherPacket(uint32(seq), &stream, rand.Reader, payload); err != nil {
						t.Fatal(err)
					}
				}
				c, err := mode.create(key, bytes.Clone(iv), nil, DirectionAlgorithms{})
				if err != nil {
					t.Fatal(err)
				}
				r := rd.wrap(&stream)
				for seq, size := range sizes {
					got, err := c.readCipherPacket(uint32(seq), r)
					if err != nil {
						t.Fatalf("packet %d of %d bytes: %v", seq, size, err)
					}
					if !bytes.Equal(got, bytes.Repeat([]byte{byte(seq + 1)}, size)) {
						t.Fatalf("packet %d of %d bytes came back changed", seq, size)
					}
				}
				if _, err := c.readCipherPacket(uint32(len(sizes)), r); err != io.EOF {
					t.Errorf("after the last packet: %v, want EOF", err)
				}
				// The cipher's own buffer grows only for packets larger
				// than the reader's buffer holds.
				own := cap(cipherBuffer(c))
				largest := 0
				for _, size := range sizes {
					if size+64 > rd.inPlace {
						largest = max(largest, size)
					}
				}
				if largest == 0 && own > 256 {
					t.Errorf("the cipher's buffer grew to %d bytes; the packets were to be read in place", own)
				}
				if largest > 0 && own < largest {
					t.Errorf("the cipher's buffer is %d bytes, below the %d-byte packet read through it", own, largest)
				}
			})
		}
	}
}

// cipherBuffer returns the buffer an AEAD cipher reads packets into when
// it cannot decrypt them in place.
func cipherBuffer(c packetCipher) []byte {
	switch c := c.(type) {
	case *gcmCipher:
		return c.buf
	case *chacha20Poly1305Cipher:
		return c.buf
	}
	return nil
}

// TestReadPacketCutShort cuts a packet's stream short at several points:
// reading it fails as it did before packets were read in place, with
// io.EOF where the stream ends before a packet or right after its length,
// else with io.ErrUnexpectedEOF.
func TestReadPacketCutShort(t *testing.T) {
	for _, algo := range []string{CipherAES128GCM, CipherChaCha20Poly1305} {
		stream, newCipher := sealedStream(t, algo, 1, 1000)
		for _, cut := range []int{0, 2, 4, 500, len(stream) - 1} {
			want := io.ErrUnexpectedEOF
			if cut == 0 || cut == 4 {
				want = io.EOF
			}
			for _, bulk := range []bool{true, false} {
				var r io.Reader = bytes.NewReader(stream[:cut])
				if bulk {
					r = bufio.NewReaderSize(r, bulkReadSize)
				}
				if _, err := newCipher().readCipherPacket(0, r); err != want {
					t.Errorf("%s, cut at %d (bufio %v): %v, want %v", algo, cut, bulk, err, want)
				}
			}
		}
	}
}
