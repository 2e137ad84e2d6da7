// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"
	"golang.org/x/crypto/chacha20poly1305"
)

// genericContent is the content keystream as the generic code makes it:
// package chacha20 from block 1 on.
func genericContent(t testing.TB, key, nonce, buf []byte) {
	s, err := chacha20.NewUnauthenticatedCipher(key, nonce)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCounter(1)
	s.XORKeyStream(buf, buf)
}

// aeadContent runs xorContentAEAD on a copy of data with the spare
// capacity it needs, and checks that it wrote nothing beyond it.
func aeadContent(t testing.TB, key, nonce, data []byte) []byte {
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		t.Fatal(err)
	}
	const guard = 8
	buf := make([]byte, len(data)+chacha20poly1305.Overhead+guard)
	for i := range buf[len(data)+chacha20poly1305.Overhead:] {
		buf[len(data)+chacha20poly1305.Overhead+i] = 0xa5
	}
	copy(buf, data)
	xorContentAEAD(aead, nonce, buf[:len(data):len(data)+chacha20poly1305.Overhead])
	if !bytes.Equal(buf[len(data)+chacha20poly1305.Overhead:], bytes.Repeat([]byte{0xa5}, guard)) {
		t.Fatalf("xorContentAEAD wrote beyond its spare capacity")
	}
	return buf[:len(data)]
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestChaChaContentRFC8439 checks both keystreams against RFC 8439's
// ChaCha20 encryption vector (section 2.4.2: initial counter 1, as the
// SSH construction's content).
func TestChaChaContentRFC8439(t *testing.T) {
	key := unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	nonce := unhex("000000000000004a00000000")
	plain := []byte("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.")
	want := unhex(`6e 2e 35 9a 25 68 f9 80 41 ba 07 28 dd 0d 69 81
		e9 7e 7a ec 1d 43 60 c2 0a 27 af cc fd 9f ae 0b
		f9 1b 65 c5 52 47 33 ab 8f 59 3d ab cd 62 b3 57
		16 39 d6 24 e6 51 52 ab 8f 53 0c 35 9f 08 61 d8
		07 ca 0d bf 50 0d 6a 61 56 a3 8e 08 8a 22 b6 5e
		52 bc 51 4d 16 cc f8 06 81 8c e9 1a b7 79 37 36
		5a f9 0b bf 74 a3 5b e6 b4 0b 8e ed f2 78 5e 42
		87 4d`)
	if got := aeadContent(t, key, nonce, plain); !bytes.Equal(got, want) {
		t.Errorf("AEAD keystream:\n got %x\nwant %x", got, want)
	}
	got := bytes.Clone(plain)
	genericContent(t, key, nonce, got)
	if !bytes.Equal(got, want) {
		t.Errorf("generic keystream:\n got %x\nwant %x", got, want)
	}
}

// sshNonce is the nonce the SSH construction uses for a sequence number.
func sshNonce(seq uint32) []byte {
	nonce := make([]byte, 12)
	binary.BigEndian.PutUint32(nonce[8:], seq)
	return nonce
}

// FuzzChaChaContent compares the AEAD keystream with the generic one for
// any key, sequence number and packet, and decrypts what it encrypted.
func FuzzChaChaContent(f *testing.F) {
	f.Add(make([]byte, 32), uint32(0), []byte("x"))
	f.Add(bytes.Repeat([]byte{0xff}, 32), uint32(0xffffffff), make([]byte, 35000))
	f.Add(unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"), uint32(7), bytes.Repeat([]byte("0123456789abcdef"), 300))
	f.Fuzz(func(t *testing.T, key []byte, seq uint32, data []byte) {
		if len(key) != 32 {
			return
		}
		nonce := sshNonce(seq)
		want := bytes.Clone(data)
		genericContent(t, key, nonce, want)
		got := aeadContent(t, key, nonce, data)
		if !bytes.Equal(got, want) {
			t.Fatalf("AEAD and generic keystreams differ for %d bytes at sequence %d", len(data), seq)
		}
		if back := aeadContent(t, key, nonce, got); !bytes.Equal(back, data) {
			t.Fatalf("decrypting gave back other bytes")
		}
	})
}

// TestChaChaCipherPaths runs packets through the cipher with the AEAD
// keystream on one side and the generic one on the other, both ways.
func TestChaChaCipherPaths(t *testing.T) {
	key := make([]byte, 64)
	for i := range key {
		key[i] = byte(i * 7)
	}
	newCipher := func(aead bool) *chacha20Poly1305Cipher {
		c, err := newChaCha20Cipher(key, nil, nil, DirectionAlgorithms{})
		if err != nil {
			t.Fatal(err)
		}
		cc := c.(*chacha20Poly1305Cipher)
		if aead {
			a, err := chacha20poly1305.New(cc.contentKey[:])
			if err != nil {
				t.Fatal(err)
			}
			cc.content = a
		} else {
			cc.content = nil
		}
		return cc
	}
	for _, tt := range []struct {
		name           string
		writer, reader bool
	}{
		{"AEAD to generic", true, false},
		{"generic to AEAD", false, true},
		{"AEAD to AEAD", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, r := newCipher(tt.writer), newCipher(tt.reader)
			for seq, size := range []int{1, 15, 16, 17, 255, 4096, 32768 + 100} {
				payload := bytes.Repeat([]byte{byte(seq + 1)}, size)
				var wire bytes.Buffer
				if err := w.writeCipherPacket(uint32(seq), &wire, zeroReader{}, payload); err != nil {
					t.Fatal(err)
				}
				got, err := r.readCipherPacket(uint32(seq), &wire)
				if err != nil {
					t.Fatalf("packet of %d bytes: %v", size, err)
				}
				if !bytes.Equal(got, payload) {
					t.Fatalf("packet of %d bytes came back changed", size)
				}
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// BenchmarkChaChaContent measures the content keystream of a full
// channel data packet both ways.
func BenchmarkChaChaContent(b *testing.B) {
	key := make([]byte, 32)
	nonce := sshNonce(1)
	buf := make([]byte, 32768+chacha20poly1305.Overhead)
	data := buf[:32768]
	b.Run("generic", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			genericContent(b, key, nonce, data)
		}
	})
	b.Run("AEAD", func(b *testing.B) {
		aead, err := chacha20poly1305.New(key)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			xorContentAEAD(aead, nonce, data)
		}
	})
}
